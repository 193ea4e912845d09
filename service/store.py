"""Comments, their history and the moderation queue, in Redis (key layout: service.keys).

A comment is one hash per item ("<platform>:<comment_id>"). Staff statuses each have a sorted set
ordered by severity (worst first) then age (oldest first); a comment that was never flagged has
status "clear" and sits in no queue, unless the model alone suspects it (要確認, status "review": a queue of
its own, never flagged, never auto-hidden). Every write of a webhook event is one MULTI/EXEC that also
records the stream id as applied and acknowledges it, so a redelivered or re-claimed stream entry
is never applied twice.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import redis

from classifiers.categories import Severity
from classifiers.verdict import Verdict
from service import keys
from webhooks.events import CommentEvent

JST = ZoneInfo("Asia/Tokyo")

CLEAR = "clear"  # not flagged: stored for reports, in no queue
PENDING = "pending"
# 要確認: not flagged, but the model alone suspects a category short of the confidence that flags. It has a
# queue of its own (a low-priority staff view); it never enters pending, the flagged index or auto-hiding.
REVIEW = "review"
REMOVED_ON_PLATFORM = "removed_on_platform"
# Statuses a flagged item can have; each has a queue sorted set. The staff UI moves items between them.
QUEUE_STATUSES: tuple[str, ...] = (
    PENDING,
    "escalated",
    "processing",  # a staff decision waiting for Meta (service.moderation)
    "deleted",
    "hidden",
    "dismissed",
    REMOVED_ON_PLATFORM,
    "action_failed",
    REVIEW,
)
STATUSES: tuple[str, ...] = (CLEAR, *QUEUE_STATUSES)
# Statuses re-classification may change: staff have not acted on these (or judged an older text).
_OPEN_STATUSES = frozenset({CLEAR, PENDING, REVIEW, "dismissed"})
# An author deleting the comment settles these; acted-on statuses keep their staff decision.
_SETTLED_BY_REMOVAL = frozenset({PENDING, REVIEW, "escalated"})
_AGE_SPAN = 1e10  # > any epoch seconds we will see, so severity dominates the queue score


def queue_score(severity: Severity, received_at: float) -> float:
    """Ascending order = worst severity first, then oldest first."""
    return (int(Severity.HIGH) - int(severity)) * _AGE_SPAN + received_at


def jst_datetime(epoch: float | None) -> datetime | None:
    """The JST time of `epoch`; None when there is none or it lies beyond what datetime holds.

    Times come from Meta's payloads, and a record stored before they were bounded at parse time may hold
    year 300000: a listing must still print every other item, so formatters never raise.
    """
    if epoch is None:
        return None
    try:
        return datetime.fromtimestamp(epoch, JST)
    except (OverflowError, OSError, ValueError):
        return None


def jst_iso(epoch: float | None) -> str | None:
    when = jst_datetime(epoch)
    return None if when is None else when.isoformat(timespec="seconds")


@dataclass(slots=True)
class Comment:
    """One comment as stored. Times are epoch seconds."""

    platform: str
    comment_id: str
    account_id: str
    text: str = ""
    post_id: str | None = None
    parent_id: str | None = None  # set for replies
    author_id: str | None = None
    author_name: str | None = None
    verdict: dict[str, Any] | None = None  # Verdict.to_dict(); None when not classified (own, stubs)
    flagged: bool = False
    categories: list[str] = field(default_factory=list)
    severity: str = Severity.NONE.label
    action: str = "none"
    status: str = CLEAR
    received_at: float = 0.0  # when our webhook first received this comment
    created_time: float | None = None  # the platform's creation time, when given
    updated_at: float = 0.0
    event_time: float = 0.0  # Meta's entry time of the change that set the current text
    is_own: bool = False
    hidden_on_platform: bool = False
    removed_on_platform: bool = False
    field: str = "feed"
    media_type: str | None = None
    attachment_url: str | None = None
    edits: int = 0
    source: str = "webhook"  # how we first learnt of it: webhook, or sync (the reconciliation job found it)

    @property
    def item_id(self) -> str:
        return keys.item_id(self.platform, self.comment_id)

    @property
    def severity_level(self) -> Severity:
        return Severity.parse(self.severity)

    @property
    def needs_support(self) -> bool:
        """相談が必要 by the current text's verdict (never hidden automatically; see service.support)."""
        return bool(self.verdict and self.verdict.get("needs_support"))

    @property
    def needs_review(self) -> bool:
        """要確認 by the current text's verdict: only the model suspects it, below the flagging confidence."""
        return bool(self.verdict and not self.flagged and self.verdict.get("review_categories"))

    @property
    def review_categories(self) -> list[str]:
        """The categories the model suspected (empty unless `needs_review`)."""
        return list(self.verdict.get("review_categories", [])) if self.needs_review and self.verdict else []

    def verdict_obj(self) -> Verdict | None:
        return Verdict.from_dict(self.verdict) if self.verdict is not None else None

    def to_hash(self) -> dict[str, str]:
        out: dict[str, str] = {}
        # Field by field rather than asdict(): asdict deep-copies the verdict (scores, matches) only for
        # json.dumps to read it, and that copy was a third of the worker's time per comment.
        for name, value in ((f.name, getattr(self, f.name)) for f in fields(self)):
            if value is None:
                out[name] = ""
            elif isinstance(value, bool):
                out[name] = "1" if value else "0"
            elif isinstance(value, dict | list):
                out[name] = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
            else:
                out[name] = str(value)
        return out

    @classmethod
    def from_hash(cls, raw: dict[str, str]) -> Comment:
        def opt(name: str) -> str | None:
            return raw.get(name) or None

        def flag(name: str) -> bool:
            return raw.get(name) == "1"

        created = opt("created_time")
        verdict = opt("verdict")
        return cls(
            platform=raw["platform"],
            comment_id=raw["comment_id"],
            account_id=raw.get("account_id", ""),
            text=raw.get("text", ""),
            post_id=opt("post_id"),
            parent_id=opt("parent_id"),
            author_id=opt("author_id"),
            author_name=opt("author_name"),
            verdict=json.loads(verdict) if verdict else None,
            flagged=flag("flagged"),
            categories=json.loads(raw.get("categories") or "[]"),
            severity=raw.get("severity") or Severity.NONE.label,
            action=raw.get("action") or "none",
            status=raw.get("status") or CLEAR,
            received_at=float(raw.get("received_at") or 0),
            created_time=float(created) if created else None,
            updated_at=float(raw.get("updated_at") or 0),
            event_time=float(raw.get("event_time") or 0),
            is_own=flag("is_own"),
            hidden_on_platform=flag("hidden_on_platform"),
            removed_on_platform=flag("removed_on_platform"),
            field=raw.get("field") or "feed",
            media_type=opt("media_type"),
            attachment_url=opt("attachment_url"),
            edits=int(raw.get("edits") or 0),
            source=raw.get("source") or "webhook",
        )

    def to_public(self) -> dict[str, Any]:
        """The JSON shape for CLIs and exports: times as ISO 8601 JST."""
        return {
            "item_id": self.item_id,
            "platform": self.platform,
            "comment_id": self.comment_id,
            "post_id": self.post_id,
            "parent_id": self.parent_id,
            "author": self.author_name,
            "author_id": self.author_id,
            "text": self.text,
            "status": self.status,
            "flagged": self.flagged,
            "categories": self.categories,
            "needs_review": self.needs_review,
            "review_categories": self.review_categories,
            "severity": self.severity,
            "action": self.action,
            "received_at": jst_iso(self.received_at),
            "created_time": jst_iso(self.created_time),
            "updated_at": jst_iso(self.updated_at),
            "is_own": self.is_own,
            "hidden_on_platform": self.hidden_on_platform,
            "removed_on_platform": self.removed_on_platform,
            "media_type": self.media_type,
            "edits": self.edits,
            "source": self.source,
        }


