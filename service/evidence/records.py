"""Evidence records (証拠記録), append-only like the audit log.

At every staff delete, hide or escalate (service.moderation, in the decision's own MULTI/EXEC) a record is
frozen: every version of the text with its verdict, the author's id and name, the post id and link, the
created and received times, the bodies the comment arrived in (the signed webhook body, or the Graph API node
for `source: sync`, kept by service.ingest) each with its SHA-256, the verdict, and the audit trail up to and
including this decision. The record is canonical JSON; its SHA-256 is stored beside it so a copy handed to
the police or Meta can be checked later. Records are never edited: a later decision adds another.

| key | type | contents |
| --- | --- | --- |
| `{shakyo}:evidence:<item>` | stream | `at`, `json` (the record), `sha256` (of `json`) |
| `{shakyo}:evidence:items` | zset | item -> time of its latest record (retention reads it) |
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass
from typing import Any

import redis

from service import keys
from service.audit import AuditEntry, AuditLog
from service.store import Comment, jst_iso

ITEMS_KEY = keys.TAG + "evidence:items"
POSTS_KEY = keys.TAG + "sync:posts"  # "<platform>:<post id>" -> permalink, written by service.reconcile
FROZEN_AT = frozenset({"delete", "hide", "escalate"})


def evidence_key(item: str) -> str:
    return f"{keys.TAG}evidence:{item}"


@dataclass(frozen=True, slots=True)
class EvidenceRecord:
    entry_id: str
    at: float
    json: str  # canonical JSON of the record
    sha256: str  # of `json`, as UTF-8

    @property
    def data(self) -> dict[str, Any]:
        loaded: dict[str, Any] = json.loads(self.json)
        return loaded


def post_link(r: redis.Redis, comment: Comment) -> str:
    """The post's permalink when the reconciliation job has read it, else the address Meta serves it at."""
    if not comment.post_id:
        return ""
    known = r.hget(POSTS_KEY, f"{comment.platform}:{comment.post_id}")
    if known:
        return str(known)
    if comment.platform == "facebook":
        return f"https://www.facebook.com/{comment.post_id}"
    return ""  # an Instagram media id does not make a link by itself


def build(
    r: redis.Redis, comment: Comment, history: list[dict[str, Any]], decision: AuditEntry
) -> dict[str, Any]:
    """The record's content (reads only; the caller writes it in its transaction)."""
    versions = [
        {
            "text": h.get("text", ""),
            "kind": h.get("kind"),
            "event_time": jst_iso(h.get("event_time")),
            "verdict": h.get("verdict"),
        }
        for h in history
        if "text" in h
    ]
    versions.append(
        {
            "text": comment.text,
            "kind": "current",
            "event_time": jst_iso(comment.event_time),
            "verdict": comment.verdict,
        }
    )
    bodies = []
    for ref in r.lrange(keys.raw_refs(comment.item_id), 0, -1):
        sha, source, received = str(ref).split(" ", 2)
        raw = r.get(keys.raw_body(sha))
        if raw is None:
            continue
        body = raw if isinstance(raw, str) else raw.decode("utf-8", "replace")
        bodies.append(
            {"source": source, "received_at": jst_iso(float(received)), "sha256": sha, "body": body}
        )
    trail = [asdict(e) for e in AuditLog(r).entries(item_id=comment.item_id)]
    trail.append(asdict(decision))
    for entry in trail:
        entry.pop("entry_id", None)
        entry["at"] = jst_iso(entry["at"])
    return {
        "item_id": comment.item_id,
        "platform": comment.platform,
        "comment_id": comment.comment_id,
        "author_id": comment.author_id,
        "author_name": comment.author_name,
        "post_id": comment.post_id,
        "post_link": post_link(r, comment),
        "parent_id": comment.parent_id,
        "created_time": jst_iso(comment.created_time),
        "received_at": jst_iso(comment.received_at),
        "source": comment.source,
        "versions": versions,
        "verdict": comment.verdict,
        "received_bodies": bodies,
        "audit_trail": trail,
        "frozen_at": jst_iso(decision.at),
        "frozen_by": decision.actor,
    }


def freeze(
    pipe: redis.client.Pipeline,
    r: redis.Redis,
    comment: Comment,
    history: list[dict[str, Any]],
    decision: AuditEntry,
) -> None:
    """Append a record to the caller's MULTI/EXEC (`pipe`), read through `r`."""
    record = build(r, comment, history, decision)
    text = json.dumps(record, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    pipe.xadd(evidence_key(comment.item_id), {"at": repr(decision.at), "json": text, "sha256": digest})
    pipe.zadd(ITEMS_KEY, {comment.item_id: decision.at})


def records(r: redis.Redis, item: str) -> list[EvidenceRecord]:
    return [
        EvidenceRecord(entry_id, float(fields["at"]), fields["json"], fields["sha256"])
        for entry_id, fields in r.xrange(evidence_key(item))
    ]


def purge(r: redis.Redis, *, now: float | None = None, retention_days: int) -> int:
    """Drop the records of items whose latest record is older than `retention_days` (default 5 years)."""
    cutoff = (time.time() if now is None else now) - retention_days * 86400
    old = r.zrangebyscore(ITEMS_KEY, "-inf", f"({cutoff!r}")
    if old:
        pipe = r.pipeline(transaction=True)
        for item in old:
            pipe.delete(evidence_key(item))
        pipe.zrem(ITEMS_KEY, *old)
        pipe.execute()
    return len(old)
