"""The moderation status machine: the only place staff decisions change an item's status.

    pending ──削除/非表示──▶ processing ──Meta ok──▶ deleted | hidden
       │                        └──Meta refused──▶ action_failed (reason kept; staff may try again)
       ├──問題なし──▶ dismissed       (an auto-hidden item is un-hidden on Meta first, via processing)
       └──課長へ相談──▶ escalated ──課長が承認(削除/非表示/問題なし)──▶ processing | dismissed
    any open item ──Meta says it is gone──▶ removed_on_platform
    review (要確認, only the model suspects it) takes the same decisions as pending; it is never auto-hidden
    (auto_hide_due acts on pending items only, and the after-flag steps run for flagged ones only)

Every transition is one MULTI/EXEC with its audit entry, and a decision that needs Meta writes its
request to the durable action stream (service.actions) in that same transaction, so a click is either
fully recorded and queued or not at all. Nothing here calls Meta: the action worker does, and reports
back through `complete()`.

Per item, `{shakyo}:mod:<item>` (a hash) keeps what Meta has confirmed and what is in flight:
`inflight` (action), `inflight_request` (request id), `inflight_target` (status on success),
`inflight_by`, `meta_deleted`, `meta_hidden`, `auto_hidden`, `failure`, `failed_action`, and
`decided_role` / `decided_edits`: the role of the 課長 or 管理者 who last decided the item and the
comment's edit count then. A 職員 cannot change what a 課長/管理者 decided (policy 4(1)) until the
author edits the comment into a new text, which needs a new look.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import redis

from classifiers.categories import Severity
from service import keys
from service.audit import AuditEntry, AuditLog
from service.evidence.records import FROZEN_AT as EVIDENCE_AT
from service.evidence.records import freeze as freeze_evidence
from service.hours import DEFAULT_HOURS, JST, OperatingHours, now_jst, should_auto_hide
from service.incidents import FlareDetector
from service.settings import Settings
from service.store import PENDING, REMOVED_ON_PLATFORM, REVIEW, Comment, Store
from webhooks.graph import ActionResult

log = logging.getLogger(__name__)

Decision = Literal["delete", "hide", "dismiss", "escalate", "unhide"]
DECISIONS: tuple[str, ...] = ("delete", "hide", "dismiss", "escalate", "unhide")
MetaAction = Literal["delete", "hide", "unhide"]

ACTIONS_STREAM = "{shakyo}:actions"
# Waiting for Meta after a staff decision; one of store.QUEUE_STATUSES so the queue can count and list it.
PROCESSING = "processing"

STATUS_JA: dict[str, str] = {
    "clear": "問題なし（自動判定）",
    PENDING: "未対応",
    PROCESSING: "処理中",
    "escalated": "課長へ相談中",
    "deleted": "削除済み",
    "hidden": "非表示済み",
    "dismissed": "問題なし",
    REMOVED_ON_PLATFORM: "投稿元で削除済み",
    "action_failed": "処理失敗",
    REVIEW: "要確認",
}
DECISION_JA: dict[str, str] = {
    "delete": "削除",
    "hide": "非表示",
    "dismiss": "問題なし",
    "escalate": "課長へ相談",
    "unhide": "非表示を解除",
}
AUDIT_ACTION_JA: dict[str, str] = {
    "delete_requested": "削除を依頼",
    "hide_requested": "非表示を依頼",
    "unhide_requested": "非表示の解除を依頼",
    "deleted": "削除（Meta確認済み）",
    "hidden": "非表示（確認済み）",
    "unhidden": "非表示を解除（Meta確認済み）",
    "dismissed": "問題なし",
    "escalated": "課長へ相談",
    "approved": "課長が判断",
    "action_failed": "Metaへの処理に失敗",
    "removed_on_platform": "投稿元で削除済み",
    "auto_hide_requested": "自動非表示を依頼",
    "auto_hidden": "自動非表示（Meta確認済み）",
    "auto_hide_failed": "自動非表示に失敗",
    "account_created": "アカウント作成",
    "account_password_changed": "パスワード変更",  # nosec B105  # an audit label
    "account_password_reset": "パスワード再発行",  # nosec B105  # an audit label
    "account_role_changed": "権限変更",
    "account_disabled": "アカウント無効化",
    "account_enabled": "アカウント有効化",
    "emergency_on": "緊急モード開始",
    "emergency_off": "緊急モード終了",
    "flare_started": "炎上の可能性を検知",
    "flare_acknowledged": "炎上対応を完了",
    "evidence_exported": "証拠記録を出力",  # service.evidence.export
    "block_requested": "ページからのブロックを依頼",  # service.authors.block
    "blocked": "ページからブロック（Meta確認済み）",
    "block_failed": "ページからのブロックに失敗",
}
INFLIGHT_JA: dict[str, str] = {"delete": "削除処理中", "hide": "非表示処理中", "unhide": "非表示解除の処理中"}

# Who may take which decision from which status. Escalated items wait for a 課長 (policy 4(1)).
# 要確認 items take the same decisions as pending ones; unhide too, for a pending item that was auto-hidden
# and then edited into a text only the model suspects.
_STAFF_FROM: dict[str, frozenset[str]] = {
    "delete": frozenset({PENDING, REVIEW, "action_failed", "hidden"}),
    "hide": frozenset({PENDING, REVIEW, "action_failed"}),
    "dismiss": frozenset({PENDING, REVIEW, "action_failed"}),
    "escalate": frozenset({PENDING, REVIEW, "action_failed"}),
    "unhide": frozenset({PENDING, REVIEW}),
}
_CHIEF_ALSO_FROM: dict[str, frozenset[str]] = {
    "delete": frozenset({"escalated"}),
    "hide": frozenset({"escalated"}),
    "dismiss": frozenset({"escalated"}),
}
_CHIEF_ROLES = frozenset({"chief", "admin"})
_MAX_NOTE = 1000


def mod_key(item_id: str) -> str:
    return f"{keys.TAG}mod:{item_id}"


def author_key(platform: str, author: str) -> str:
    """Flagged comments of one author, by received time (for the item page's 「この投稿者の過去の指摘」)."""
    return f"{keys.TAG}author:{platform}:{author}"


def operating_hours(settings: Settings) -> OperatingHours:
    return OperatingHours(start=settings.hours_start, end=settings.hours_end)


def flare_detector(r: redis.Redis, settings: Settings) -> FlareDetector:
    return FlareDetector(
        r,
        settings.flare_threshold,
        settings.flare_window_minutes * 60,
        webhook_url=settings.secret("flare_webhook_url"),
    )


class ModerationError(Exception):
    """A refused decision; the message is shown to staff as it is."""

    def __init__(self, message_ja: str) -> None:
        super().__init__(message_ja)
        self.message_ja = message_ja


@dataclass(frozen=True, slots=True)
class ModState:
    """What Meta has confirmed for an item and what is waiting for Meta."""

    inflight: str = ""
    inflight_request: str = ""
    inflight_target: str = ""
    inflight_by: str = ""
    meta_deleted: bool = False
    meta_hidden: bool = False
    auto_hidden: bool = False
    failure: str = ""
    failed_action: str = ""
    decided_role: str = ""
    decided_edits: int = 0

    @classmethod
    def from_hash(cls, raw: dict[str, str]) -> ModState:
        return cls(
            inflight=raw.get("inflight", ""),
            inflight_request=raw.get("inflight_request", ""),
            inflight_target=raw.get("inflight_target", ""),
            inflight_by=raw.get("inflight_by", ""),
            meta_deleted=raw.get("meta_deleted") == "1",
            meta_hidden=raw.get("meta_hidden") == "1",
            auto_hidden=raw.get("auto_hidden") == "1",
            failure=raw.get("failure", ""),
            failed_action=raw.get("failed_action", ""),
            decided_role=raw.get("decided_role", ""),
            decided_edits=int(raw.get("decided_edits") or 0),
        )

    @property
    def inflight_ja(self) -> str:
        return INFLIGHT_JA.get(self.inflight, "")


@dataclass(frozen=True, slots=True)
class ActionRequest:
    """One entry of the action stream."""

    request_id: str
    item_id: str
    action: str  # delete | hide | unhide
    actor: str
    role: str
    requested_at: float

    def to_fields(self) -> dict[str, str]:
        return {
            "request_id": self.request_id,
            "item_id": self.item_id,
            "action": self.action,
            "actor": self.actor,
            "role": self.role,
            "requested_at": repr(self.requested_at),
        }

    @classmethod
    def from_fields(cls, fields: dict[str, str]) -> ActionRequest:
        return cls(
            request_id=fields["request_id"],
            item_id=fields["item_id"],
            action=fields["action"],
            actor=fields.get("actor", ""),
            role=fields.get("role", ""),
            requested_at=float(fields.get("requested_at") or 0),
        )


@dataclass(frozen=True, slots=True)
class DecisionOutcome:
    item_id: str
    from_status: str
    to_status: str
    queued: str = ""  # the Meta action queued, if any
    message_ja: str = ""


class Moderation:
    """Staff decisions, automatic hiding, and the outcomes of Meta calls. Give it decode_responses=True."""

    def __init__(self, r: redis.Redis) -> None:
        self._r = r
        self.store = Store(r)
        self.audit = AuditLog(r)

    def state(self, item_id: str) -> ModState:
        return ModState.from_hash(self._r.hgetall(mod_key(item_id)))

    def states(self, item_ids: list[str]) -> dict[str, ModState]:
        pipe = self._r.pipeline(transaction=False)
        for item in item_ids:
            pipe.hgetall(mod_key(item))
        return {i: ModState.from_hash(raw) for i, raw in zip(item_ids, pipe.execute(), strict=True)}

    # -- staff decisions ------------------------------------------------------------------------------

    def decide(
        self,
        item_id: str,
        decision: str,
        *,
        actor: str,
        role: str,
        note: str = "",
        now: float | None = None,
    ) -> DecisionOutcome:
        """Apply a staff decision. Raises ModerationError (Japanese) when it is not allowed now."""
        if decision not in DECISIONS:
            raise ModerationError(f"「{decision}」という操作はありません。")
        note = note.strip()[:_MAX_NOTE]
        at = time.time() if now is None else now
        ckey, mkey = keys.comment(item_id), mod_key(item_id)

        def run(pipe: redis.client.Pipeline) -> DecisionOutcome:
            raw = pipe.hgetall(ckey)
            if not raw:
                raise ModerationError("指定されたコメントが見つかりません。")
            comment = Comment.from_hash(raw)
            mod = ModState.from_hash(pipe.hgetall(mkey))
            plan = self._plan(comment, mod, decision, role)
            pipe.multi()
            return self._write(pipe, comment, plan, actor=actor, role=role, note=note, at=at)

        # WATCH both keys; redis-py re-runs `run` when either changes before EXEC.
        return self._r.transaction(run, ckey, mkey, value_from_callable=True)

    def available(self, comment: Comment, mod: ModState, role: str) -> list[str]:
        """The decisions `role` may take on the item as it stands, in DECISIONS order: the UI offers only these
        (the same rules decide() applies, so a button never answers 「できません」)."""
        out = []
        for decision in DECISIONS:
            try:
                self._plan(comment, mod, decision, role)
            except ModerationError:
                continue
            out.append(decision)
        return out

    def _plan(self, comment: Comment, mod: ModState, decision: str, role: str) -> _Plan:
        status = comment.status
        if mod.inflight:
            raise ModerationError(
                f"このコメントは現在「{mod.inflight_ja}」です。Metaの応答を待ってから、画面を更新してください。"
            )
        if status == REMOVED_ON_PLATFORM or mod.meta_deleted:
            raise ModerationError("このコメントは投稿元ですでに削除されています。")
        if (
            mod.decided_role in _CHIEF_ROLES
            and role not in _CHIEF_ROLES
            and mod.decided_edits == comment.edits
        ):
            raise ModerationError(
                "課長または管理者が判断したコメントは、課長または管理者だけが変更できます。"
            )
        allowed = _STAFF_FROM[decision] | (
            _CHIEF_ALSO_FROM.get(decision, frozenset()) if role in _CHIEF_ROLES else frozenset()
        )
        if status not in allowed:
            if status == "escalated" and decision in _CHIEF_ALSO_FROM:
                raise ModerationError("課長へ相談中のコメントは、課長または管理者が判断します。")
            raise ModerationError(
                f"「{STATUS_JA.get(status, status)}」のコメントに「{DECISION_JA[decision]}」はできません。"
            )
        approval = status == "escalated"
        if decision == "escalate":
            return _Plan(decision, "escalated", "", approval)
        if decision == "dismiss":
            # An auto-hidden comment judged acceptable must be shown again on Meta before it counts as dismissed.
            if mod.meta_hidden:
                return _Plan(decision, PROCESSING, "unhide", approval, target="dismissed")
            return _Plan(decision, "dismissed", "", approval)
        if decision == "unhide":
            if not mod.meta_hidden:
                raise ModerationError("このコメントは非表示になっていません。")
            return _Plan(decision, PROCESSING, "unhide", approval, target=status)
        if decision == "hide" and mod.meta_hidden:
            # Already hidden by us (automatically): the staff decision needs no second call to Meta.
            return _Plan(decision, "hidden", "", approval)
        return _Plan(
            decision, PROCESSING, decision, approval, target="deleted" if decision == "delete" else "hidden"
        )

    def _write(
        self,
        pipe: redis.client.Pipeline,
        comment: Comment,
        plan: _Plan,
        *,
        actor: str,
        role: str,
        note: str,
        at: float,
    ) -> DecisionOutcome:
        item = comment.item_id
        detail: dict[str, str] = {"decision": plan.decision}
        if plan.meta_action:
            request = ActionRequest(uuid.uuid4().hex, item, plan.meta_action, actor, role, at)
            pipe.hset(
                mod_key(item),
                mapping={
                    "inflight": plan.meta_action,
                    "inflight_request": request.request_id,
                    "inflight_target": plan.target,
                    "inflight_by": actor,
                    "failure": "",
                    "failed_action": "",
                },
            )
            pipe.xadd(ACTIONS_STREAM, request.to_fields())
            detail["request_id"] = request.request_id
        elif comment.status == "action_failed":
            pipe.hset(mod_key(item), mapping={"failure": "", "failed_action": ""})
        if role in _CHIEF_ROLES:
            pipe.hset(mod_key(item), mapping={"decided_role": role, "decided_edits": str(comment.edits)})
        if plan.to_status != comment.status:
            self.store.set_status(item, plan.to_status, pipe=pipe)
        if plan.approval:
            action = "approved"
        elif plan.meta_action:
            action = f"{plan.meta_action}_requested"
        else:
            action = {"dismiss": "dismissed", "escalate": "escalated", "hide": "hidden"}[plan.decision]
        entry = AuditEntry(
            at=at,
            actor=actor,
            role=role,
            action=action,
            item_id=item,
            from_status=comment.status,
            to_status=plan.to_status,
            note=note,
            detail=json.dumps(detail),
        )
        self.audit.append(entry, pipe=pipe)
        if plan.decision in EVIDENCE_AT:
            # Frozen with the decision itself, so what was removed can be shown later (service.evidence).
            freeze_evidence(pipe, self._r, comment, self.store.history(item), entry)
        message = (
            f"「{DECISION_JA[plan.decision]}」を受け付けました。Metaの応答を待っています。"
            if plan.meta_action
            else f"「{DECISION_JA[plan.decision]}」にしました。"
        )
        return DecisionOutcome(item, comment.status, plan.to_status, plan.meta_action, message)

    # -- automatic hiding (policy 3(1)ウ) ------------------------------------------------------------

    def auto_hide_due(
        self,
        item_ids: Sequence[str],
        *,
        emergency: bool,
        hours: OperatingHours = DEFAULT_HOURS,
        min_severity: Severity = Severity.HIGH,
        at: datetime | None = None,
        only_if_pending: bool = False,
    ) -> list[str]:
        """Queue a reversible hide for each pending item of high severity when nobody will look soon.

        The items stay pending (staff still decide) and are marked 自動非表示 once Meta confirms. Returns
        the items a hide was queued for. Each item's after-flag marker (keys.AFTER_FLAG_PENDING) is removed
        in the same transaction, hide or not; `only_if_pending` leaves alone an item whose marker is gone (a
        worker finishing what a dead one left must not hide what was already settled).

        One transaction for the whole batch, three round trips: WATCH every item's keys, read them all in
        one pipeline on another connection (after the WATCH, so a change in between still aborts the EXEC),
        then MULTI … EXEC; a WatchError re-reads and decides again.
        """
        when = now_jst(at)
        unique = list(dict.fromkeys(item_ids))
        if not unique:
            return []
        watched = [k for item in unique for k in (keys.comment(item), mod_key(item))]
        if only_if_pending:
            watched.append(keys.AFTER_FLAG_PENDING)
        with self._r.pipeline(transaction=True) as pipe:
            while True:
                try:
                    pipe.watch(*watched)
                    reads = self._r.pipeline(transaction=False)
                    for item in unique:
                        reads.hgetall(keys.comment(item))
                        reads.hgetall(mod_key(item))
                        reads.zscore(keys.AFTER_FLAG_PENDING, item)
                    replies = reads.execute()
                    pipe.multi()
                    queued: list[str] = []
                    for n, item in enumerate(unique):
                        raw, mod, marker = replies[3 * n : 3 * n + 3]
                        if only_if_pending and marker is None:
                            continue
                        pipe.zrem(keys.AFTER_FLAG_PENDING, item)
                        if raw and self._hide_is_due(
                            Comment.from_hash(raw),
                            ModState.from_hash(mod),
                            when,
                            emergency,
                            hours,
                            min_severity,
                        ):
                            self._queue_auto_hide(pipe, item, when, emergency)
                            queued.append(item)
                    pipe.execute()
                    return queued
                except redis.WatchError:
                    continue

    @staticmethod
    def _hide_is_due(
        comment: Comment,
        mod: ModState,
        when: datetime,
        emergency: bool,
        hours: OperatingHours,
        min_severity: Severity,
    ) -> bool:
        return (
            comment.status == PENDING
            and not mod.inflight
            and not mod.meta_hidden
            and not comment.hidden_on_platform
            and should_auto_hide(
                comment.severity_level,
                when,
                emergency,
                hours=hours,
                min_severity=min_severity,
                needs_support=comment.needs_support,
            )
        )

    def _queue_auto_hide(
        self, pipe: redis.client.Pipeline, item_id: str, when: datetime, emergency: bool
    ) -> None:
        """The hide request and its audit entry, queued on the caller's MULTI."""
        request = ActionRequest(uuid.uuid4().hex, item_id, "hide", "system", "system", when.timestamp())
        pipe.hset(
            mod_key(item_id),
            mapping={
                "inflight": "hide",
                "inflight_request": request.request_id,
                "inflight_target": "",  # the status does not change: staff still decide
                "inflight_by": "system",
            },
        )
        pipe.xadd(ACTIONS_STREAM, request.to_fields())
        self.audit.append(
            AuditEntry(
                at=when.timestamp(),
                actor="system",
                role="system",
                action="auto_hide_requested",
                item_id=item_id,
                from_status=PENDING,
                to_status=PENDING,
                note="緊急モード中のため自動で非表示にします。"
                if emergency
                else "運用時間外のため自動で非表示にします。",
                detail=json.dumps({"request_id": request.request_id}),
            ),
            pipe=pipe,
        )

    def after_flagged_many(
        self,
        item_ids: Sequence[str],
        *,
        flares: FlareDetector,
        emergency: bool,
        hours: OperatingHours = DEFAULT_HOURS,
        min_severity: Severity = Severity.HIGH,
        at: datetime | None = None,
        recovering: bool = False,
    ) -> None:
        """What follows flagged comments being stored: author index, flare-up count, automatic hiding.

        Store.apply_events marks each item pending (keys.AFTER_FLAG_PENDING) in the transaction that stores
        it, and the last step removes the mark in its own transaction, so a worker that dies in between
        leaves the mark for another to finish (`recovering=True`). The first two steps are idempotent (a
        sorted-set add; the flare count keys on the comment id), so running them twice changes nothing;
        the hide is queued at most once. A batch of a worker's comments costs a few round trips in all,
        not a few per comment.
        """
        if recovering:
            markers = self._r.pipeline(transaction=False)
            for item in item_ids:
                markers.zscore(keys.AFTER_FLAG_PENDING, item)
            # Those without a marker were finished meanwhile by the worker that stored them.
            item_ids = [i for i, score in zip(item_ids, markers.execute(), strict=True) if score is not None]
        if not item_ids:
            return
        reads = self._r.pipeline(transaction=False)
        for item in item_ids:
            reads.hgetall(keys.comment(item))
        found = [Comment.from_hash(raw) if raw else None for raw in reads.execute()]
        flagged = [c for c in found if c is not None and c.flagged]
        settled = [i for i, c in zip(item_ids, found, strict=True) if c is None or not c.flagged]
        indexes = self._r.pipeline(transaction=False)
        if settled:
            indexes.zrem(keys.AFTER_FLAG_PENDING, *settled)
        for comment in flagged:
            self.index_author(comment, pipe=indexes)
        indexes.execute()
        flares.record_many(
            [
                (c.platform, c.post_id, c.comment_id, datetime.fromtimestamp(c.received_at, JST))
                for c in flagged
                if c.post_id
            ]
        )
        self.auto_hide_due(
            [c.item_id for c in flagged],
            emergency=emergency,
            hours=hours,
            min_severity=min_severity,
            at=at,
            only_if_pending=recovering,
        )

    def training_decisions(self) -> list[dict[str, object]]:
        """Staff decisions as training rows: deleted/hidden → the item's categories, dismissed → clean."""
        rows: list[dict[str, object]] = []
        for status in ("deleted", "hidden", "dismissed"):
            for c in self.store.list_queue(status, limit=1_000_000):
                labels = [] if status == "dismissed" else [k for k in c.categories if k != "impersonation"]
                if c.text.strip() and (labels or status == "dismissed"):
                    rows.append({"text": c.text, "labels": labels})
        return rows

    def index_author(self, comment: Comment, *, pipe: redis.client.Pipeline | None = None) -> None:
        """Remember a flagged comment under its author, for the item page (on `pipe` when given)."""
        if comment.flagged and comment.author_id:
            (pipe if pipe is not None else self._r).zadd(
                author_key(comment.platform, comment.author_id), {comment.item_id: comment.received_at}
            )

    def author_history(self, comment: Comment, *, limit: int = 20) -> list[Comment]:
        """The author's other flagged comments, newest first."""
        if not comment.author_id:
            return []
        ids = self._r.zrevrange(author_key(comment.platform, comment.author_id), 0, limit)
        others = [i for i in ids if i != comment.item_id][:limit]
        return [c for c in (self.store.get(i) for i in others) if c is not None]

    def still_on_platform(self, item_id: str, reason_ja: str, *, now: float | None = None) -> bool:
        """Reconciliation found a comment staff deleted (or hid) still showing on Meta: action_failed, with
        the reason for staff and an audit entry, in one transaction. False when the item moved on meanwhile."""
        at = time.time() if now is None else now
        ckey, mkey = keys.comment(item_id), mod_key(item_id)

        def run(pipe: redis.client.Pipeline) -> bool:
            raw = pipe.hgetall(ckey)
            if not raw or Comment.from_hash(raw).status not in ("deleted", "hidden"):
                return False
            comment = Comment.from_hash(raw)
            failed_action = "delete" if comment.status == "deleted" else "hide"
            pipe.multi()
            # Meta shows it, so what we had recorded as confirmed no longer holds: staff may act again.
            pipe.hset(
                mkey,
                mapping={
                    "failure": reason_ja,
                    "failed_action": failed_action,
                    "meta_deleted": "0",
                    "meta_hidden": "0",
                },
            )
            self.store.set_status(item_id, "action_failed", pipe=pipe)
            self.audit.append(
                AuditEntry(
                    at=at,
                    actor="system",
                    role="system",
                    action="action_failed",
                    item_id=item_id,
                    from_status=comment.status,
                    to_status="action_failed",
                    note=reason_ja,
                    detail=json.dumps({"source": "sync"}),
                ),
                pipe=pipe,
            )
            return True

        return self._r.transaction(run, ckey, mkey, value_from_callable=True)

    # -- outcomes of Meta calls (called by the action worker) -----------------------------------------

    def is_current(self, request: ActionRequest) -> bool:
        """False for a request that was already completed (a redelivered stream entry)."""
        return self._r.hget(mod_key(request.item_id), "inflight_request") == request.request_id

    def complete(
        self,
        request: ActionRequest,
        result: ActionResult,
        *,
        ack: tuple[str, str, str] | None = None,
        now: float | None = None,
    ) -> str:
        """Record Meta's answer for a request: status, confirmed state, audit; returns the new status.

        `ack` = (stream, group, entry id) is acknowledged in the same transaction, so an entry is never
        acknowledged without its outcome being recorded (nor recorded twice: a request no longer in flight
        is left alone).
        """
        at = time.time() if now is None else now
        item = request.item_id
        ckey, mkey = keys.comment(item), mod_key(item)

        def run(pipe: redis.client.Pipeline) -> str:
            raw_mod = pipe.hgetall(mkey)
            raw = pipe.hgetall(ckey)
            pipe.multi()
            if ack is not None:
                pipe.xack(*ack)
            if raw_mod.get("inflight_request") != request.request_id or not raw:
                return Comment.from_hash(raw).status if raw else ""
            comment = Comment.from_hash(raw)
            return self._record(pipe, comment, ModState.from_hash(raw_mod), request, result, at)

        # WATCH both keys; redis-py re-runs `run` when either changes before EXEC.
        return self._r.transaction(run, ckey, mkey, value_from_callable=True)

    def _record(
        self,
        pipe: redis.client.Pipeline,
        comment: Comment,
        mod: ModState,
        request: ActionRequest,
        result: ActionResult,
        at: float,
    ) -> str:
        item, action = comment.item_id, request.action
        automatic = request.actor == "system"
        fields: dict[str, str] = {
            "inflight": "",
            "inflight_request": "",
            "inflight_target": "",
            "inflight_by": "",
        }
        detail = {
            "request_id": request.request_id,
            "outcome": result.outcome,
            "code": result.code,
            "attempts": result.attempts,
        }
        target = mod.inflight_target
        if result.outcome == "already_gone":
            fields["meta_deleted"] = "1"
            new_status = REMOVED_ON_PLATFORM
            audit_action = "removed_on_platform"
        elif result.ok:
            if action == "delete":
                fields["meta_deleted"] = "1"
            else:
                fields["meta_hidden"] = "1" if action == "hide" else "0"
                fields["auto_hidden"] = "1" if (action == "hide" and automatic) else "0"
            new_status = target or comment.status
            audit_action = (
                "auto_hidden"
                if automatic
                else {"delete": "deleted", "hide": "hidden", "unhide": "unhidden"}[action]
            )
        else:
            fields["failure"] = result.message_ja
            fields["failed_action"] = action
            # An automatic hide that failed leaves the item pending: staff review it as usual.
            new_status = comment.status if automatic else "action_failed"
            audit_action = "auto_hide_failed" if automatic else "action_failed"
        pipe.hset(mod_key(item), mapping=fields)
        if action != "delete" and result.ok and result.outcome == "done":
            pipe.hset(keys.comment(item), "hidden_on_platform", "1" if action == "hide" else "0")
        if new_status != comment.status:
            self.store.set_status(item, new_status, pipe=pipe)
        self.audit.append(
            AuditEntry(
                at=at,
                actor=request.actor if not automatic else "system",
                role=request.role,
                action=audit_action,
                item_id=item,
                from_status=comment.status,
                to_status=new_status,
                note=result.message_ja,
                detail=json.dumps(detail),
            ),
            pipe=pipe,
        )
        return new_status


@dataclass(frozen=True, slots=True)
class _Plan:
    decision: str
    to_status: str
    meta_action: str  # "" when Meta need not be called
    approval: bool  # a 課長 deciding an escalated item
    target: str = ""  # status once Meta confirms