@dataclass(frozen=True, slots=True)
class ApplyOutcome:
    item_id: str
    duplicate: bool  # the stream entry had been applied already: nothing written but the ACK
    created: bool = False
    flagged: bool = False
    status: str = CLEAR


class Store:
    """Reads and writes comments. Give it a client made with decode_responses=True."""

    def __init__(self, r: redis.Redis) -> None:
        self._r = r

    # --- reads -------------------------------------------------------------------------------

    def get(self, item_id: str) -> Comment | None:
        raw = self._r.hgetall(keys.comment(item_id))
        return Comment.from_hash(raw) if raw else None

    def history(self, item_id: str) -> list[dict[str, Any]]:
        """Earlier texts (with their verdicts) and platform hide/unhide/remove events, oldest first."""
        return [json.loads(h) for h in self._r.lrange(keys.history(item_id), 0, -1)]

    def list_queue(self, status: str = PENDING, *, limit: int = 50, offset: int = 0) -> list[Comment]:
        """Items with a staff status, worst severity first, then oldest first."""
        if status not in QUEUE_STATUSES:
            raise ValueError(f"unknown queue status: {status}")
        ids = self._r.zrange(keys.queue(status), offset, offset + limit - 1)
        return self._get_many(ids)

    def count_by_status(self) -> dict[str, int]:
        pipe = self._r.pipeline(transaction=False)
        for status in QUEUE_STATUSES:
            pipe.zcard(keys.queue(status))
        return dict(zip(QUEUE_STATUSES, pipe.execute(), strict=True))

    def count_comments(self) -> int:
        return int(self._r.zcard(keys.COMMENTS_BY_RECEIVED))

    def iter_comments(
        self, since: float | None = None, until: float | None = None, *, flagged_only: bool = False
    ) -> Iterator[Comment]:
        """Comments by received time, since inclusive, until exclusive (epoch seconds)."""
        index = keys.COMMENTS_FLAGGED if flagged_only else keys.COMMENTS_BY_RECEIVED
        low = "-inf" if since is None else repr(since)
        high = "+inf" if until is None else f"({until!r}"
        offset = 0
        while True:
            ids = self._r.zrangebyscore(index, low, high, start=offset, num=500)
            if not ids:
                return
            yield from self._get_many(ids)
            offset += len(ids)

    def _get_many(self, ids: list[str]) -> list[Comment]:
        pipe = self._r.pipeline(transaction=False)
        for item in ids:
            pipe.hgetall(keys.comment(item))
        return [Comment.from_hash(raw) for raw in pipe.execute() if raw]

    # --- writes ------------------------------------------------------------------------------

    def set_status(self, item_id: str, status: str, *, pipe: redis.client.Pipeline | None = None) -> None:
        """Move an item to another status (hash field and queue sets). Pass a pipeline to make it part of
        the caller's MULTI/EXEC (e.g. with its audit entry); the item must exist."""
        if status not in STATUSES:
            raise ValueError(f"unknown status: {status}")
        comment = self.get(item_id)
        if comment is None:
            raise KeyError(item_id)
        target = pipe if pipe is not None else self._r.pipeline(transaction=True)
        comment.status = status
        comment.updated_at = time.time()
        target.hset(keys.comment(item_id), mapping={"status": status, "updated_at": repr(comment.updated_at)})
        _place_in_queue(target, comment)
        if pipe is None:
            target.execute()

    def apply_event(
        self,
        stream_id: str,
        event: CommentEvent,
        *,
        received_at: float,
        verdict: Verdict | None,
        group: str = keys.EVENTS_GROUP,
    ) -> ApplyOutcome:
        """Apply one stream entry (its verdict computed beforehand) and XACK it, all in one transaction.

        Optimistic locking (WATCH) on the comment and its applied-set makes concurrent workers on the
        same comment safe: the loser re-reads and retries.
        """
        item = keys.item_id(event.platform, event.comment_id)
        comment_key, applied_key = keys.comment(item), keys.applied(item)
        with self._r.pipeline(transaction=True) as pipe:
            while True:
                try:
                    pipe.watch(comment_key, applied_key)
                    if pipe.sismember(applied_key, stream_id):
                        pipe.multi()
                        pipe.xack(keys.EVENTS, group, stream_id)
                        pipe.execute()
                        return ApplyOutcome(item, duplicate=True)
                    raw = pipe.hgetall(comment_key)
                    old = Comment.from_hash(raw) if raw else None
                    new, history = _merge(old, event, received_at, verdict, time.time())
                    pipe.multi()
                    _write_applied(pipe, stream_id, new, history, created=old is None)
                    pipe.xack(keys.EVENTS, group, stream_id)
                    pipe.execute()
                    return ApplyOutcome(item, False, old is None, new.flagged, new.status)
                except redis.WatchError:
                    continue

    def apply_events(
        self,
        entries: Sequence[tuple[str, CommentEvent, float, Verdict | None]],
        *,
        group: str = keys.EVENTS_GROUP,
    ) -> list[ApplyOutcome]:
        """Apply a batch of (stream id, event, received_at, verdict) in one transaction, with the same
        effects as `apply_event` on each in order (entries for one comment are merged in turn).

        Three round trips whatever the batch size: WATCH every comment and applied-set of the batch, read
        them all in one pipeline on another connection (read after the WATCH, so a change by another
        worker in between still aborts the EXEC), then MULTI … EXEC with every write and XACK. A WatchError
        (another worker wrote one of these comments meanwhile) re-reads and retries the whole batch.
        """
        items = [keys.item_id(event.platform, event.comment_id) for _, event, _, _ in entries]
        unique = list(dict.fromkeys(items))
        watched = [k for item in unique for k in (keys.comment(item), keys.applied(item))]
        with self._r.pipeline(transaction=True) as pipe:
            while True:
                try:
                    pipe.watch(*watched)
                    reads = self._r.pipeline(transaction=False)
                    for item in unique:
                        reads.hgetall(keys.comment(item))
                    for item, (stream_id, *_rest) in zip(items, entries, strict=True):
                        reads.sismember(keys.applied(item), stream_id)
                    replies = reads.execute()
                    # The hash as it will stand after each write so far: HSET only adds and replaces fields.
                    hashes: dict[str, dict[str, str]] = dict(zip(unique, replies[: len(unique)], strict=True))
                    applied = replies[len(unique) :]
                    outcomes: list[ApplyOutcome] = []
                    pipe.multi()
                    for item, (stream_id, event, received_at, verdict), done in zip(
                        items, entries, applied, strict=True
                    ):
                        if done:
                            outcomes.append(ApplyOutcome(item, duplicate=True))
                            continue
                        old = Comment.from_hash(hashes[item]) if hashes[item] else None
                        new, history = _merge(old, event, received_at, verdict, time.time())
                        hashes[item] = {
                            **hashes[item],
                            **_write_applied(pipe, stream_id, new, history, created=old is None),
                        }
                        outcomes.append(ApplyOutcome(item, False, old is None, new.flagged, new.status))
                    pipe.xack(keys.EVENTS, group, *(stream_id for stream_id, *_rest in entries))
                    pipe.execute()
                    return outcomes
                except redis.WatchError:
                    continue


