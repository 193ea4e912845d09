"""`shakyo-mod sync [--days N]`: one reconciliation pass now (e.g. a backfill right after installation)."""

from __future__ import annotations

import argparse
import sys

from service.cli import Commands
from service.logs import configure_logging
from service.reconcile.job import run_locked
from service.redis_conn import open_redis
from service.settings import load_settings


def register(commands: Commands) -> None:
    sync = commands.add(
        "sync",
        "Metaからコメントを読み直し、Webhookで届かなかったものを取り込みます / reconcile with Meta once",
        _sync,
    )
    sync.add_argument(
        "--days",
        type=int,
        default=None,
        help="何日前までの投稿を照合するか（既定: SHAKYO_SYNC_DAYS） / days of posts to check",
    )


def _sync(args: argparse.Namespace) -> int:
    settings = load_settings()
    configure_logging(settings.log_level)
    days = args.days if args.days is not None else settings.sync_days
    if days < 1:
        print("--days には1以上の日数を指定してください。 / --days must be at least 1.", file=sys.stderr)
        return 2
    if not settings.meta_connected:
        print(
            "Metaとまだ接続していないため照合できません（SHAKYO_FACEBOOK_PAGE_ID・SHAKYO_INSTAGRAM_ACCOUNT_ID と"
            "トークンを設定してください）。 / Not connected to Meta: set the Page / Instagram ids and tokens.",
            file=sys.stderr,
        )
        return 2
    with open_redis(settings) as target, target.client() as client:
        result = run_locked(client, settings, days)
    if result is None:
        print(
            "別の照合が実行中です。終わってからもう一度実行してください。 / Another sync is running; try again later.",
            file=sys.stderr,
        )
        return 1
    print(result.summary_ja())
    return 0 if not result.errors else 1
