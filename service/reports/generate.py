"""Writes one week's report in every form and lists it for the web UI.

Files go to DATA_DIR/reports/<week>/ (report.html, report.pdf, summary.csv, comments.csv, report.json);
the list is a sorted set `{shakyo}:reports` (week → its Monday) with a summary hash per week.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import redis

from service.hours import DEFAULT_HOURS, OperatingHours, now_jst
from service.reports.csv_export import write_comments, write_summary
from service.reports.figures import comment_rows, compute
from service.reports.load import load_report_data
from service.reports.mask import excerpt
from service.reports.render_html import render_html
from service.reports.render_pdf import render_pdf
from service.reports.week import IsoWeek

log = logging.getLogger(__name__)

REPORTS_KEY = "{shakyo}:reports"
REPORT_FILES: dict[str, str] = {
    "report.html": "text/html; charset=utf-8",
    "report.pdf": "application/pdf",
    "summary.csv": "text/csv; charset=utf-8",
    "comments.csv": "text/csv; charset=utf-8",
    "report.json": "application/json",
}


def report_key(week: IsoWeek | str) -> str:
    return f"{{shakyo}}:report:{week}"


def reports_dir(data_dir: Path) -> Path:
    return data_dir / "reports"


@dataclass(frozen=True, slots=True)
class GeneratedReport:
    week: IsoWeek
    directory: Path
    report: dict[str, Any]


def write_report(
    r: redis.Redis,
    week: IsoWeek,
    directory: Path,
    *,
    hours: OperatingHours = DEFAULT_HOURS,
    now: datetime | None = None,
) -> GeneratedReport:
    """Compute the week's figures and write every form into `directory` (created if needed).

    Each file is written beside its final name and renamed into place, so a reader (the web UI, a
    download) never sees half a file and a failed run leaves the previous report intact. A week that has not
    begun is refused (ValueError, Japanese message); one in progress is written as 途中経過. Reports quote
    comments and name staff: directories are created 0700 and every file is 0600 before it is renamed.
    """
    when = now_jst(now)
    if when < week.start:
        raise ValueError(f"{week.label_ja}はまだ始まっていないため、レポートを作成できません。")
    data = load_report_data(r, week, hours=hours, now=when)
    report = compute(data, excerpt)
    rows = comment_rows(data, excerpt)
    _private_dirs(directory)
    writers = {
        "report.json": lambda p: p.write_text(json.dumps(report, ensure_ascii=False, indent=1), "utf-8"),
        "report.html": lambda p: p.write_text(render_html(report), "utf-8"),
        "report.pdf": lambda p: render_pdf(report, p),
        "summary.csv": lambda p: write_summary(report, p),
        "comments.csv": lambda p: write_comments(rows, p),
    }
    for name, write in writers.items():
        tmp = directory / f".{name}.{os.getpid()}.tmp"
        write(tmp)
        tmp.chmod(0o600)
        os.replace(tmp, directory / name)
    log.info("weekly report written", extra={"week": str(week), "directory": str(directory)})
    return GeneratedReport(week, directory, report)


def _private_dirs(directory: Path) -> None:
    """Create `directory` and any missing parents 0700 (Path.mkdir gives parents the default mode)."""
    missing = [p for p in (directory, *directory.parents) if not p.exists()]
    for path in reversed(missing):
        path.mkdir(mode=0o700, exist_ok=True)


def generate_report(
    r: redis.Redis,
    week: IsoWeek,
    data_dir: Path,
    *,
    hours: OperatingHours = DEFAULT_HOURS,
    now: datetime | None = None,
) -> GeneratedReport:
    """Write the report to DATA_DIR/reports/<week>/ and list it for the web UI."""
    done = write_report(r, week, reports_dir(data_dir) / str(week), hours=hours, now=now)
    record_report(r, done)
    return done


def record_report(r: redis.Redis, done: GeneratedReport) -> None:
    rep = done.report
    pipe = r.pipeline(transaction=True)
    pipe.hset(
        report_key(done.week),
        mapping={
            "week": str(done.week),
            "label": rep["label"],
            "generated_at": rep["generated_at"] or "",
            "received": rep["volume"]["received"],
            "flagged": rep["flagged"]["count"],
            "pending_at_end": rep["decisions"]["pending_at_end"],
        },
    )
    pipe.zadd(REPORTS_KEY, {str(done.week): done.week.start.timestamp()})
    pipe.execute()


def is_recorded(r: redis.Redis, week: IsoWeek) -> bool:
    return r.zscore(REPORTS_KEY, str(week)) is not None


def list_reports(r: redis.Redis) -> list[dict[str, str]]:
    """Listed reports, newest week first."""
    weeks = r.zrevrange(REPORTS_KEY, 0, -1)
    pipe = r.pipeline(transaction=False)
    for w in weeks:
        pipe.hgetall(report_key(w))
    return [h for h in pipe.execute() if h]