def _write_applied(
    pipe: redis.client.Pipeline, stream_id: str, new: Comment, history: list[dict[str, Any]], *, created: bool
) -> dict[str, str]:
    """The writes of one applied stream entry, queued on a transaction: the record, its history, the
    indexes and queue, the applied id (the caller adds the XACK). Returns the record's fields as written."""
    item = new.item_id
    written = new.to_hash()
    pipe.hset(keys.comment(item), mapping=written)
    for entry in history:
        pipe.rpush(keys.history(item), json.dumps(entry, ensure_ascii=False))
    pipe.sadd(keys.applied(item), stream_id)
    pipe.zadd(keys.COMMENTS_BY_RECEIVED, {item: new.received_at})
    if new.flagged:
        pipe.zadd(keys.COMMENTS_FLAGGED, {item: new.received_at}, nx=True)
        # The after-flag steps run after this transaction; until they are done the marker
        # lets another worker finish them if this one dies in between.
        pipe.zadd(keys.AFTER_FLAG_PENDING, {item: time.time()})
    _place_in_queue(pipe, new, created=created)
    return written


def _place_in_queue(pipe: redis.client.Pipeline, comment: Comment, *, created: bool = False) -> None:
    """Keep the item in exactly the queue set of its status (none for "clear"). A comment `created` in
    this transaction is in no queue set yet: nothing to remove it from (most of a worker's writes)."""
    # Every queue change passes here inside its transaction, so the open staff pages hear of it (service.live).
    pipe.publish(keys.LIVE, comment.item_id)
    if not created:
        for status in QUEUE_STATUSES:
            if status != comment.status:
                pipe.zrem(keys.queue(status), comment.item_id)
    if comment.status in QUEUE_STATUSES:
        score = queue_score(comment.severity_level, comment.received_at)
        pipe.zadd(keys.queue(comment.status), {comment.item_id: score})


