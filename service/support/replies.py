"""Replies to a comment as the council's Page/account, sent by staff from the item or 相談 page.

A reply goes through the same durable action stream as delete/hide (service.actions): the request, its
record and its audit entry are one MULTI/EXEC, and the action worker calls Meta. Each request has a record
in `{shakyo}:replies:<item>` (request id → JSON):

    queued ──worker takes it──▶ sending ──Meta confirmed──▶ sent (Meta's reply id kept)
                                    └────Meta refused / unsure──▶ failed ──もう一度送る──▶ queued

A reply is not idempotent on Meta's side, so a record is never sent twice:
- a stream entry whose record is sent or failed is acknowledged without calling Meta (a redelivery);
- `attempted_at` is written before the first POST, so any later try (a worker that died mid-call, or staff
  sending a failed one again) reads the comment's replies back before posting (webhooks.graph);
- the worker holding a record has a lease (`lease_until`); another worker that claims the entry meanwhile
  leaves it alone until the lease ends;
- the form carries its own request id, so a double click or a resubmitted form makes one record.
Nothing here sends a reply by itself: every record starts from a person's click.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from dataclasses import asdict, dataclass, replace
from typing import Literal

import redis

from service import keys
from service.audit import AuditEntry, AuditLog
from service.moderation import ACTIONS_STREAM, ActionRequest, ModState, mod_key
from service.store import REMOVED_ON_PLATFORM, Comment
from service.support.desk import SupportDesk, SupportItem
from webhooks.graph import ActionResult

QUEUED, SENDING, SENT, FAILED = "queued", "sending", "sent", "failed"
STATUS_JA: dict[str, str] = {QUEUED: "送信待ち", SENDING: "送信中", SENT: "送信済み", FAILED: "送信失敗"}
AUDIT_JA: dict[str, str] = {
    "reply_requested": "返信を依頼",
    "reply_sent": "返信（Meta確認済み）",
    "reply_failed": "返信に失敗",
}
MAX_LENGTH = 2000  # our limit, well inside what Meta accepts for a comment
# A worker holds a record this long at most: longer than one Graph call with all its retries and read-backs.
LEASE_SECONDS = 300.0
# Left in a template where a setting is missing (service.support.templates); such a text is not sent.
UNFILLED = re.compile(r"【(?:電話番号|受付時間|窓口名)】")
_REQUEST_ID = re.compile(r"[0-9a-f]{32}")

Begin = Literal["send", "ack", "busy"]


class ReplyError(Exception):
    """A refused reply; the message is shown to staff as it is."""

    def __init__(self, message_ja: str) -> None:
        super().__init__(message_ja)
        self.message_ja = message_ja


@dataclass(frozen=True, slots=True)
class ReplyRecord:
    request_id: str
    item_id: str
    message: str
    actor: str
    role: str
    requested_at: float
    status: str = QUEUED
    attempted_at: float | None = None  # first POST about to be sent: any later try reads back first
    lease_until: float = 0.0
    meta_reply_id: str = ""
    failure: str = ""
    done_at: float | None = None
    finish_support: bool = False  # on success, mark the 相談 item 対応済み（返信した）

    @property
    def status_ja(self) -> str:
        return STATUS_JA.get(self.status, self.status)

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_json(cls, raw: str) -> ReplyRecord:
        data = json.loads(raw)
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})


def new_request_id() -> str:
    """The id a reply form carries, so that sending it twice makes one reply."""
    return uuid.uuid4().hex


class Replies:
    """Reply records and their requests. Give it a client made with decode_responses=True."""

    def __init__(self, r: redis.Redis) -> None:
        self._r = r
        self.audit = AuditLog(r)
        self.desk = SupportDesk(r)

    # -- reads ------------------------------------------------------------------------------------

    def list(self, item_id: str) -> list[ReplyRecord]:
        records = [ReplyRecord.from_json(raw) for raw in self._r.hvals(keys.replies(item_id))]
        return sorted(records, key=lambda rec: rec.requested_at)

    def get(self, item_id: str, request_id: str) -> ReplyRecord | None:
        raw = self._r.hget(keys.replies(item_id), request_id)
        return ReplyRecord.from_json(raw) if raw else None

    def sent_ids(self, item_id: str, *, besides: str = "") -> frozenset[str]:
        """Meta ids of this comment's replies already confirmed, so a read-back never takes one for another."""
        return frozenset(
            rec.meta_reply_id for rec in self.list(item_id) if rec.meta_reply_id and rec.request_id != besides
        )

    # -- staff requests ---------------------------------------------------------------------------

    def request(
        self,
        item_id: str,
        message: str,
        *,
        actor: str,
        role: str,
        request_id: str = "",
        finish_support: bool = False,
        now: float | None = None,
    ) -> ReplyRecord:
        """Queue a reply a person wrote (or edited from a template). Raises ReplyError (Japanese)."""
        # Browsers send a textarea's line breaks as CRLF; keep one form so a read-back compares like with like.
        message = message.replace("\r\n", "\n").replace("\r", "\n").strip()
        if not message:
            raise ReplyError("返信の文面を入力してください。")
        if len(message) > MAX_LENGTH:
            raise ReplyError(f"返信は{MAX_LENGTH}文字までです（いま{len(message)}文字）。")
        if UNFILLED.search(message):
            raise ReplyError("【】の部分（窓口の電話番号・受付時間など）を書き換えてから送信してください。")
        request_id = request_id if _REQUEST_ID.fullmatch(request_id) else new_request_id()
        at = time.time() if now is None else now
        rkey, ckey, mkey = keys.replies(item_id), keys.comment(item_id), mod_key(item_id)

        def run(pipe: redis.client.Pipeline) -> ReplyRecord:
            existing = pipe.hget(rkey, request_id)
            if existing:
                return ReplyRecord.from_json(existing)  # the same form sent again: one reply
            raw = pipe.hgetall(ckey)
            if not raw:
                raise ReplyError("指定されたコメントが見つかりません。")
            comment = Comment.from_hash(raw)
            _check_can_reply(comment, ModState.from_hash(pipe.hgetall(mkey)))
            if any(ReplyRecord.from_json(v).status in (QUEUED, SENDING) for v in pipe.hvals(rkey)):
                raise ReplyError(
                    "このコメントへの前の返信がまだ送信中です。Metaの応答を待ってから、画面を更新してください。"
                )
            record = ReplyRecord(request_id, item_id, message, actor, role, at, finish_support=finish_support)
            pipe.multi()
            pipe.hset(rkey, request_id, record.to_json())
            pipe.xadd(ACTIONS_STREAM, _action(record, at).to_fields())
            self._audit(pipe, record, comment.status, "reply_requested", at, note=message)
            return record

        # WATCH the record, the comment and its mod state; redis-py re-runs `run` when one changes.
        return self._r.transaction(run, rkey, ckey, mkey, value_from_callable=True)

    def retry(
        self, item_id: str, request_id: str, *, actor: str, role: str, now: float | None = None
    ) -> ReplyRecord:
        """Send a failed reply again (same text, same record: the worker reads back before posting)."""
        at = time.time() if now is None else now
        rkey, ckey, mkey = keys.replies(item_id), keys.comment(item_id), mod_key(item_id)

        def run(pipe: redis.client.Pipeline) -> ReplyRecord:
            raw = pipe.hget(rkey, request_id)
            if not raw:
                raise ReplyError("指定された返信が見つかりません。")
            record = ReplyRecord.from_json(raw)
            if record.status != FAILED:
                raise ReplyError(f"この返信は「{record.status_ja}」です。画面を更新してください。")
            raw_comment = pipe.hgetall(ckey)
            if not raw_comment:
                raise ReplyError("指定されたコメントが見つかりません。")
            comment = Comment.from_hash(raw_comment)
            _check_can_reply(comment, ModState.from_hash(pipe.hgetall(mkey)))
            again = replace(record, status=QUEUED, failure="", done_at=None, lease_until=0.0)
            pipe.multi()
            pipe.hset(rkey, request_id, again.to_json())
            pipe.xadd(ACTIONS_STREAM, _action(replace(again, actor=actor, role=role), at).to_fields())
            self._audit(
                pipe,
                replace(again, actor=actor, role=role),
                comment.status,
                "reply_requested",
                at,
                note="もう一度送信",
            )
            return again

        return self._r.transaction(run, rkey, ckey, mkey, value_from_callable=True)

    # -- the action worker ------------------------------------------------------------------------

    def begin(self, request: ActionRequest, *, now: float | None = None) -> tuple[Begin, ReplyRecord | None]:
        """Take a record for sending: ("send", the record as it was before), "ack" for one already finished
        (a redelivered entry), or "busy" while another worker's lease runs (leave the entry pending)."""
        at = time.time() if now is None else now
        rkey = keys.replies(request.item_id)

        def run(pipe: redis.client.Pipeline) -> tuple[Begin, ReplyRecord | None]:
            raw = pipe.hget(rkey, request.request_id)
            record = ReplyRecord.from_json(raw) if raw else None
            if record is None or record.status in (SENT, FAILED):
                return "ack", record
            if record.status == SENDING and record.lease_until > at:
                return "busy", record
            taken = replace(
                record,
                status=SENDING,
                attempted_at=record.attempted_at if record.attempted_at is not None else at,
                lease_until=at + LEASE_SECONDS,
            )
            pipe.multi()
            pipe.hset(rkey, request.request_id, taken.to_json())
            return "send", record

        return self._r.transaction(run, rkey, value_from_callable=True)

    def complete(
        self,
        request: ActionRequest,
        result: ActionResult,
        *,
        ack: tuple[str, str, str] | None = None,
        now: float | None = None,
    ) -> ReplyRecord | None:
        """Record Meta's answer with its audit entry and the XACK in one transaction; a sent reply is the
        相談 item's first response, and closes it as 返信した when staff asked for that."""
        at = time.time() if now is None else now
        item = request.item_id
        rkey, ckey, skey = keys.replies(item), keys.comment(item), keys.support_item(item)

        def run(pipe: redis.client.Pipeline) -> ReplyRecord | None:
            raw = pipe.hget(rkey, request.request_id)
            record = ReplyRecord.from_json(raw) if raw else None
            raw_comment = pipe.hgetall(ckey)
            raw_support = pipe.hgetall(skey)
            pipe.multi()
            if ack is not None:
                pipe.xack(*ack)
            if record is None or record.status != SENDING:
                return record  # finished by another worker meanwhile: nothing more to record
            status = Comment.from_hash(raw_comment).status if raw_comment else ""
            done = replace(
                record,
                status=SENT if result.ok else FAILED,
                meta_reply_id=result.reply_id if result.ok else "",
                failure="" if result.ok else result.message_ja,
                done_at=at,
                lease_until=0.0,
            )
            pipe.hset(rkey, request.request_id, done.to_json())
            detail = {
                "request_id": record.request_id,
                "outcome": result.outcome,
                "code": result.code,
                "attempts": result.attempts,
                "reply_id": result.reply_id,
            }
            self._audit(
                pipe,
                record,
                status,
                "reply_sent" if result.ok else "reply_failed",
                at,
                note=result.message_ja,
                detail=detail,
            )
            if result.ok and raw_support:
                self.desk.replied(
                    SupportItem.from_hash(raw_support),
                    actor=record.actor,
                    role=record.role,
                    at=at,
                    finish=record.finish_support,
                    pipe=pipe,
                )
            return done

        # WATCH the record and the 相談 item (read before MULTI, written inside it).
        return self._r.transaction(run, rkey, ckey, skey, value_from_callable=True)

    def _audit(
        self,
        pipe: redis.client.Pipeline,
        record: ReplyRecord,
        status: str,
        action: str,
        at: float,
        *,
        note: str = "",
        detail: dict[str, object] | None = None,
    ) -> None:
        self.audit.append(
            AuditEntry(
                at=at,
                actor=record.actor,
                role=record.role,
                action=action,
                item_id=record.item_id,
                from_status=status,  # a reply leaves the queue status as it is
                to_status=status,
                note=note,
                detail=json.dumps(detail or {"request_id": record.request_id}),
            ),
            pipe=pipe,
        )


def _action(record: ReplyRecord, at: float) -> ActionRequest:
    return ActionRequest(record.request_id, record.item_id, "reply", record.actor, record.role, at)


def _check_can_reply(comment: Comment, mod: ModState) -> None:
    if comment.status == REMOVED_ON_PLATFORM or comment.removed_on_platform or mod.meta_deleted:
        raise ReplyError("このコメントは削除されているため、返信できません。")
    # Meta's IG Comment Replies reference: "You cannot reply to hidden comments."
    if comment.platform == "instagram" and (
        comment.hidden_on_platform or mod.meta_hidden or mod.inflight == "hide"
    ):
        raise ReplyError(
            "Instagramでは非表示のコメントに返信できません。返信するには、先に非表示を解除してください。"
        )
