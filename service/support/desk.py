"""相談 items: comments whose writer, or someone they name, may need help now (Verdict.needs_support).

A 相談 item is not a moderation decision: it has its own status flow beside the queue status of the comment,

    未対応 (open) ──対応を始める──▶ 対応中 (in_progress, who) ──対応済みにする──▶ 対応済み (done)
       └───────────────────────────対応済みにする───────────────────────────────┘

and 対応済み records what was done (返信した / 電話した / 関係機関へつないだ / 該当なし) with a note. Every step is
one MULTI/EXEC with its audit entry. The first response (a start, a finish or a reply sent) is timed for the
weekly report. Keys: `{shakyo}:support:<item>` (hash), `{shakyo}:support:items` (every item by detection time)
and `{shakyo}:support:open` (the 未対応 ones, which the banner on every page counts).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass

import redis

from service import keys
from service.audit import AuditEntry, AuditLog
from service.store import Comment

OPEN, IN_PROGRESS, DONE = "open", "in_progress", "done"
STATUS_JA: dict[str, str] = {OPEN: "未対応", IN_PROGRESS: "対応中", DONE: "対応済み"}
OUTCOME_JA: dict[str, str] = {
    "replied": "返信した",
    "called": "電話した",
    "referred": "関係機関へつないだ",
    "not_needed": "該当なし",
}
# The audit trail's from/to columns for 相談 steps (prefixed so they never read as a queue status).
AUDIT_STATUS_JA: dict[str, str] = {f"support_{k}": f"相談：{v}" for k, v in STATUS_JA.items()}
AUDIT_JA: dict[str, str] = {
    "support_detected": "相談が必要なコメントを検知",
    "support_notified": "相談の通知を送信",
    "support_notify_failed": "相談の通知に失敗",
    "support_started": "相談の対応を開始",
    "support_done": "相談を対応済みに",
}
_MAX_NOTE = 1000
# A status change: checks the item, audits in the pipeline, returns the fields to write (or raises SupportError).
_Change = Callable[["SupportItem", redis.client.Pipeline], dict[str, str]]


class SupportError(Exception):
    def __init__(self, message_ja: str) -> None:
        super().__init__(message_ja)
        self.message_ja = message_ja


@dataclass(frozen=True, slots=True)
class SupportItem:
    item_id: str
    kind: str
    status: str
    detected_at: float
    assignee: str = ""
    started_at: float | None = None
    done_at: float | None = None
    done_by: str = ""
    outcome: str = ""
    note: str = ""
    first_response_at: float | None = None

    @property
    def status_ja(self) -> str:
        return STATUS_JA[self.status]

    @property
    def outcome_ja(self) -> str:
        return OUTCOME_JA.get(self.outcome, "")

    @classmethod
    def from_hash(cls, raw: dict[str, str]) -> SupportItem:
        def when(name: str) -> float | None:
            value = raw.get(name)
            return float(value) if value else None

        return cls(
            item_id=raw["item_id"],
            kind=raw.get("kind", ""),
            status=raw.get("status") or OPEN,
            detected_at=float(raw.get("detected_at") or 0),
            assignee=raw.get("assignee", ""),
            started_at=when("started_at"),
            done_at=when("done_at"),
            done_by=raw.get("done_by", ""),
            outcome=raw.get("outcome", ""),
            note=raw.get("note", ""),
            first_response_at=when("first_response_at"),
        )


class SupportDesk:
    """The 相談 items. Give it a client made with decode_responses=True."""

    def __init__(self, r: redis.Redis) -> None:
        self._r = r
        self.audit = AuditLog(r)

    # -- reads ------------------------------------------------------------------------------------

    def get(self, item_id: str) -> SupportItem | None:
        raw = self._r.hgetall(keys.support_item(item_id))
        return SupportItem.from_hash(raw) if raw else None

    def newest(self, *, limit: int = 50, offset: int = 0) -> list[SupportItem]:
        ids = self._r.zrevrange(keys.SUPPORT_ITEMS, offset, offset + limit - 1)
        return self._many(ids)

    def open_count(self) -> int:
        return int(self._r.zcard(keys.SUPPORT_OPEN))

    def between(self, since: float, until: float) -> list[SupportItem]:
        """Items detected in [since, until), oldest first (the weekly report)."""
        return self._many(self._r.zrangebyscore(keys.SUPPORT_ITEMS, since, f"({until}"))

    def _many(self, ids: list[str]) -> list[SupportItem]:
        pipe = self._r.pipeline(transaction=False)
        for item in ids:
            pipe.hgetall(keys.support_item(item))
        return [SupportItem.from_hash(raw) for raw in pipe.execute() if raw]

    # -- writes -----------------------------------------------------------------------------------

    def record(self, comment: Comment, *, now: float | None = None) -> SupportItem | None:
        """Open an item for a comment that needs support; None when it has one already (an edit or a
        redelivery: staff were told once, and an edited text keeps the status they gave it)."""
        verdict = comment.verdict or {}
        kind = str(verdict.get("support_kind") or "")
        if not kind:
            return None
        at = time.time() if now is None else now
        key = keys.support_item(comment.item_id)

        def run(pipe: redis.client.Pipeline) -> SupportItem | None:
            if pipe.exists(key):
                pipe.multi()
                pipe.hset(key, "kind", kind)  # the current text decides the kind shown
                return None
            item = SupportItem(comment.item_id, kind, OPEN, at)
            pipe.multi()
            pipe.hset(
                key, mapping={"item_id": item.item_id, "kind": kind, "status": OPEN, "detected_at": repr(at)}
            )
            pipe.zadd(keys.SUPPORT_ITEMS, {item.item_id: at})
            pipe.zadd(keys.SUPPORT_OPEN, {item.item_id: at})
            self._audit(pipe, at, "system", "system", "support_detected", item.item_id, "", OPEN, kind=kind)
            return item

        return self._r.transaction(run, key, value_from_callable=True)

    def start(self, item_id: str, *, actor: str, role: str, now: float | None = None) -> SupportItem:
        """未対応 → 対応中, with the staff member who took it."""
        at = time.time() if now is None else now

        def change(item: SupportItem, pipe: redis.client.Pipeline) -> dict[str, str]:
            if item.status != OPEN:
                who = f"（{item.assignee}）" if item.assignee else ""
                raise SupportError(f"この相談はすでに「{item.status_ja}」{who}です。画面を更新してください。")
            self._audit(pipe, at, actor, role, "support_started", item_id, OPEN, IN_PROGRESS)
            return {"status": IN_PROGRESS, "assignee": actor, "started_at": repr(at)}

        return self._change(item_id, at, change)

    def finish(
        self, item_id: str, outcome: str, *, actor: str, role: str, note: str = "", now: float | None = None
    ) -> SupportItem:
        """未対応 or 対応中 → 対応済み, recording what was done."""
        if outcome not in OUTCOME_JA:
            raise SupportError(
                "対応内容（返信した・電話した・関係機関へつないだ・該当なし）を選んでください。"
            )
        at = time.time() if now is None else now
        note = note.strip()[:_MAX_NOTE]

        def change(item: SupportItem, pipe: redis.client.Pipeline) -> dict[str, str]:
            if item.status == DONE:
                raise SupportError(f"この相談はすでに対応済みです（{item.done_by}）。")
            audit_note = OUTCOME_JA[outcome] + (f"：{note}" if note else "")
            self._audit(pipe, at, actor, role, "support_done", item_id, item.status, DONE, note=audit_note)
            fields = {"status": DONE, "done_at": repr(at), "done_by": actor, "outcome": outcome, "note": note}
            if not item.assignee:
                fields["assignee"] = actor
            return fields

        return self._change(item_id, at, change)

    def replied(
        self,
        item: SupportItem,
        *,
        actor: str,
        role: str,
        at: float,
        finish: bool,
        pipe: redis.client.Pipeline,
    ) -> None:
        """A reply to the comment reached Meta (inside the caller's MULTI; `item` read under its WATCH).

        It is the first response if nobody responded before; an 未対応 item becomes 対応中 by whoever sent it,
        and with `finish` (staff ticked it when sending) the item is 対応済み（返信した）.
        """
        fields: dict[str, str] = {}
        if item.first_response_at is None:
            fields["first_response_at"] = repr(at)
        if finish and item.status != DONE:
            note = OUTCOME_JA["replied"]
            self._audit(pipe, at, actor, role, "support_done", item.item_id, item.status, DONE, note=note)
            fields.update(
                {"status": DONE, "done_at": repr(at), "done_by": actor, "outcome": "replied", "note": ""}
            )
            if not item.assignee:
                fields["assignee"] = actor
        elif item.status == OPEN:
            self._audit(
                pipe, at, actor, role, "support_started", item.item_id, OPEN, IN_PROGRESS, note="返信を送信"
            )
            fields.update({"status": IN_PROGRESS, "assignee": actor, "started_at": repr(at)})
        if fields:
            pipe.hset(keys.support_item(item.item_id), mapping=fields)
        if item.status == OPEN:
            pipe.zrem(keys.SUPPORT_OPEN, item.item_id)

    def _change(self, item_id: str, at: float, change: _Change) -> SupportItem:
        key = keys.support_item(item_id)

        def run(pipe: redis.client.Pipeline) -> SupportItem:
            raw = pipe.hgetall(key)
            if not raw:
                raise SupportError("指定された相談が見つかりません。")
            item = SupportItem.from_hash(raw)
            pipe.multi()
            fields = change(item, pipe)
            if item.first_response_at is None:
                fields["first_response_at"] = repr(at)
            pipe.hset(key, mapping=fields)
            pipe.zrem(keys.SUPPORT_OPEN, item_id)
            return SupportItem.from_hash({**raw, **fields})

        return self._r.transaction(run, key, value_from_callable=True)

    def note_notification(self, item_id: str, delivered: list[str], failed: list[str]) -> None:
        """Audit which channels reached staff (Japanese channel names; never the comment text)."""
        at = time.time()
        pipe = self._r.pipeline(transaction=True)
        if delivered:
            self._audit(pipe, at, "system", "system", "support_notified", item_id, note="、".join(delivered))
        if failed:
            self._audit(
                pipe, at, "system", "system", "support_notify_failed", item_id, note="、".join(failed)
            )
        pipe.execute()

    def _audit(
        self,
        pipe: redis.client.Pipeline,
        at: float,
        actor: str,
        role: str,
        action: str,
        item_id: str,
        from_status: str = "",
        to_status: str = "",
        *,
        note: str = "",
        kind: str = "",
    ) -> None:
        self.audit.append(
            AuditEntry(
                at=at,
                actor=actor,
                role=role,
                action=action,
                item_id=item_id,
                from_status=f"support_{from_status}" if from_status else "",  # apart from queue statuses
                to_status=f"support_{to_status}" if to_status else "",
                note=note,
                detail=json.dumps({"kind": kind}) if kind else "",
            ),
            pipe=pipe,
        )
