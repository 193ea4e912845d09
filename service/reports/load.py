"""Reads what a report needs from Redis into `figures.ReportData` (the only I/O before the figures)."""

from __future__ import annotations

from datetime import datetime

import redis

from service.audit import AuditLog
from service.hours import DEFAULT_HOURS, EmergencyMode, OperatingHours
from service.incidents import FlareDetector
from service.reconcile.sync import MISSED_INDEX
from service.reports.figures import TREND_WEEKS, ReportData
from service.reports.week import IsoWeek
from service.store import Comment, Store
from service.support.desk import SupportDesk


def load_report_data(
    r: redis.Redis, week: IsoWeek, *, hours: OperatingHours = DEFAULT_HOURS, now: datetime | None = None
) -> ReportData:
    """Comments received in the 8 weeks ending with `week`, older flagged comments (some may still have been
    waiting at the week's end), the audit log up to the week's end, and the week's incident histories."""
    trend_start, end = week.previous(TREND_WEEKS - 1).start.timestamp(), week.end.timestamp()
    store = Store(r)
    comments: dict[str, Comment] = {c.item_id: c for c in store.iter_comments(trend_start, end)}
    for c in store.iter_comments(None, trend_start, flagged_only=True):
        comments.setdefault(c.item_id, c)
    # The threshold and window do not matter for reading the history; the detector only needs a client.
    flares = FlareDetector(r, threshold=1, window_seconds=1).history(week.start, week.end)
    return ReportData(
        week=week,
        comments=list(comments.values()),
        audit=list(AuditLog(r).entries(until=end)),
        emergency=EmergencyMode(r).periods(week.start, week.end),
        flares=flares,
        support=SupportDesk(r).between(week.start.timestamp(), end),
        hours=hours,
        sync_missed=[
            at for _, at in r.zrangebyscore(MISSED_INDEX, trend_start, f"({end!r}", withscores=True)
        ],
        generated_at=now,
    )
