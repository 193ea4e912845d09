"""`shakyo-mod report [--week 2026-W47] [--out DIR]`: write the weekly moderation report.

Without --week: the last full ISO week (Monday–Sunday, JST). Without --out: DATA_DIR/reports/<week>/, listed
on the web UI's 週次レポート page (the same place the Monday 09:00 schedule writes to). With --out the files
go to DIR only, for hand-delivery, and the UI's list is left alone.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from service.cli import Commands
from service.hours import OperatingHours, now_jst
from service.redis_conn import open_redis
from service.reports.week import IsoWeek
from service.settings import load_settings


def register(commands: Commands) -> None:
    parser = commands.add(
        "report",
        "週次レポート（HTML・PDF・CSV・JSON）を作成します / write the weekly moderation report",
        _report,
    )
    parser.add_argument("--week", help="対象の週（例: 2026-W47）。省略時は直近の終わった週 / ISO week")
    parser.add_argument(
        "--out", type=Path, help="出力先フォルダ。省略時はデータフォルダの reports/<週>/ / output directory"
    )


def _report(args: argparse.Namespace) -> int:
    from service.reports.generate import generate_report, write_report

    try:
        week = IsoWeek.parse(args.week) if args.week else IsoWeek.last_full(now_jst())
    except ValueError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    settings = load_settings()
    hours = OperatingHours(start=settings.hours_start, end=settings.hours_end)
    with open_redis(settings) as target, target.client() as r:
        try:
            if args.out is not None:
                done = write_report(r, week, args.out, hours=hours)
            else:
                done = generate_report(r, week, settings.data_dir, hours=hours)
        except ValueError as exc:  # a week that has not begun
            print(str(exc), file=sys.stderr)
            return 2
    interim = "（途中経過：週がまだ終わっていないため作成時点の値です）" if done.report["in_progress"] else ""
    print(f"{week} の週次レポートを作成しました{interim}: {done.directory}")
    return 0
