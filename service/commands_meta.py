"""`shakyo-mod meta connect` and `shakyo-mod meta status`: the Meta connection in one guided step.

`connect` checks each token (owner, Page, permissions, expiry), subscribes the Page (`feed`) and the
Instagram account where they are not yet, reads the subscriptions back and prints a Japanese checklist with
what to do in the Meta App Dashboard for each ✘. It changes only what is missing, so it is safe to run again.
`status` asks the same questions without changing anything and adds when webhooks last arrived. Both store
the result for the settings page's 「Meta接続」 section. Exit code 0 when nothing failed, 1 otherwise.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import TextIO

from service.cli import Commands
from service.meta_status.lapse import lapse_warnings
from service.meta_status.overview import MetaOverview, jst, overview
from service.meta_status.state import graph_client, meta_connection, save_report
from service.redis_conn import open_redis
from service.settings import Settings, load_settings
from webhooks.connect import ConnectionReport

_PLATFORM_JA = {"facebook": "Facebookページ", "instagram": "Instagramアカウント"}


def register(commands: Commands) -> None:
    group_help = "Metaとの接続 / Meta connection"
    commands.add_to_group(
        "meta",
        "connect",
        "トークンと権限を確かめ、ページとInstagramのWebhookを登録します（何度実行しても安全） / "
        "check tokens, subscribe the Page and Instagram account",
        _connect,
        group_help=group_help,
    )
    commands.add_to_group(
        "meta",
        "status",
        "Metaとの接続の状態を表示します（何も変更しません） / show the Meta connection",
        _status,
        group_help=group_help,
    )


def _ask_meta(settings: Settings, *, subscribe: bool) -> ConnectionReport:
    client = graph_client(settings)
    try:
        connection = meta_connection(settings, client)
        return connection.connect() if subscribe else connection.status()
    finally:
        client.close()


def _connect(args: argparse.Namespace) -> int:
    settings = load_settings(require=("meta_app_secret",))
    report = _ask_meta(settings, subscribe=True)
    print_checklist(report, settings, sys.stdout)
    with open_redis(settings) as target, target.client() as r:
        save_report(r, report)
    return 0 if report.ok else 1


def _status(args: argparse.Namespace) -> int:
    settings = load_settings(require=("meta_app_secret",))
    report = _ask_meta(settings, subscribe=False)
    with open_redis(settings) as target, target.client() as r:
        save_report(r, report)
        view = overview(r, settings, time.time())
    print_overview(view, report, sys.stdout)
    print_checklist(report, settings, sys.stdout)
    return 0 if report.ok else 1


def print_checklist(report: ConnectionReport, settings: Settings, out: TextIO) -> None:
    print(
        f"Meta接続チェック（{jst(report.checked_at)} JST・Graph API {settings.graph_api_version}）", file=out
    )
    for check in report.checks:
        print(f"{check.symbol} {check.label}：{check.detail}", file=out)
        if check.fix and check.mark != "ok":
            print(f"    → {check.fix}", file=out)
    for platform in report.changed:
        print(f"今回、{_PLATFORM_JA.get(platform, platform)}のWebhookを登録しました。", file=out)
    subscribed = [
        f"{_PLATFORM_JA.get(p, p)}：{'、'.join(fields)}" for p, fields in report.subscribed.items() if fields
    ]
    if subscribed:
        print("登録済みのWebhook：" + " / ".join(subscribed), file=out)
    if report.ok:
        print("すべての項目が ✔ です。ページかInstagramにコメントがあると、審査キューに届きます。", file=out)
    else:
        print(
            "✘ の項目を「→」のとおり直してから、もう一度 `shakyo-mod meta connect` を実行してください。",
            file=out,
        )


def print_overview(view: MetaOverview, report: ConnectionReport, out: TextIO) -> None:
    now = time.time()
    for p in view.platforms:
        print(f"[{p.name_ja}] {p.account_id}", file=out)
        print(f"  トークン：{p.owner_ja}", file=out)
        print(f"  有効期限：{p.expiry_ja}", file=out)
        print(f"  権限：{p.permissions_ja}", file=out)
        print(f"  Webhook登録：{p.subscribed_ja}", file=out)
        last = jst(p.last_webhook) if p.last_webhook else "まだ届いていません"
        print(f"  最後に届いたWebhook：{last}", file=out)
        if p.silence_ja:
            print(f"  ⚠ {p.silence_ja}", file=out)
    for warning in lapse_warnings(report, now):
        print(f"⚠ {warning.message_ja(now)}", file=out)
