"""Meta connection status: lapse warnings at 14 / 3 days and on expiry (time frozen by passing `now`), their
outgoing webhook sent once, the banners, the last webhook per platform, the silence warning, and
`shakyo-mod meta connect` / `status` as a subprocess against the fake Graph API."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest
import redis

from service import keys
from service.hours import JST
from service.meta_status.lapse import lapse_warnings, notify_lapses, webhook_sender
from service.meta_status.monitor import monitor_thread, senders
from service.meta_status.overview import overview, silence_ja
from service.meta_status.state import STATUS_KEY, load_report, save_report
from service.reconcile.sync import MISSED_INDEX
from service.settings import Settings
from service.ui.common import token_banners
from tests.conftest import REPO
from tests.fakes.fake_graph import FakeGraph, FakeToken
from tests.fakes.smtp import smtp_server
from tests.service.test_incidents import Receiver, receiver  # noqa: F401 (the receiver fixture)
from tests.service.test_webhook_route import post
from tests.webhooks.payloads import (
    IG_ACCOUNT_ID,
    PAGE_ID,
    fb_comment,
    fb_payload,
    ig_comment,
    ig_payload,
    to_body,
)
from webhooks.connect import FACEBOOK_PERMISSIONS, INSTAGRAM_PERMISSIONS, ConnectionReport, TokenStatus

DAY = 86400
# The token lapses at 09:00 JST on 2027-01-15; "now" is set relative to it in each test.
LAPSE = datetime(2027, 1, 15, 9, 0, tzinfo=JST).timestamp()


def report_with(**tokens: TokenStatus) -> ConnectionReport:
    return ConnectionReport(checked_at=LAPSE - 30 * DAY, tokens=dict(tokens))


def fb_token(*, expires_at: int = int(LAPSE), data_access_expires_at: int = 0) -> TokenStatus:
    return TokenStatus(
        "facebook",
        owner_id=PAGE_ID,
        owner_name="美祢市社会福祉協議会",
        kind="PAGE",
        valid=True,
        expires_at=expires_at,
        data_access_expires_at=data_access_expires_at,
        scopes=list(FACEBOOK_PERMISSIONS),
    )


@pytest.mark.parametrize(
    ("days_before", "level"),
    [
        (30, None),
        (14.01, None),
        (14, "14"),
        (10, "14"),
        (3.01, "14"),
        (3, "3"),
        (0.5, "3"),
        (0, "expired"),
        (-2, "expired"),
    ],
)
def test_lapse_warnings_fire_at_14_and_3_days(days_before: float, level: str | None) -> None:
    now = LAPSE - days_before * DAY
    warnings = lapse_warnings(report_with(facebook=fb_token()), now)
    assert [w.level for w in warnings] == ([level] if level else [])


def test_a_token_that_never_expires_warns_by_its_data_access_expiry() -> None:
    report = report_with(facebook=fb_token(expires_at=0, data_access_expires_at=int(LAPSE)))
    assert lapse_warnings(report, LAPSE - 100 * DAY) == []
    [warning] = lapse_warnings(report, LAPSE - 5 * DAY)
    assert warning.level == "14" and warning.days_left(LAPSE - 5 * DAY) == 5
    assert lapse_warnings(report_with(facebook=fb_token(expires_at=0)), LAPSE) == []


def test_messages_name_the_platform_the_date_and_the_days_left() -> None:
    [warning] = lapse_warnings(report_with(facebook=fb_token()), LAPSE - 3 * DAY)
    message = warning.message_ja(LAPSE - 3 * DAY)
    assert "Facebookのアクセストークンの有効期限まであと3日です（2027-01-15 09:00まで）" in message
    assert "SHAKYO_FACEBOOK_PAGE_TOKEN" in message
    [expired] = lapse_warnings(report_with(facebook=fb_token()), LAPSE + 60)
    assert "有効期限が切れています（2027-01-15 09:00）" in expired.message_ja(LAPSE + 60)


def test_each_warning_goes_to_the_outgoing_webhook_once(r: redis.Redis, receiver: Receiver) -> None:  # noqa: F811
    report = report_with(facebook=fb_token())
    send = [webhook_sender(receiver.url)]
    assert notify_lapses(r, report, LAPSE - 20 * DAY, send) == []
    first = notify_lapses(r, report, LAPSE - 14 * DAY, send)
    assert [w.level for w in first] == ["14"]
    for day in (13, 12, 5):  # the same level again, and from another process: nothing new
        assert notify_lapses(r, report, LAPSE - day * DAY, send) == []
    assert [w.level for w in notify_lapses(r, report, LAPSE - 3 * DAY, send)] == ["3"]
    assert [w.level for w in notify_lapses(r, report, LAPSE + 1, send)] == ["expired"]
    assert [b["level"] for b in receiver.bodies] == ["14", "3", "expired"]
    assert receiver.bodies[0]["event"] == "token_lapse" and receiver.bodies[0]["platform"] == "facebook"
    assert "あと14日" in receiver.bodies[0]["text"]
    # A renewed token lapsing later warns afresh.
    renewed = report_with(facebook=fb_token(expires_at=int(LAPSE + 60 * DAY)))
    assert [w.level for w in notify_lapses(r, renewed, LAPSE + 47 * DAY, send)] == ["14"]


def test_warnings_are_mailed_when_smtp_is_configured(
    r: redis.Redis,
    make_settings: Callable[..., Settings],
    receiver: Receiver,  # noqa: F811
) -> None:
    with smtp_server() as (port, inbox):
        settings = make_settings(
            smtp_host="127.0.0.1",
            smtp_port=port,
            smtp_starttls=False,
            smtp_from="moderation@shakyo.example.jp",
            notify_email_to="kanri@shakyo.example.jp",
            flare_webhook_url=receiver.url,
        )
        report = report_with(facebook=fb_token())
        notify_lapses(r, report, LAPSE - 3 * DAY, senders(settings))
        notify_lapses(r, report, LAPSE - 2 * DAY, senders(settings))  # the same level: nothing more
        (msg,) = inbox.wait_for(1)
    assert msg["Subject"] == "【要対応】Facebookのアクセストークンの期限が近づいています"
    assert "あと3日です（2027-01-15 09:00まで）" in msg.get_content()
    assert len(inbox.messages) == 1 and [b["level"] for b in receiver.bodies] == ["3"]
    assert senders(make_settings()) == []  # neither configured: the banner only


def test_banners_show_lapses_and_join_expired_tokens_to_the_existing_banner(r: redis.Redis) -> None:
    soon = TokenStatus(
        "instagram", valid=True, expires_at=int(time.time() + 2 * DAY), data_access_expires_at=0
    )
    gone = fb_token(expires_at=int(time.time() - DAY))
    save_report(r, report_with(facebook=gone, instagram=soon))
    problems, lapses = token_banners(r)
    assert "Facebookのアクセストークンの有効期限が切れています" in problems["facebook"]
    assert len(lapses) == 1 and "Instagramのアクセストークンの有効期限まであと1日です" in lapses[0]
    # A token the last check found refused for another reason shows too.
    refused = TokenStatus(
        "instagram",
        valid=False,
        error="Metaアカウントのパスワードが変更されたため、トークンが使えなくなりました。",
    )
    save_report(r, report_with(facebook=gone, instagram=refused))
    assert "パスワードが変更された" in token_banners(r)[0]["instagram"]
    # A refusal the action worker recorded keeps its own message.
    r.hset("{shakyo}:graph:token_problem", "facebook", "アクセストークンの有効期限が切れています。")
    assert token_banners(r)[0]["facebook"] == "アクセストークンの有効期限が切れています。"


def test_a_stored_report_round_trips_and_garbage_reads_as_none(r: redis.Redis) -> None:
    report = report_with(facebook=fb_token())
    save_report(r, report)
    assert load_report(r) == report
    r.set(STATUS_KEY, "{not json")
    assert load_report(r) is None


def test_webhooks_record_when_each_platform_last_sent(app_url: str, r: redis.Redis) -> None:
    before = time.time()
    assert (
        post(app_url, to_body(fb_payload(PAGE_ID, [fb_comment(f"{PAGE_ID}_9_1", "こんにちは")]))).status_code
        == 200
    )
    last = r.hgetall(keys.LAST_WEBHOOK)
    assert set(last) == {"facebook"} and float(last["facebook"]) >= before
    body = to_body(ig_payload(IG_ACCOUNT_ID, [ig_comment("17009", "素敵です")]), ascii_only=False)
    assert post(app_url, body).status_code == 200
    assert set(r.hgetall(keys.LAST_WEBHOOK)) == {"facebook", "instagram"}


def test_silence_warning_after_the_configured_hours(
    r: redis.Redis, make_settings: Callable[..., Settings]
) -> None:
    settings = make_settings(webhook_silence_hours=6)
    now = LAPSE
    r.hset(keys.LAST_WEBHOOK, mapping={"facebook": repr(now - 5 * 3600), "instagram": repr(now - 7 * 3600)})
    view = overview(r, settings, now)
    by = {p.platform: p for p in view.platforms}
    assert by["facebook"].silence_ja == ""
    assert by["instagram"].silence_ja.startswith("6時間以上Webhookが届いていません（最後は2027-01-15 02:00）")
    assert "ページが静かなだけかもしれません" in by["instagram"].silence_ja
    assert "一度も届いていません" in silence_ja(None, now, 24)
    assert make_settings().webhook_silence_hours == 24
    # The reconciliation job found Instagram comments posted during the silence: the subscription is broken.
    r.zadd(MISSED_INDEX, {"instagram:17001": now - 3 * 3600, "instagram:17002": now - 2 * 3600})
    r.zadd(MISSED_INDEX, {"instagram:16000": now - 30 * 3600, "facebook:1_2": now - 3600})
    by = {p.platform: p for p in overview(r, settings, now).platforms}
    assert "照合でその間のコメントが2件見つかりました" in by["instagram"].silence_ja
    assert by["facebook"].silence_ja == ""  # its webhooks still arrive


# -- the command, as the council's IT contact runs it -----------------------------------------------


@pytest.fixture
def graph() -> Any:
    with FakeGraph(app_secret="cli-secret", tokens=()) as fake:
        fake.add_page(PAGE_ID, "美祢市社会福祉協議会", instagram_account_id=IG_ACCOUNT_ID)
        scopes = tuple(dict.fromkeys(FACEBOOK_PERMISSIONS + INSTAGRAM_PERMISSIONS["facebook"]))
        fake.add_token("cli-page-token", FakeToken("PAGE", PAGE_ID, "美祢市社会福祉協議会", scopes))
        fake.subscribe_app("page", "feed")
        fake.subscribe_app("instagram", "comments", "live_comments")
        yield fake


def run_meta(command: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "service", "meta", command],
        env=env,
        cwd=env["SHAKYO_DATA_DIR"],  # no .env from the repository
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_meta_connect_command_subscribes_both_platforms(
    graph: FakeGraph, cli_env: dict[str, str], redis_url: str, r: redis.Redis
) -> None:
    os.makedirs(cli_env["SHAKYO_DATA_DIR"], exist_ok=True)
    env = {
        **cli_env,
        "PYTHONPATH": str(REPO),
        "SHAKYO_REDIS_URL": redis_url,
        "SHAKYO_GRAPH_API_URL": graph.base_url,
        "SHAKYO_META_APP_ID": graph.app_id,
        "SHAKYO_META_APP_SECRET": "cli-secret",
        "SHAKYO_META_VERIFY_TOKEN": "cli-verify",
        "SHAKYO_FACEBOOK_PAGE_ID": PAGE_ID,
        "SHAKYO_INSTAGRAM_ACCOUNT_ID": IG_ACCOUNT_ID,
        "SHAKYO_FACEBOOK_PAGE_TOKEN": "cli-page-token",
        "SHAKYO_INSTAGRAM_TOKEN": "cli-page-token",
    }
    first = run_meta("connect", env)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "✘" not in first.stdout
    assert "✔ ページのWebhook登録（feed）：今回登録しました" in first.stdout
    assert "✔ Instagramの通知（ページ経由）" in first.stdout
    assert (
        "登録済みのWebhook：Facebookページ：feed / Instagramアカウント：comments、live_comments"
        in first.stdout
    )
    assert graph.pages[PAGE_ID].subscribed == {graph.app_id: ["feed"]}
    stored = load_report(r)
    assert stored is not None and stored.subscribed["facebook"] == ["feed"]
    assert "cli-page-token" not in (first.stdout + first.stderr + r.get(STATUS_KEY))

    again = run_meta("connect", env)
    assert again.returncode == 0 and "登録しました" not in again.stdout and "登録済みです" in again.stdout
    assert len([c for c in graph.calls if c.method == "POST"]) == 1

    status = run_meta("status", env)
    assert status.returncode == 0, status.stdout + status.stderr
    assert (
        "[Facebook] " + PAGE_ID in status.stdout
        and "最後に届いたWebhook：まだ届いていません" in status.stdout
    )


def test_meta_connect_without_the_app_secret_says_which_setting(cli_env: dict[str, str]) -> None:
    os.makedirs(cli_env["SHAKYO_DATA_DIR"], exist_ok=True)
    done = run_meta("connect", {**cli_env, "PYTHONPATH": str(REPO)})
    assert done.returncode == 2 and "SHAKYO_META_APP_SECRET" in done.stderr


def test_the_monitor_checks_read_only_and_stops_cleanly(
    graph: FakeGraph, make_settings: Callable[..., Settings], r: redis.Redis, redis_url: str
) -> None:
    settings = make_settings(
        graph_api_url=graph.base_url,
        meta_app_secret="cli-secret",
        meta_app_id=graph.app_id,
        facebook_page_token="cli-page-token",
        instagram_token="cli-page-token",
    )
    monitor = monitor_thread(redis.Redis.from_url(redis_url, decode_responses=True), settings)
    assert monitor is not None
    monitor.start()
    deadline = time.monotonic() + 30
    while load_report(r) is None:
        assert time.monotonic() < deadline, "the monitor never stored a report"
        time.sleep(0.05)
    monitor.stop()
    assert not monitor.is_alive()
    stored = load_report(r)
    assert stored is not None and stored.tokens["facebook"].owner_id == PAGE_ID
    assert [c for c in graph.calls if c.method == "POST"] == []  # it only reads
    assert (
        monitor_thread(
            redis.Redis.from_url(redis_url), make_settings(facebook_page_id=None, instagram_account_id=None)
        )
        is None
    )
