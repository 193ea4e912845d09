"""相談 items on a real Redis: never hidden automatically, notified at any hour, their own status flow."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import datetime

import pytest
import redis

from classifiers.categories import Severity
from classifiers.verdict import Match
from service import keys, moderation
from service.audit import AuditLog
from service.hours import JST, EmergencyMode, should_auto_hide
from service.incidents import FlareDetector
from service.moderation import ACTIONS_STREAM, Moderation
from service.reports.figures import compute
from service.reports.load import load_report_data
from service.reports.render_html import render_html
from service.reports.week import IsoWeek
from service.settings import Settings
from service.store import Store
from service.support.desk import DONE, IN_PROGRESS, OPEN, SupportDesk, SupportError
from service.worker import Worker, ensure_group
from tests.conftest import enqueue, fb
from tests.fakes.smtp import smtp_server
from tests.service.test_incidents import Receiver
from tests.service.test_moderation import flagged_verdict
from webhooks.events import CommentEvent

WEDNESDAY_3AM = datetime(2026, 11, 25, 3, 0, tzinfo=JST)
WEEKDAY_NOON = datetime(2026, 11, 25, 12, 0, tzinfo=JST)
SATURDAY_NOON = datetime(2026, 11, 28, 12, 0, tzinfo=JST)
HOLIDAY_NOON = datetime(2026, 11, 23, 12, 0, tzinfo=JST)  # 勤労感謝の日
# Flagged as a threat (high) and in crisis at once: the case where hiding it would do most harm.
CRISIS_THREAT = "殺してやる、もう死にたい"

_seq = iter(range(1, 1_000_000))


def add_crisis(r: redis.Redis, *, needs_support: bool = True, text: str = CRISIS_THREAT) -> str:
    """Store a high-severity flagged comment the way the worker does; with or without needs_support."""
    n = next(_seq)
    event = CommentEvent("facebook", "555", f"555_{n}", "add", text, post_id="555_1", author_name="山口 花子")
    verdict = flagged_verdict(["threat"], Severity.HIGH, text, "殺してやる")
    if needs_support:
        start = text.index("死にたい")
        match = Match("support:suicide:1", "suicide", start, start + 4, "死にたい", Severity.NONE)
        verdict = replace(verdict, needs_support=True, support_kind="suicide", support_matches=[match])
    Store(r).apply_event(f"{n}-0", event, received_at=time.time(), verdict=verdict)
    return keys.item_id("facebook", f"555_{n}")


def hide_requests(r: redis.Redis, item: str) -> list[dict[str, str]]:
    return [f for _id, f in r.xrange(ACTIONS_STREAM) if f["item_id"] == item and f["action"] == "hide"]


# -- never hidden automatically --------------------------------------------------------------------


@pytest.mark.parametrize("emergency", [False, True])
@pytest.mark.parametrize("at", [WEEKDAY_NOON, WEDNESDAY_3AM, SATURDAY_NOON, HOLIDAY_NOON])
def test_the_auto_hide_rule_never_hides_a_comment_that_needs_support(at: datetime, emergency: bool) -> None:
    assert not should_auto_hide(Severity.HIGH, at, emergency, min_severity=Severity.LOW, needs_support=True)


@pytest.mark.parametrize(
    ("at", "emergency"),
    [
        (WEEKDAY_NOON, False),
        (datetime(2026, 11, 25, 8, 29, tzinfo=JST), False),
        (datetime(2026, 11, 25, 17, 15, tzinfo=JST), False),
        (WEDNESDAY_3AM, False),
        (SATURDAY_NOON, False),
        (HOLIDAY_NOON, False),
        (WEEKDAY_NOON, True),
        (WEDNESDAY_3AM, True),
    ],
    ids=["in-hours", "before-8:30", "at-17:15", "3am", "weekend", "holiday", "emergency", "emergency-3am"],
)
def test_after_flagged_never_hides_needs_support(r: redis.Redis, at: datetime, emergency: bool) -> None:
    m = Moderation(r)
    crisis = add_crisis(r)
    m.after_flagged_many([crisis], flares=FlareDetector(r, 5, 600), emergency=emergency, at=at)
    assert not m.state(crisis).inflight and hide_requests(r, crisis) == []
    assert m.store.get(crisis).status == "pending"  # staff still see it in the queue
    if emergency or at != WEEKDAY_NOON:
        # The same comment without the crisis is hidden then: the rule, not the time, spared the other one.
        control = add_crisis(r, needs_support=False)
        m.after_flagged_many([control], flares=FlareDetector(r, 5, 600), emergency=emergency, at=at)
        assert m.state(control).inflight == "hide"


# -- the worker: 相談 item, notification at 3 a.m., no auto-hide --------------------------------------


@pytest.fixture
def frozen_3am(monkeypatch: pytest.MonkeyPatch) -> Iterator[datetime]:
    """The auto-hide decision sees 3 a.m. on a Wednesday (outside operating hours)."""
    monkeypatch.setattr(moderation, "now_jst", lambda at=None: at or WEDNESDAY_3AM)
    yield WEDNESDAY_3AM


def test_worker_at_3am_opens_an_item_notifies_by_webhook_and_mail_and_hides_nothing(
    r: redis.Redis, redis_url: str, make_settings: Callable[..., Settings], frozen_3am: datetime
) -> None:
    receiver = Receiver()
    try:
        with smtp_server() as (port, inbox):
            settings = make_settings(
                flare_webhook_url=receiver.url,
                smtp_host="127.0.0.1",
                smtp_port=port,
                smtp_starttls=False,
                smtp_from="moderation@shakyo.example.jp",
                notify_email_to="soudan@shakyo.example.jp",
                public_url="https://mod.shakyo.example.jp",
            )
            ensure_group(r)
            posted = frozen_3am.timestamp()
            enqueue(
                redis_url,
                fb("9_1", CRISIS_THREAT, created_time=posted),
                fb("9_2", "いつもありがとうございます"),
                received_at=posted,
            )
            Worker(r, settings).drain()
            (mail,) = inbox.wait_for(1)
    finally:
        receiver.close()
    item_id = keys.item_id("facebook", "9_1")
    desk = SupportDesk(r)
    item = desk.get(item_id)
    assert item is not None and (item.kind, item.status) == ("suicide", OPEN)
    assert desk.open_count() == 1 and [i.item_id for i in desk.newest()] == [item_id]
    # e-mail: kind, time in JST, the text and the link
    assert "希死念慮" in mail["Subject"] and "至急" in mail["Subject"]
    body = mail.get_content()
    assert "2026-11-25 03:00" in body and CRISIS_THREAT in body
    assert "https://mod.shakyo.example.jp/support/facebook:9_1" in body
    # webhook: the same, as JSON
    (hook,) = receiver.bodies
    assert hook["event"] == "needs_support" and hook["item_id"] == item_id and hook["kind"] == "suicide"
    # flagged as a threat, still never hidden: no hide request at 3 a.m.
    comment = Store(r).get(item_id)
    assert comment.flagged and comment.status == "pending" and comment.needs_support
    assert hide_requests(r, item_id) == []
    actions = [e.action for e in AuditLog(r).entries(item_id=item_id)]
    assert actions == ["support_detected", "support_notified"]
    # the same comment edited later keeps its item and tells nobody twice
    enqueue(redis_url, fb("9_1", CRISIS_THREAT + "。本当に", verb="edited"), received_at=posted + 60)
    Worker(r, settings).drain()
    assert len(receiver.bodies) == 1 and len(inbox.messages) == 1
    assert desk.get(item_id).status == OPEN


def test_worker_in_emergency_mode_hides_the_toxic_comment_but_not_the_one_in_crisis(
    r: redis.Redis, redis_url: str, settings: Settings
) -> None:
    EmergencyMode(r).enable("admin", "大雨による災害対応")
    ensure_group(r)
    enqueue(redis_url, fb("8_1", CRISIS_THREAT), fb("8_2", "死ねよクズ"))
    Worker(r, settings).drain()
    assert hide_requests(r, keys.item_id("facebook", "8_1")) == []
    assert len(hide_requests(r, keys.item_id("facebook", "8_2"))) == 1


def test_notification_failures_are_audited_and_the_item_stays(
    r: redis.Redis, redis_url: str, make_settings: Callable[..., Settings]
) -> None:
    failing = Receiver(status=500)
    try:
        settings = make_settings(flare_webhook_url=failing.url)
        ensure_group(r)
        enqueue(redis_url, fb("7_1", "3日何も食べてない"))
        Worker(r, settings).drain()
    finally:
        failing.close()
    item_id = keys.item_id("facebook", "7_1")
    assert SupportDesk(r).get(item_id).kind == "poverty"
    last = [e for e in AuditLog(r).entries(item_id=item_id)][-1]
    assert last.action == "support_notify_failed" and last.note == "Webhook"


# -- the status flow ---------------------------------------------------------------------------------


def test_status_flow_open_in_progress_done_with_audit(r: redis.Redis) -> None:
    desk = SupportDesk(r)
    item_id = add_crisis(r)
    desk.record(Store(r).get(item_id), now=1000.0)
    assert desk.open_count() == 1
    started = desk.start(item_id, actor="tanaka", role="staff", now=1300.0)
    assert (started.status, started.assignee, started.first_response_at) == (IN_PROGRESS, "tanaka", 1300.0)
    assert desk.open_count() == 0
    with pytest.raises(SupportError, match="対応中"):
        desk.start(item_id, actor="suzuki", role="staff")
    with pytest.raises(SupportError, match="対応内容"):
        desk.finish(item_id, "ignored", actor="tanaka", role="staff")
    done = desk.finish(
        item_id, "called", actor="tanaka", role="staff", note="ご本人と電話で話した", now=2000.0
    )
    assert (done.status, done.outcome_ja, done.note, done.first_response_at) == (
        DONE,
        "電話した",
        "ご本人と電話で話した",
        1300.0,
    )
    with pytest.raises(SupportError, match="すでに対応済み"):
        desk.finish(item_id, "replied", actor="tanaka", role="staff")
    entries = [e for e in AuditLog(r).entries(item_id=item_id) if e.action.startswith("support_")]
    assert [(e.action, e.actor) for e in entries] == [
        ("support_detected", "system"),
        ("support_started", "tanaka"),
        ("support_done", "tanaka"),
    ]
    assert entries[-1].note == "電話した：ご本人と電話で話した"


def test_an_open_item_can_be_closed_directly(r: redis.Redis) -> None:
    desk = SupportDesk(r)
    item_id = add_crisis(r)
    desk.record(Store(r).get(item_id), now=1000.0)
    done = desk.finish(item_id, "not_needed", actor="suzuki", role="staff", now=1100.0)
    assert (done.status, done.assignee, done.first_response_at) == (DONE, "suzuki", 1100.0)
    assert desk.open_count() == 0


def test_weekly_report_counts_by_kind_and_times_the_first_response_without_text(r: redis.Redis) -> None:
    desk = SupportDesk(r)
    monday = datetime(2026, 11, 23, 9, 0, tzinfo=JST).timestamp()
    first, second = add_crisis(r), add_crisis(r, text="3日何も食べてない、もう死にたい")
    desk.record(Store(r).get(first), now=monday)
    desk.record(Store(r).get(second), now=monday + 3600)
    desk.start(first, actor="tanaka", role="staff", now=monday + 10 * 60)
    desk.finish(first, "replied", actor="tanaka", role="staff", now=monday + 20 * 60)
    desk.finish(second, "referred", actor="suzuki", role="staff", now=monday + 3600 + 30 * 60)
    week = IsoWeek.containing(datetime.fromtimestamp(monday, JST))
    report = compute(load_report_data(r, week), lambda text: text)
    support = report["support"]
    assert support["total"] == 2 and support["by_kind"]["suicide"] == 2
    assert support["by_outcome"] == {"replied": 1, "called": 0, "referred": 1, "not_needed": 0}
    assert (support["first_response_minutes_median"], support["first_response_minutes_max"]) == (20.0, 30.0)
    assert support["unanswered_at_week_end"] == 0
    html = render_html(report)
    assert "相談が必要なコメント：2件" in html and "中央値 20.0分" in html
    assert "死にたい" not in html.split("相談が必要なコメント：")[1].split("</p>")[0]
