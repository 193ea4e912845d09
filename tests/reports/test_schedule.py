"""The Monday 09:00 report job and the daily retention purge, with time frozen by explicit `now` values."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime, time, timedelta
from pathlib import Path

import pytest
import redis

from classifiers.categories import Severity
from classifiers.verdict import Verdict
from service import keys
from service.audit import AUDIT_KEY, AuditEntry, AuditLog
from service.hours import JST
from service.reports.generate import GeneratedReport, is_recorded, list_reports, record_report
from service.reports.retention import audit_daily_counts, purge
from service.reports.schedule import (
    ReportScheduler,
    due_week,
    generate_in_child,
    purge_lock_key,
    report_lock_key,
    scheduler_thread,
)
from service.reports.week import IsoWeek
from service.settings import Settings
from service.store import Store
from service.worker import ensure_group
from tests.reports.fixture_week import build_week
from webhooks.events import CommentEvent

MONDAY_0900 = datetime(2026, 11, 30, 9, 0, tzinfo=JST)


def test_due_week() -> None:
    assert due_week(MONDAY_0900) == IsoWeek(2026, 48)
    assert due_week(MONDAY_0900 - timedelta(seconds=1)) == IsoWeek(2026, 47)
    assert due_week(datetime(2026, 12, 6, 23, 59, tzinfo=JST)) == IsoWeek(2026, 48)
    assert due_week(datetime(2027, 1, 4, 9, 0, tzinfo=JST)) == IsoWeek(2026, 53)  # across the new year


@pytest.mark.slow
def test_fires_once_per_week_across_processes(redis_url: str, tmp_path: Path) -> None:
    setup = redis.Redis.from_url(redis_url, decode_responses=True)
    build_week(setup)
    # Two schedulers with their own connections stand for two service processes ticking at the same moment.
    clients = [redis.Redis.from_url(redis_url, decode_responses=True) for _ in range(2)]
    schedulers = [ReportScheduler(c, tmp_path) for c in clients]

    barrier = threading.Barrier(2)
    results: list[GeneratedReport | None] = [None, None]

    def tick(i: int) -> None:
        barrier.wait()
        results[i] = schedulers[i].weekly(MONDAY_0900)

    threads = [threading.Thread(target=tick, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    made = [x for x in results if x is not None]
    assert len(made) == 1 and made[0].week == IsoWeek(2026, 48)
    assert [d.name for d in (tmp_path / "reports").iterdir()] == ["2026-W48"]
    assert [rep["week"] for rep in list_reports(setup)] == ["2026-W48"]

    # Later ticks in the same week, from either process, do nothing.
    for hours in (0.5, 24, 24 * 6 + 14):
        assert all(s.weekly(MONDAY_0900 + timedelta(hours=hours)) is None for s in schedulers)
    # The next Monday: nothing before 09:00, then exactly one report for W49.
    next_monday = MONDAY_0900 + timedelta(days=7)
    assert schedulers[1].weekly(next_monday - timedelta(minutes=1)) is None
    again = [s.weekly(next_monday) for s in schedulers]
    assert again[0] is not None and again[0].week == IsoWeek(2026, 49) and again[1] is None
    assert [rep["week"] for rep in list_reports(setup)] == ["2026-W49", "2026-W48"]
    assert sorted(d.name for d in (tmp_path / "reports").iterdir()) == ["2026-W48", "2026-W49"]


def test_a_failed_run_is_not_retried_every_minute(r: redis.Redis, tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")  # the data directory cannot be created: generation fails
    scheduler = ReportScheduler(r, blocker)
    assert scheduler.weekly(MONDAY_0900) is None
    assert not is_recorded(r, IsoWeek(2026, 48))
    lock = report_lock_key(IsoWeek(2026, 48))
    assert 0 < r.ttl(lock) <= 30 * 60  # retried once the lock lapses, not on the next tick
    assert ReportScheduler(r, tmp_path).weekly(MONDAY_0900 + timedelta(minutes=1)) is None


def test_an_existing_report_is_not_made_again(r: redis.Redis, tmp_path: Path) -> None:
    """A report made by hand (`shakyo-mod report`) before 09:00 stands; the schedule does not repeat it."""
    week = IsoWeek(2026, 48)
    record_report(
        r,
        GeneratedReport(
            week,
            tmp_path,
            {
                "label": week.label_ja,
                "generated_at": None,
                "volume": {"received": 0},
                "flagged": {"count": 0},
                "decisions": {"pending_at_end": 0},
            },
        ),
    )
    assert ReportScheduler(r, tmp_path).weekly(MONDAY_0900) is None
    assert r.get(report_lock_key(week)) is None


def _comment(store: Store, n: int, cid: str, received: float) -> None:
    verdict = Verdict(True, ["insult"], {"insult": 0.9}, Severity.MEDIUM, ["2(7)エ"], "hide")
    event = CommentEvent("facebook", "page", cid, "add", "ひどい", post_id="P", entry_time=received)
    store.apply_event(f"{n}-0", event, received_at=received, verdict=verdict)
    event2 = CommentEvent("facebook", "page", cid, "edited", "ひどい!", post_id="P", entry_time=received + 60)
    store.apply_event(f"{n}-1", event2, received_at=received, verdict=verdict)  # adds a history entry


def test_retention_purge(r: redis.Redis, tmp_path: Path) -> None:
    ensure_group(r)
    store = Store(r)
    now = datetime(2026, 11, 30, 3, 0, tzinfo=JST)
    old, kept = (now - timedelta(days=401)).timestamp(), (now - timedelta(days=399)).timestamp()
    _comment(store, 1, "old", old)
    _comment(store, 2, "new", kept)
    audit = AuditLog(r)
    audit.append(
        AuditEntry(at=old + 100, actor="yamada", role="staff", action="dismissed", item_id="facebook:old")
    )
    audit.append(
        AuditEntry(at=old + 200, actor="yamada", role="staff", action="dismissed", item_id="facebook:x")
    )
    audit.append(
        AuditEntry(at=kept + 100, actor="yamada", role="staff", action="dismissed", item_id="facebook:new")
    )
    week = IsoWeek(2025, 40)
    record_report(
        r,
        GeneratedReport(
            week,
            tmp_path,
            {
                "label": week.label_ja,
                "generated_at": None,
                "volume": {"received": 1},
                "flagged": {"count": 1},
                "decisions": {"pending_at_end": 1},
            },
        ),
    )
    assert store.history("facebook:old")

    result = purge(r, now=now, retention_days=400)
    assert (result.comments, result.audit_entries) == (1, 2)
    assert store.get("facebook:old") is None and store.history("facebook:old") == []
    assert not r.exists(keys.applied("facebook:old"))
    assert r.zscore(keys.COMMENTS_BY_RECEIVED, "facebook:old") is None
    assert r.zscore(keys.COMMENTS_FLAGGED, "facebook:old") is None
    assert r.zscore(keys.queue("pending"), "facebook:old") is None
    assert store.get("facebook:new") is not None and store.history("facebook:new")
    assert [e.item_id for e in audit.entries()] == ["facebook:new"]
    day = datetime.fromtimestamp(old, JST).date().isoformat()
    assert audit_daily_counts(r) == {(day, "dismissed", "staff"): 2}
    assert [rep["week"] for rep in list_reports(r)] == ["2025-W40"]  # reports are kept
    assert r.xlen(AUDIT_KEY) == 1
    # Running again changes nothing and counts nothing twice.
    assert purge(r, now=now, retention_days=400).audit_entries == 0
    assert audit_daily_counts(r) == {(day, "dismissed", "staff"): 2}


def test_daily_purge_runs_once_a_day_after_three(r: redis.Redis, tmp_path: Path) -> None:
    scheduler, other = ReportScheduler(r, tmp_path, retention_days=30), ReportScheduler(r, tmp_path)
    day = datetime(2026, 11, 30, 2, 59, tzinfo=JST)
    assert scheduler.daily(day) is None
    first = scheduler.daily(day + timedelta(minutes=1))
    assert first is not None and first.cutoff == datetime(2026, 10, 31, 3, 0, tzinfo=JST)
    assert other.daily(day + timedelta(hours=5)) is None
    assert scheduler.daily(day + timedelta(days=1, minutes=1)) is not None


def test_schedule_can_be_switched_off(
    r: redis.Redis, make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    assert scheduler_thread(r, make_settings(report_schedule=False)) is None
    thread = scheduler_thread(r, make_settings(report_schedule=True, retention_days=30))
    assert thread is not None
    thread.start()
    thread.stop()
    # Its first tick ran at once (real clock): the daily purge took today's lock, if past 03:00 JST.
    now = datetime.now(JST)
    assert (r.get(purge_lock_key(now.date().isoformat())) is not None) == (now.time() >= time(3, 0))


@pytest.mark.slow
def test_the_service_makes_the_report_in_a_child_process(
    redis_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # serve's scheduler: the CPU-heavy charts/PDF run in `shakyo-mod report`, reading the same settings.
    setup = redis.Redis.from_url(redis_url, decode_responses=True)
    build_week(setup)
    monkeypatch.setenv("SHAKYO_REDIS_URL", redis_url)
    monkeypatch.setenv("SHAKYO_DATA_DIR", str(tmp_path))
    scheduler = ReportScheduler(setup, tmp_path, generate=generate_in_child)
    assert scheduler.weekly(MONDAY_0900) is None  # made elsewhere
    assert [rep["week"] for rep in list_reports(setup)] == ["2026-W48"]
    assert (tmp_path / "reports" / "2026-W48" / "report.pdf").stat().st_size > 0
    assert scheduler.weekly(MONDAY_0900 + timedelta(hours=1)) is None and len(list_reports(setup)) == 1