def _merge(
    old: Comment | None, event: CommentEvent, received_at: float, verdict: Verdict | None, now: float
) -> tuple[Comment, list[dict[str, Any]]]:
    """The record after `event`, and the history entries it adds. Pure: no I/O."""
    event_time = event.entry_time or received_at
    if old is None:
        new = Comment(
            platform=event.platform,
            comment_id=event.comment_id,
            account_id=event.account_id,
            received_at=received_at,
            source=event.source,
        )
    else:
        new = replace(old, categories=list(old.categories))
    # Fill in what earlier (possibly partial) events did not carry.
    new.post_id = new.post_id or event.post_id
    new.parent_id = new.parent_id or event.parent_id
    new.author_id = new.author_id or event.author_id
    new.author_name = new.author_name or event.author_name
    new.created_time = new.created_time or event.created_time
    new.media_type = new.media_type or event.media_type
    new.attachment_url = new.attachment_url or event.attachment_url
    new.field = event.field
    new.is_own = new.is_own or event.is_own
    new.updated_at = now
    history: list[dict[str, Any]] = []
    text_changed = False

    if event.verb in ("add", "edited"):
        has_text = old is not None and (old.text or old.verdict is not None)
        if not has_text:
            _set_text(new, event.text, verdict, event_time)
            text_changed = True
        elif event.text == new.text:
            pass  # the same text again (e.g. an "add" arriving after its own "edited")
        elif event_time < new.event_time:
            # Delivered out of order: this text is older than the current one; keep it as history only.
            history.append(_text_entry("superseded", now, event.text, verdict, event_time))
        else:
            history.append(_text_entry("edited", now, new.text, new.verdict, new.event_time))
            _set_text(new, event.text, verdict, event_time)
            new.edits += 1
            text_changed = True
    elif event.verb == "remove":
        new.removed_on_platform = True
        history.append({"kind": "removed", "at": now, "event_time": event_time})
    else:  # hide | unhide
        new.hidden_on_platform = event.verb == "hide"
        history.append({"kind": "hidden" if new.hidden_on_platform else "unhidden", "at": now})

    new.status = _next_status(new, text_changed)
    return new, history


