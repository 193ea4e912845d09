"""The report's own clock: the previous week's report every Monday at 09:00 JST, and a daily retention purge.

Every `serve` and `worker` process may run this loop; a Redis `SET NX` lock per ISO week (and per day for
the purge) lets exactly one of them do each job. A process started later in the week (say, after a Monday
outage) catches up on the last full week if nobody has made its report yet. Deployments that prefer cron
with `shakyo-mod report` switch the loop off with SHAKYO_REPORT_SCHEDULE=false.
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import subprocess  # nosec B404  # runs only our own CLI, below
import sys
import threading
from collections.abc import Callable
from datetime import datetime, time, timedelta
from pathlib import Path

import redis

from service.evidence.records import purge as purge_evidence
from service.hours import DEFAULT_HOURS, OperatingHours, as_jst, now_jst
from service.reports.generate import GeneratedReport, generate_report, is_recorded
from service.reports.retention import DEFAULT_RETENTION_DAYS, PurgeResult, purge
from service.reports.week import IsoWeek
from service.settings import Settings

log = logging.getLogger(__name__)

EVIDENCE_RETENTION_DAYS = 1826  # 5 years, as public bodies keep records of deleted abuse
REPORT_AT = time(9, 0)  # Monday, JST
PURGE_AT = time(3, 0)  # daily, JST: a quiet hour
# Held while a report is made; a crashed holder's lock lapses so another process retries.
_WORK_LOCK_SECONDS = 30 * 60
_DONE_LOCK_SECONDS = 8 * 24 * 3600  # past the week's end, so a late duplicate tick cannot start again
_TICK_SECONDS = 60.0


def report_lock_key(week: IsoWeek) -> str:
    return f"{{shakyo}}:lock:report:{week}"


def purge_lock_key(day: str) -> str:
    return f"{{shakyo}}:lock:retention:{day}"


# Makes one week's report; returns what it made (None when it ran elsewhere, e.g. in a child process).
Generate = Callable[[redis.Redis, IsoWeek, Path, OperatingHours, datetime], "GeneratedReport | None"]


def generate_here(
    r: redis.Redis, week: IsoWeek, data_dir: Path, hours: OperatingHours, now: datetime
) -> GeneratedReport:
    return generate_report(r, week, data_dir, hours=hours, now=now)


def generate_in_child(
    r: redis.Redis, week: IsoWeek, data_dir: Path, hours: OperatingHours, now: datetime
) -> None:
    """Charts and the PDF take seconds of CPU: in a process of their own they never hold up the web
    process's webhook acknowledgements. The child reads the same settings (environment / .env)."""
    # At low CPU priority too: on a small machine the web process must win the cores.
    nice = ["nice", "-n", "10"] if shutil.which("nice") else []
    subprocess.run(  # nosec B603  # a fixed argv of our own CLI, no shell, no outside input
        [*nice, sys.executable, "-m", "service", "report", "--week", str(week)],
        check=True,
        timeout=_WORK_LOCK_SECONDS,
        stdout=subprocess.DEVNULL,
    )


def due_week(now: datetime) -> IsoWeek:
    """The week whose report is due at `now`: last week once Monday 09:00 JST has passed, else the one before."""
    now = as_jst(now)
    this_week = IsoWeek.containing(now)
    return this_week.previous(1 if now >= this_week.start + timedelta(hours=REPORT_AT.hour) else 2)


class ReportScheduler:
    def __init__(
        self,
        r: redis.Redis,
        data_dir: Path,
        *,
        hours: OperatingHours = DEFAULT_HOURS,
        retention_days: int = DEFAULT_RETENTION_DAYS,
        evidence_retention_days: int = EVIDENCE_RETENTION_DAYS,
        generate: Generate = generate_here,
    ) -> None:
        self._r = r
        self._generate = generate
        self._data_dir = data_dir
        self._hours = hours
        self._retention_days = retention_days
        self._evidence_retention_days = evidence_retention_days
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"

    def weekly(self, now: datetime) -> GeneratedReport | None:
        """Make the due week's report unless it exists or another process is making it."""
        week = due_week(now)
        if is_recorded(self._r, week):
            return None
        lock = report_lock_key(week)
        if not self._r.set(lock, self.owner, nx=True, ex=_WORK_LOCK_SECONDS):
            return None
        try:
            if is_recorded(self._r, week):  # finished by another process between our check and the lock
                return None
            done = self._generate(self._r, week, self._data_dir, self._hours, now)
        except Exception:
            # Let the lock lapse on its own (at most 30 minutes): a retry loop every minute would only
            # repeat the same failure in the log.
            log.exception("weekly report failed", extra={"week": str(week)})
            return None
        self._r.set(lock, self.owner, ex=_DONE_LOCK_SECONDS)
        return done

    def daily(self, now: datetime) -> PurgeResult | None:
        """Run the retention purge once per JST day, after 03:00."""
        now = as_jst(now)
        if now.time() < PURGE_AT:
            return None
        if not self._r.set(purge_lock_key(now.date().isoformat()), self.owner, nx=True, ex=2 * 24 * 3600):
            return None
        result = purge(self._r, now=now, retention_days=self._retention_days)
        # 証拠記録 outlive their comments (SHAKYO_EVIDENCE_RETENTION_DAYS, default 5 years).
        purge_evidence(self._r, now=now.timestamp(), retention_days=self._evidence_retention_days)
        log.info(
            "retention purge done",
            extra={"comments": result.comments, "audit_entries": result.audit_entries},
        )
        return result

    def tick(self, now: datetime) -> None:
        self.weekly(now)
        self.daily(now)

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                self.tick(now_jst())
            except redis.RedisError as exc:
                log.warning("report schedule: redis error; retrying", extra={"error": type(exc).__name__})
            stop.wait(_TICK_SECONDS)


class SchedulerThread:
    """The schedule in a daemon thread of a `serve` or `worker` process."""

    def __init__(self, scheduler: ReportScheduler) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=scheduler.run, args=(self._stop,), name="reports", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._thread.join(timeout)


def scheduler_thread(r: redis.Redis, settings: Settings) -> SchedulerThread | None:
    """The schedule for a `serve` or `worker` process; None when SHAKYO_REPORT_SCHEDULE=false."""
    if not settings.report_schedule:
        return None
    hours = OperatingHours(start=settings.hours_start, end=settings.hours_end)
    return SchedulerThread(
        ReportScheduler(
            r,
            settings.data_dir,
            hours=hours,
            retention_days=settings.retention_days,
            evidence_retention_days=settings.evidence_retention_days,
            generate=generate_in_child,
        )
    )
