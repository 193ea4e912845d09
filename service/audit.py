"""The audit trail: an append-only Redis stream of every queue transition (who, when, what, note).

Nothing in the UI edits or deletes entries; the weekly report reads them back by time range.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass

import redis

from service import keys

AUDIT_KEY = "{shakyo}:audit"


@dataclass(frozen=True, slots=True)
class AuditEntry:
    at: float  # epoch seconds
    actor: str  # staff user name, or "system" for automatic steps (auto-hide, platform events)
    role: str  # staff | chief | admin | system
    action: str  # delete_requested, deleted, hidden, dismissed, escalated, approved, auto_hidden, …
    item_id: str  # "<platform>:<comment_id>", or "" for events not about one item (緊急モード, settings)
    from_status: str = ""
    to_status: str = ""
    note: str = ""
    detail: str = ""  # machine-readable extra (JSON text), e.g. the Graph API error code
    entry_id: str = ""  # the stream id, set when read back


class AuditLog:
    def __init__(self, r: redis.Redis) -> None:
        self._r = r

    def append(self, entry: AuditEntry, *, pipe: redis.client.Pipeline | None = None) -> None:
        """Append one entry; pass a pipeline to make it part of the caller's MULTI/EXEC transaction."""
        fields = {k: (json.dumps(v) if k == "at" else v) for k, v in asdict(entry).items() if k != "entry_id"}
        target = pipe if pipe is not None else self._r
        target.xadd(AUDIT_KEY, fields)
        if entry.item_id:
            # 相談 steps and decisions that leave the queue as it was still change what the pages show.
            target.publish(keys.LIVE, entry.item_id)

    def entries(
        self, *, since: float | None = None, until: float | None = None, item_id: str | None = None
    ) -> Iterator[AuditEntry]:
        """Entries in the order written, filtered on their own time `at` (since inclusive, until exclusive).

        Filtering on `at` rather than the stream id keeps imported or back-dated entries in the right week.
        """
        last, exclusive = "-", False
        while True:
            batch = self._r.xrange(AUDIT_KEY, f"({last}" if exclusive else last, "+", count=500)
            if not batch:
                return
            for entry_id, fields in batch:
                e = _decode(entry_id, fields)
                if (
                    (since is None or e.at >= since)
                    and (until is None or e.at < until)
                    and (item_id is None or e.item_id == item_id)
                ):
                    yield e
            last, exclusive = batch[-1][0], True

    def latest(self, count: int = 100) -> list[AuditEntry]:
        return [_decode(i, f) for i, f in self._r.xrevrange(AUDIT_KEY, count=count)]


def _decode(entry_id: str | bytes, fields: dict) -> AuditEntry:
    def s(v: str | bytes) -> str:
        return v.decode() if isinstance(v, bytes) else v

    data = {s(k): s(v) for k, v in fields.items()}
    return AuditEntry(
        at=float(json.loads(data.get("at", "0"))),
        actor=data.get("actor", ""),
        role=data.get("role", ""),
        action=data.get("action", ""),
        item_id=data.get("item_id", ""),
        from_status=data.get("from_status", ""),
        to_status=data.get("to_status", ""),
        note=data.get("note", ""),
        detail=data.get("detail", ""),
        entry_id=s(entry_id),
    )
