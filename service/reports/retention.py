"""Retention: comments and their history older than the retention period (default 400 days) are deleted.

What is kept: the written reports (files and their list), and the audit log's counts — audit entries past
the period are folded into per-day counts (`{shakyo}:audit:daily`, field "YYYY-MM-DD|action|role") before
they are removed, so decision totals stay available after the entries' item ids and notes are gone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import redis

from service import keys
from service.audit import AUDIT_KEY, AuditLog
from service.hours import JST, as_jst
from service.store import QUEUE_STATUSES

AUDIT_DAILY_KEY = "{shakyo}:audit:daily"
DEFAULT_RETENTION_DAYS = 400
_BATCH = 500


@dataclass(frozen=True, slots=True)
class PurgeResult:
    cutoff: datetime
    comments: int
    audit_entries: int


def purge(r: redis.Redis, *, now: datetime, retention_days: int = DEFAULT_RETENTION_DAYS) -> PurgeResult:
    """Delete what is older than `retention_days` before `now`. Safe to run again after a crash: each batch
    is one transaction, so an audit entry is either counted and removed, or neither."""
    if retention_days < 1:
        raise ValueError("retention_days must be positive")
    cutoff = as_jst(now) - timedelta(days=retention_days)
    return PurgeResult(cutoff, _purge_comments(r, cutoff.timestamp()), _fold_audit(r, cutoff.timestamp()))


def _purge_comments(r: redis.Redis, cutoff: float) -> int:
    total = 0
    while True:
        ids = r.zrangebyscore(keys.COMMENTS_BY_RECEIVED, "-inf", f"({cutoff!r}", start=0, num=_BATCH)
        if not ids:
            return total
        pipe = r.pipeline(transaction=True)
        for item in ids:
            pipe.delete(
                keys.comment(item),
                keys.history(item),
                keys.applied(item),
                keys.replies(item),
                keys.raw_refs(item),
            )
        pipe.zrem(keys.COMMENTS_BY_RECEIVED, *ids)
        pipe.zrem(keys.COMMENTS_FLAGGED, *ids)
        for status in QUEUE_STATUSES:
            pipe.zrem(keys.queue(status), *ids)
        pipe.execute()
        total += len(ids)


def _fold_audit(r: redis.Redis, cutoff: float) -> int:
    old = [e for e in AuditLog(r).entries(until=cutoff)]
    for i in range(0, len(old), _BATCH):
        batch = old[i : i + _BATCH]
        pipe = r.pipeline(transaction=True)
        for e in batch:
            day = datetime.fromtimestamp(e.at, JST).date().isoformat()
            pipe.hincrby(AUDIT_DAILY_KEY, f"{day}|{e.action}|{e.role}", 1)
        pipe.xdel(AUDIT_KEY, *(e.entry_id for e in batch))
        pipe.execute()
    return len(old)


def audit_daily_counts(r: redis.Redis) -> dict[tuple[str, str, str], int]:
    """(day, action, role) → count of audit entries folded away by retention."""
    out: dict[tuple[str, str, str], int] = {}
    for field, value in r.hgetall(AUDIT_DAILY_KEY).items():
        day, action, role = field.split("|", 2)
        out[(day, action, role)] = int(value)
    return out