def _set_text(comment: Comment, text: str, verdict: Verdict | None, event_time: float) -> None:
    comment.text = text
    comment.event_time = event_time
    if comment.is_own or verdict is None:
        comment.verdict, comment.flagged, comment.categories = None, False, []
        comment.severity, comment.action = Severity.NONE.label, "none"
        return
    comment.verdict = verdict.to_dict()
    comment.flagged = verdict.flagged
    comment.categories = list(verdict.categories)
    comment.severity = verdict.severity.label
    comment.action = verdict.action


def _text_entry(
    kind: str, at: float, text: str, verdict: Verdict | dict[str, Any] | None, event_time: float
) -> dict[str, Any]:
    as_dict = verdict.to_dict() if isinstance(verdict, Verdict) else verdict
    return {"kind": kind, "at": at, "event_time": event_time, "text": text, "verdict": as_dict}


def _next_status(comment: Comment, text_changed: bool) -> str:
    if comment.removed_on_platform:
        if comment.status in _SETTLED_BY_REMOVAL or (comment.status == CLEAR and comment.flagged):
            return REMOVED_ON_PLATFORM
        return comment.status
    if comment.status not in _OPEN_STATUSES:
        return comment.status  # staff have acted (or escalated): a re-classification does not undo that
    if comment.status == "dismissed" and not (text_changed and comment.flagged):
        # Staff judged this text acceptable; only a new flagged text needs a new look (a new 要確認 text is
        # weaker evidence than their judgement).
        return "dismissed"
    if comment.flagged:
        return PENDING
    return REVIEW if comment.needs_review else CLEAR
