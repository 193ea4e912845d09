"""The worker: reads the event stream through a consumer group, classifies, stores, queues.

Any number of workers (processes, on any machine) share the stream through the consumer
group `workers`. An entry a crashed worker left unacknowledged is claimed by another (XAUTOCLAIM,
Redis 6.2+) once it has been idle for `claim_idle_seconds`. Entries are read in batches (up to
`worker_batch` per XREADGROUP), all classified first and together (classifiers.moderate_many), then
Store.apply_events writes the comments and acknowledges the entries in one transaction and skips entries
already applied, so an entry that is processed twice (claimed after a slow worker finished it) still changes
nothing the second time. That transaction also marks a flagged comment's after-flag steps as pending; a
worker that dies before finishing them leaves the mark, and another finishes them once it is
`claim_idle_seconds` old (`finish_after_flagged`), so an out-of-hours comment is still auto-hidden, once.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any

import redis

import classifiers
from classifiers.categories import Severity
from classifiers.verdict import Verdict
from service import faults, keys, metrics
from service.hours import EmergencyMode
from service.moderation import Moderation, flare_detector, operating_hours
from service.settings import Settings
from service.store import ApplyOutcome, Store
from service.streams import Entries, GroupReader
from service.support.desk import SupportDesk
from service.support.notify import SupportNotifier
from webhooks.events import CommentEvent

log = logging.getLogger(__name__)

_HOUSEKEEPING_SECONDS = 600.0
_CONSUMER_FORGET_MS = 24 * 3600 * 1000  # consumers idle this long with nothing pending are removed
_RETRY_AFTER_REDIS_ERROR = 1.0


def ensure_group(r: redis.Redis) -> None:
    """Create the stream and its consumer group (from the beginning) if missing."""
    try:
        r.xgroup_create(keys.EVENTS, keys.EVENTS_GROUP, id="0", mkstream=True)
    except redis.ResponseError as exc:
        if "BUSYGROUP" not in str(exc):
            raise


class Worker:
    """One consumer of the group. `run(stop)` loops until `stop` is set; `drain()` is for one-off use."""

    def __init__(self, r: redis.Redis, settings: Settings, *, name: str | None = None) -> None:
        self._r = r
        self._store = Store(r)
        self._settings = settings
        self.name = name or f"worker-{uuid.uuid4().hex[:12]}"
        self._reader = GroupReader(
            r,
            keys.EVENTS,
            keys.EVENTS_GROUP,
            self.name,
            claim_idle_ms=int(settings.claim_idle_seconds * 1000),
            count=settings.worker_batch,
        )
        self._moderation = Moderation(r)
        self._emergency = EmergencyMode(r)
        self._flares = flare_detector(r, settings)
        self._hours = operating_hours(settings)
        self._auto_hide_from = Severity.parse(settings.auto_hide_min_severity)
        self._support = SupportDesk(r)
        self._notifier = SupportNotifier(settings)

    def warm_up(self) -> None:
        """Create the group and load the dictionary and model now, not on the first comment (seconds)."""
        ensure_group(self._r)
        classifiers.moderate("準備")

    def run(self, stop: threading.Event) -> None:
        self.warm_up()
        log.info("worker started", extra={"consumer": self.name})
        # Claim checks every half idle-time: a dead worker's entries wait at most 1.5× the timeout.
        claim_every = max(0.1, self._settings.claim_idle_seconds / 2)
        next_claim = next_housekeeping = 0.0
        while not stop.is_set():
            try:
                now = time.monotonic()
                if now >= next_claim:
                    self.claim_stale()
                    self.finish_after_flagged()
                    next_claim = now + claim_every
                if now >= next_housekeeping:
                    self.housekeeping()
                    next_housekeeping = now + _HOUSEKEEPING_SECONDS
                read = self.read_once(block_ms=self._settings.worker_block_ms)
                if 0 < read < self._settings.worker_batch:
                    stop.wait(self._settings.worker_linger_ms / 1000)  # let the next batch gather
            except redis.ConnectionError as exc:
                log.warning("redis unreachable; retrying", extra={"error": type(exc).__name__})
                stop.wait(_RETRY_AFTER_REDIS_ERROR)
            except Exception:
                # Whatever went wrong, the entry stays pending and is retried; the loop must live on.
                log.exception("worker loop error; retrying")
                stop.wait(_RETRY_AFTER_REDIS_ERROR)
        log.info("worker stopped", extra={"consumer": self.name})

    def read_once(self, *, block_ms: int | None = None) -> int:
        """Read and process one batch of new entries (up to SHAKYO_WORKER_BATCH); returns how many."""
        return self._reader.read_new_batch(self.handle_batch, block_ms=block_ms)

    def claim_stale(self) -> int:
        """Take over entries idle longer than the claim timeout (their worker is presumed dead)."""
        return self._reader.claim_stale(self.handle)

    def finish_after_flagged(self) -> int:
        """Run the after-flag steps a dead worker left undone (marked longer than the claim timeout ago)."""
        cutoff = time.time() - self._settings.claim_idle_seconds
        items = self._r.zrangebyscore(
            keys.AFTER_FLAG_PENDING, "-inf", cutoff, start=0, num=self._settings.worker_batch
        )
        if items:
            log.info("finishing after-flag steps a stopped worker left", extra={"item_ids": items})
            self._after_flagged(items, recovering=True)
        return len(items)

    def drain(self, *, idle_rounds: int = 1) -> int:
        """Process until no new entry arrives for `idle_rounds` short reads (tests and one-off scripts)."""
        ensure_group(self._r)
        total, idle = 0, 0
        while idle < idle_rounds:
            n = self.read_once(block_ms=50)
            total += n
            idle = idle + 1 if n == 0 else 0
        return total

    def handle(self, entry_id: str, fields: dict[str, Any] | None) -> None:
        """Process one entry (claimed from a dead worker): a batch of one."""
        self.handle_batch([(entry_id, fields)])

    def handle_batch(self, entries: Entries) -> None:
        """Classify every entry, then store them all in one transaction, then the steps that follow.

        Classification runs before any Redis round trip, so a batch costs three round trips to store
        (see Store.apply_events) rather than four per entry. An entry that fails (unparseable, or its
        store step raises) stays pending to be claimed again until it has failed `max_deliveries` times;
        then it is moved to the dead-letter stream.
        """
        empty: list[str] = []
        parsed: list[_Parsed] = []
        for entry_id, fields in entries:
            if not fields or "event" not in fields:
                # Nothing to apply (an entry trimmed away or written by something else): just acknowledge.
                empty.append(entry_id)
                continue
            try:
                parsed.append(_parse(entry_id, fields))
            except Exception as exc:
                self._failed(entry_id, fields, exc)
        ready = self._classify(parsed)
        if empty:
            self._r.xack(keys.EVENTS, keys.EVENTS_GROUP, *empty)
            metrics.record_processed_many(self._r, [("empty", None)] * len(empty))
        if not ready:
            return
        try:
            outcomes = self._store.apply_events(
                [(p.entry_id, p.event, p.received_at, p.verdict) for p in ready]
            )
        except redis.ConnectionError:
            raise
        except Exception:
            # One entry breaks the batch transaction (nothing of it was written): apply them one by one,
            # so only that entry is retried and, in the end, dead-lettered.
            log.warning(
                "batch store failed; applying its entries one at a time", extra={"entries": len(ready)}
            )
            applied: list[tuple[_Prepared, ApplyOutcome]] = []
            for p in ready:
                try:
                    outcome = self._store.apply_event(
                        p.entry_id, p.event, received_at=p.received_at, verdict=p.verdict
                    )
                except redis.ConnectionError:
                    raise
                except Exception as exc:
                    self._failed(p.entry_id, p.fields, exc)
                    continue
                applied.append((p, outcome))
        else:
            applied = list(zip(ready, outcomes, strict=True))
        faults.point("after_store")
        metrics.record_processed_many(
            self._r,
            [("duplicate" if o.duplicate else "applied", p.classify_seconds) for p, o in applied],
        )
        # 相談 first: staff are told at once, before anything else that follows a flag.
        for p, outcome in applied:
            if p.verdict is not None and p.verdict.needs_support and not outcome.duplicate:
                self._needs_support(outcome.item_id)
        self._after_flagged([o.item_id for _p, o in applied if o.flagged and not o.duplicate])
        for p, outcome in applied:
            self._log_applied(p, outcome)

    @staticmethod
    def _log_applied(p: _Prepared, outcome: ApplyOutcome) -> None:
        verdict, event = p.verdict, p.event
        log.info(
            "comment event applied",
            extra={
                "stream_id": p.entry_id,
                "item_id": outcome.item_id,
                "verb": event.verb,
                "is_own": event.is_own,
                "duplicate": outcome.duplicate,
                "new_comment": outcome.created,
                "flagged": outcome.flagged,
                "needs_review": verdict.needs_review if verdict else False,
                "status": outcome.status,
                "categories": verdict.categories if verdict else [],
                "severity": verdict.severity.label if verdict else None,
                "text": event.text,  # dropped by the formatter above DEBUG
            },
        )

    def _after_flagged(self, item_ids: list[str], *, recovering: bool = False) -> None:
        """Author index, flare-up count and automatic hiding of a batch's flagged comments, together; the
        comments are stored whatever happens here."""
        if not item_ids:
            return
        try:
            self._moderation.after_flagged_many(
                item_ids,
                flares=self._flares,
                emergency=self._emergency.is_on(),
                hours=self._hours,
                min_severity=self._auto_hide_from,
                recovering=recovering,
            )
        except redis.ConnectionError:
            raise
        except redis.RedisError as exc:
            log.error("after-flagged steps failed", extra={"item_ids": item_ids, "error": type(exc).__name__})

    def _needs_support(self, item_id: str) -> None:
        """Open a 相談 item and notify staff (webhook, e-mail) the first time a comment needs support."""
        try:
            comment = self._store.get(item_id)
            item = self._support.record(comment) if comment is not None else None
        except redis.ConnectionError:
            raise
        except redis.RedisError as exc:
            log.error("support step failed", extra={"item_id": item_id, "error": type(exc).__name__})
            return
        if item is None or comment is None:
            return
        delivered, failed = self._notifier.notify(item, comment)
        self._support.note_notification(item_id, delivered, failed)

    def _classify(self, parsed: list[_Parsed]) -> list[_Prepared]:
        """Classify the batch together; should that raise, each entry alone, so that only the entry that
        breaks the classifier is retried (and in the end dead-lettered)."""
        try:
            return _classify_all(parsed)
        except Exception:
            log.warning(
                "batch classification failed; classifying its entries one at a time",
                extra={"entries": len(parsed)},
            )
        ready: list[_Prepared] = []
        for p in parsed:
            try:
                ready.extend(_classify_all([p]))
            except Exception as exc:
                self._failed(p.entry_id, p.fields, exc)
        return ready

    def _failed(self, entry_id: str, fields: dict[str, Any], exc: Exception) -> None:
        attempts = int(self._r.hincrby(keys.FAILURES, entry_id, 1))
        log.error(
            "event processing failed",
            extra={"stream_id": entry_id, "attempts": attempts, "error": f"{type(exc).__name__}: {exc}"},
        )
        metrics.record_processed(self._r, "failed", None)
        if attempts < self._settings.max_deliveries:
            return
        with self._r.pipeline(transaction=True) as pipe:
            pipe.xadd(
                keys.DEAD_LETTER,
                {"source_id": entry_id, "event": fields["event"], "error": f"{type(exc).__name__}: {exc}"},
            )
            pipe.xack(keys.EVENTS, keys.EVENTS_GROUP, entry_id)
            pipe.hdel(keys.FAILURES, entry_id)
            pipe.execute()
        log.error("event moved to dead-letter stream", extra={"stream_id": entry_id})

    def housekeeping(self) -> None:
        """Trim acknowledged entries past the retention time; forget long-gone consumers."""
        groups = {g["name"]: g for g in self._r.xinfo_groups(keys.EVENTS)}
        group = groups.get(keys.EVENTS_GROUP)
        if group is None:
            return
        cutoff_ms = int((time.time() - self._settings.stream_retention_days * 86400) * 1000)
        floor = (cutoff_ms, 0)
        # Never trim at or past an entry some worker still has to see or acknowledge.
        delivered_ms, delivered_seq = _id_tuple(group["last-delivered-id"])
        floor = min(floor, (delivered_ms, delivered_seq + 1))
        summary = self._r.xpending(keys.EVENTS, keys.EVENTS_GROUP)
        if summary["pending"]:
            floor = min(floor, _id_tuple(summary["min"]))
        self._r.xtrim(keys.EVENTS, minid=f"{floor[0]}-{floor[1]}", approximate=False)
        for consumer in self._r.xinfo_consumers(keys.EVENTS, keys.EVENTS_GROUP):
            if (
                consumer["pending"] == 0
                and consumer["idle"] > _CONSUMER_FORGET_MS
                and consumer["name"] != self.name
            ):
                self._r.xgroup_delconsumer(keys.EVENTS, keys.EVENTS_GROUP, consumer["name"])


@dataclass(frozen=True, slots=True)
class _Parsed:
    """A stream entry read."""

    entry_id: str
    fields: dict[str, Any]
    event: CommentEvent
    received_at: float

    @property
    def to_classify(self) -> bool:
        return self.event.verb in ("add", "edited") and not self.event.is_own


@dataclass(frozen=True, slots=True)
class _Prepared(_Parsed):
    """A stream entry read and classified, ready to be stored."""

    verdict: Verdict | None
    classify_seconds: float | None  # this comment's share of its batch's classification time


def _parse(entry_id: str, fields: dict[str, Any]) -> _Parsed:
    """Read one entry; raises on an entry that cannot be read."""
    event = CommentEvent.from_json(fields["event"])
    received_at = float(fields.get("received_at") or int(entry_id.split("-")[0]) / 1000)
    return _Parsed(entry_id, fields, event, received_at)


def _classify_all(parsed: list[_Parsed]) -> list[_Prepared]:
    """Classify the comments of a batch together (no I/O); entries without a comment to judge pass through."""
    judged = [p for p in parsed if p.to_classify]
    started = time.perf_counter()
    verdicts = iter(classifiers.moderate_many([(p.event.text, p.event.author_name) for p in judged]))
    share = (time.perf_counter() - started) / len(judged) if judged else None
    return [
        _Prepared(p.entry_id, p.fields, p.event, p.received_at, next(verdicts), share)
        if p.to_classify
        else _Prepared(p.entry_id, p.fields, p.event, p.received_at, None, None)
        for p in parsed
    ]


def _id_tuple(stream_id: str) -> tuple[int, int]:
    ms, _, seq = str(stream_id).partition("-")
    return int(ms), int(seq or 0)
