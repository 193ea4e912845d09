"""The moderation status machine on a real Redis server: transitions, roles, audit, auto-hide."""

from __future__ import annotations

import json
import time
from datetime import datetime
from pathlib import Path

import pytest
import redis

from classifiers.categories import CATEGORIES, Severity
from classifiers.verdict import Match, Verdict
from service import keys
from service.accounts import AccountStore, Role
from service.audit import AuditLog
from service.hours import JST
from service.incidents import FlareDetector
from service.moderation import (
    ACTIONS_STREAM,
    PROCESSING,
    ActionRequest,
    Moderation,
    ModerationError,
    author_key,
)
from service.store import Store
from tests.conftest import run_cli
from webhooks.events import CommentEvent
from webhooks.graph import ActionResult

_seq = iter(range(1, 1_000_000))


def flagged_verdict(categories: list[str], severity: Severity, text: str, span: str | None = None) -> Verdict:
    matches = []
    if span and span in text:
        start = text.index(span)
        matches.append(
            Match(f"lex:{categories[0]}:0001", categories[0], start, start + len(span), span, severity)
        )
    return Verdict(
        flagged=True,
        categories=categories,
        scores={c: (0.9 if c in categories else 0.0) for c in CATEGORIES},
        severity=severity,
        clauses=[cl for c in categories for cl in CATEGORIES[c].clauses],
        action=CATEGORIES[categories[0]].default_action,
        matches=matches,
    )


def add_flagged(
    r: redis.Redis,
    text: str = "お前はほんとうにバカだな",
    *,
    platform: str = "facebook",
    comment_id: str | None = None,
    categories: list[str] | None = None,
    severity: Severity = Severity.MEDIUM,
    span: str | None = "バカ",
    author: str = "山口 花子",
    author_id: str = "u100",
    post_id: str = "555_777",
    parent_id: str | None = None,
    received_at: float | None = None,
) -> str:
    """Store one flagged comment the way the worker does (Store.apply_event); returns its item id."""
    n = next(_seq)
    cid = comment_id or (f"555_{1000 + n}" if platform == "facebook" else f"1789{1000 + n}")
    event = CommentEvent(
        platform=platform,  # type: ignore[arg-type]
        account_id="555" if platform == "facebook" else "1784",
        comment_id=cid,
        verb="add",
        text=text,
        post_id=post_id,
        parent_id=parent_id,
        author_id=author_id,
        author_name=author,
        entry_time=received_at,
    )
    verdict = flagged_verdict(categories or ["insult"], severity, text, span)
    Store(r).apply_event(f"{n}-0", event, received_at=received_at or time.time(), verdict=verdict)
    return keys.item_id(platform, cid)


def ok(action: str = "delete") -> ActionResult:
    return ActionResult(True, "done", "完了しました。", attempts=1)


def pending_request(r: redis.Redis, item: str) -> ActionRequest:
    entries = r.xrange(ACTIONS_STREAM)
    fields = [f for _id, f in entries if f["item_id"] == item][-1]
    return ActionRequest.from_fields(fields)


def test_delete_waits_for_meta_then_is_deleted_with_audit(r: redis.Redis) -> None:
    m = Moderation(r)
    item = add_flagged(r)
    out = m.decide(item, "delete", actor="tanaka", role="staff", note="明らかな侮辱")
    assert (out.from_status, out.to_status, out.queued) == ("pending", PROCESSING, "delete")
    assert m.store.get(item).status == PROCESSING
    assert m.state(item).inflight == "delete"
    request = pending_request(r, item)
    assert request.action == "delete" and request.actor == "tanaka"
    # Not deleted until Meta says so.
    assert m.store.get(item).status != "deleted"
    assert m.complete(request, ok()) == "deleted"
    assert m.store.get(item).status == "deleted"
    assert m.state(item).meta_deleted and not m.state(item).inflight
    trail = [
        (e.action, e.actor, e.from_status, e.to_status, e.note) for e in AuditLog(r).entries(item_id=item)
    ]
    assert trail == [
        ("delete_requested", "tanaka", "pending", PROCESSING, "明らかな侮辱"),
        ("deleted", "tanaka", PROCESSING, "deleted", "完了しました。"),
    ]


def test_refused_call_becomes_action_failed_with_reason_and_can_be_retried(r: redis.Redis) -> None:
    m = Moderation(r)
    item = add_flagged(r)
    m.decide(item, "hide", actor="tanaka", role="staff")
    refused = ActionResult(
        False, "permission", "この操作を行う権限がアプリにありません。", code=200, attempts=1
    )
    assert m.complete(pending_request(r, item), refused) == "action_failed"
    state = m.state(item)
    assert state.failure == "この操作を行う権限がアプリにありません。" and state.failed_action == "hide"
    assert json.loads(AuditLog(r).latest(1)[0].detail)["code"] == 200
    m.decide(item, "hide", actor="tanaka", role="staff")
    assert m.state(item).failure == ""
    assert m.complete(pending_request(r, item), ok("hide")) == "hidden"


def test_already_gone_is_done_and_shown_as_removed_on_platform(r: redis.Redis) -> None:
    m = Moderation(r)
    item = add_flagged(r)
    m.decide(item, "delete", actor="tanaka", role="staff")
    gone = ActionResult(
        True, "already_gone", "コメントはすでに削除されているか、見つかりませんでした。", 100, 33, 1
    )
    assert m.complete(pending_request(r, item), gone) == "removed_on_platform"
    with pytest.raises(ModerationError, match="すでに削除"):
        m.decide(item, "delete", actor="tanaka", role="staff")


def test_completing_the_same_request_twice_records_it_once(r: redis.Redis) -> None:
    m = Moderation(r)
    item = add_flagged(r)
    m.decide(item, "delete", actor="tanaka", role="staff")
    request = pending_request(r, item)
    m.complete(request, ok())
    m.complete(request, ActionResult(False, "failed", "失敗"))
    assert m.store.get(item).status == "deleted"
    assert [e.action for e in AuditLog(r).entries(item_id=item)] == ["delete_requested", "deleted"]


def test_a_second_click_while_in_flight_is_refused_and_queues_nothing(r: redis.Redis) -> None:
    m = Moderation(r)
    item = add_flagged(r)
    m.decide(item, "delete", actor="tanaka", role="staff")
    with pytest.raises(ModerationError, match="削除処理中"):
        m.decide(item, "delete", actor="suzuki", role="staff")
    assert r.xlen(ACTIONS_STREAM) == 1


def test_dismiss_and_escalate_need_no_meta_call(r: redis.Redis) -> None:
    m = Moderation(r)
    a, b = add_flagged(r), add_flagged(r)
    assert m.decide(a, "dismiss", actor="tanaka", role="staff").to_status == "dismissed"
    assert m.decide(b, "escalate", actor="tanaka", role="staff", note="判断に迷う").to_status == "escalated"
    assert not r.exists(ACTIONS_STREAM)
    assert Store(r).count_by_status()["escalated"] == 1


def test_only_a_chief_decides_an_escalated_item(r: redis.Redis) -> None:
    m = Moderation(r)
    item = add_flagged(r)
    m.decide(item, "escalate", actor="tanaka", role="staff")
    with pytest.raises(ModerationError, match="課長または管理者"):
        m.decide(item, "delete", actor="tanaka", role="staff")
    out = m.decide(item, "delete", actor="kacho", role="chief", note="削除でよい")
    assert out.to_status == PROCESSING
    entry = AuditLog(r).latest(1)[0]
    assert (entry.action, entry.role, entry.from_status) == ("approved", "chief", "escalated")
    assert json.loads(entry.detail)["decision"] == "delete"


def test_unknown_or_impossible_decisions_are_refused(r: redis.Redis) -> None:
    m = Moderation(r)
    item = add_flagged(r)
    with pytest.raises(ModerationError):
        m.decide(item, "destroy", actor="tanaka", role="staff")
    with pytest.raises(ModerationError, match="見つかりません"):
        m.decide("facebook:nope", "delete", actor="tanaka", role="staff")
    m.decide(item, "dismiss", actor="tanaka", role="staff")
    with pytest.raises(ModerationError, match="問題なし"):
        m.decide(item, "escalate", actor="tanaka", role="staff")
    with pytest.raises(ModerationError, match="非表示になっていません"):
        m.decide(add_flagged(r), "unhide", actor="tanaka", role="staff")


# -- auto-hide outside operating hours (policy 3(1)ウ) --------------------------------------------------

WEEKDAY_NIGHT = datetime(2026, 11, 25, 22, 0, tzinfo=JST)  # Wednesday
WEEKDAY_NOON = datetime(2026, 11, 25, 12, 0, tzinfo=JST)


def test_high_severity_is_auto_hidden_at_night_and_stays_pending(r: redis.Redis) -> None:
    m = Moderation(r)
    item = add_flagged(r, "殺してやる", categories=["threat"], severity=Severity.HIGH, span="殺してやる")
    assert m.auto_hide_due([item], emergency=False, at=WEEKDAY_NIGHT) == [item]
    request = pending_request(r, item)
    assert (request.action, request.actor) == ("hide", "system")
    assert m.store.get(item).status == "pending"
    assert not m.auto_hide_due([item], emergency=False, at=WEEKDAY_NIGHT)  # already queued
    assert m.complete(request, ok("hide")) == "pending"
    state = m.state(item)
    assert state.auto_hidden and state.meta_hidden
    assert AuditLog(r).latest(1)[0].action == "auto_hidden"


def test_auto_hide_skips_office_hours_low_severity_and_acted_items(r: redis.Redis) -> None:
    m = Moderation(r)
    high = add_flagged(r, "殺してやる", categories=["threat"], severity=Severity.HIGH, span="殺してやる")
    medium = add_flagged(r)
    assert not m.auto_hide_due([high], emergency=False, at=WEEKDAY_NOON)
    assert not m.auto_hide_due([medium], emergency=False, at=WEEKDAY_NIGHT)
    assert m.auto_hide_due([high], emergency=True, at=WEEKDAY_NOON) == [high]  # 緊急モード: at all hours
    done = add_flagged(r, "殺してやる", categories=["threat"], severity=Severity.HIGH, span="殺してやる")
    m.decide(done, "escalate", actor="tanaka", role="staff")
    assert not m.auto_hide_due([done], emergency=True, at=WEEKDAY_NOON)


def test_dismissing_an_auto_hidden_item_shows_it_again_first(r: redis.Redis) -> None:
    m = Moderation(r)
    item = add_flagged(r, "殺してやる", categories=["threat"], severity=Severity.HIGH, span="殺してやる")
    m.auto_hide_due([item], emergency=False, at=WEEKDAY_NIGHT)
    m.complete(pending_request(r, item), ok("hide"))
    out = m.decide(item, "dismiss", actor="tanaka", role="staff", note="冗談の文脈")
    assert (out.to_status, out.queued) == (PROCESSING, "unhide")
    assert m.complete(pending_request(r, item), ok("unhide")) == "dismissed"
    assert not m.state(item).meta_hidden and not m.state(item).auto_hidden


def test_hiding_an_auto_hidden_item_needs_no_second_call(r: redis.Redis) -> None:
    m = Moderation(r)
    item = add_flagged(r, "殺してやる", categories=["threat"], severity=Severity.HIGH, span="殺してやる")
    m.auto_hide_due([item], emergency=False, at=WEEKDAY_NIGHT)
    m.complete(pending_request(r, item), ok("hide"))
    before = r.xlen(ACTIONS_STREAM)
    assert m.decide(item, "hide", actor="tanaka", role="staff").to_status == "hidden"
    assert r.xlen(ACTIONS_STREAM) == before


def test_author_history_lists_earlier_flagged_comments(r: redis.Redis) -> None:
    m = Moderation(r)
    first = add_flagged(r, "バカばっかり", author_id="u9", received_at=time.time() - 60)
    second = add_flagged(r, "またバカ", author_id="u9")
    other = add_flagged(r, "バカ", author_id="u10")
    for item in (first, second, other):
        m.index_author(m.store.get(item))
    assert [c.item_id for c in m.author_history(m.store.get(second))] == [first]


SATURDAY_NOON = datetime(2026, 11, 28, 12, 0, tzinfo=JST)
HOLIDAY_NOON = datetime(2026, 11, 23, 12, 0, tzinfo=JST)  # 勤労感謝の日 (a Monday)


@pytest.mark.parametrize(
    ("at", "emergency", "hidden"),
    [
        (WEEKDAY_NOON, False, False),
        (datetime(2026, 11, 25, 8, 29, tzinfo=JST), False, True),
        (datetime(2026, 11, 25, 17, 15, tzinfo=JST), False, True),
        (SATURDAY_NOON, False, True),
        (HOLIDAY_NOON, False, True),
        (WEEKDAY_NOON, True, True),
    ],
    ids=["weekday-open", "before-8:30", "at-17:15", "weekend", "public-holiday", "emergency"],
)
def test_after_flagged_hides_by_operating_hours(
    r: redis.Redis, at: datetime, emergency: bool, hidden: bool
) -> None:
    m = Moderation(r)
    item = add_flagged(r, "殺してやる", categories=["threat"], severity=Severity.HIGH, span="殺してやる")
    m.after_flagged_many([item], flares=FlareDetector(r, 5, 600), emergency=emergency, at=at)
    assert bool(m.state(item).inflight == "hide") is hidden


def test_after_flagged_counts_a_flare_up_on_one_post(r: redis.Redis) -> None:
    m = Moderation(r)
    flares = FlareDetector(r, threshold=3, window_seconds=600)
    start = time.time()
    for i in range(3):
        item = add_flagged(r, f"バカ{i}", post_id="555_900", author_id=f"a{i}", received_at=start + i)
        m.after_flagged_many([item], flares=flares, emergency=False, at=WEEKDAY_NOON)
    other = add_flagged(r, "バカ", post_id="555_901", received_at=start)
    m.after_flagged_many([other], flares=flares, emergency=False, at=WEEKDAY_NOON)
    [flare] = flares.active()
    assert (flare.post_id, flare.comment_count) == ("555_900", 3)


def test_after_flagged_many_does_each_comment_of_a_batch_once(r: redis.Redis) -> None:
    """A worker's batch: every flagged comment indexed under its author, counted towards its post's flare-up,
    and decided for auto-hiding in one transaction; the markers all settled; a second call changes nothing."""
    m = Moderation(r)
    flares = FlareDetector(r, threshold=3, window_seconds=600)
    start = time.time()
    high = [
        add_flagged(
            r,
            f"殺してやる{i}",
            categories=["threat"],
            severity=Severity.HIGH,
            span="殺してやる",
            post_id="555_950",
            author_id=f"b{i}",
            received_at=start + i,
        )
        for i in range(3)
    ]
    medium = add_flagged(r, "バカ", post_id="555_951", author_id="b9", received_at=start)
    batch = [*high, medium]
    assert all(r.zscore(keys.AFTER_FLAG_PENDING, item) is not None for item in batch)
    m.after_flagged_many(batch, flares=flares, emergency=False, at=WEEKDAY_NIGHT)
    m.after_flagged_many(batch, flares=flares, emergency=False, at=WEEKDAY_NIGHT)  # redone: no second hide
    assert [m.state(item).inflight for item in batch] == ["hide", "hide", "hide", ""]
    assert [f["item_id"] for _id, f in r.xrange(ACTIONS_STREAM)] == high
    assert all(r.zscore(keys.AFTER_FLAG_PENDING, item) is None for item in batch)
    assert all(r.zcard(author_key("facebook", f"b{i}")) == 1 for i in (0, 1, 2, 9))
    [flare] = flares.active()
    assert (flare.post_id, flare.comment_count) == ("555_950", 3)


def test_training_decisions_follow_staff_outcomes(r: redis.Redis) -> None:
    m = Moderation(r)
    deleted, dismissed, pending = add_flagged(r, "消えろバカ"), add_flagged(r, "バカ正直な人"), add_flagged(r)
    m.decide(deleted, "delete", actor="tanaka", role="staff")
    m.complete(pending_request(r, deleted), ok())
    m.decide(dismissed, "dismiss", actor="tanaka", role="staff")
    rows = sorted(m.training_decisions(), key=lambda row: str(row["text"]))
    assert rows == [{"text": "バカ正直な人", "labels": []}, {"text": "消えろバカ", "labels": ["insult"]}]
    assert m.store.get(pending).status == "pending"


def test_cli_adds_a_user_and_acts_on_the_queue(
    r: redis.Redis, redis_url: str, cli_env: dict[str, str], tmp_path: Path
) -> None:
    env = {**cli_env, "SHAKYO_REDIS_URL": redis_url}
    added = run_cli(
        ["user", "add", "kanri", "--role", "管理者", "--password-stdin"],
        env,
        cwd=tmp_path,
        stdin="Aozora*Kumo-Ishi64\n",
    )
    assert added.returncode == 0, added.stderr
    assert AccountStore(r).get("kanri").role is Role.ADMIN
    weak = run_cli(
        ["user", "add", "tanaka", "--role", "staff", "--password-stdin"],
        env,
        cwd=tmp_path,
        stdin="password123\n",
    )
    assert weak.returncode == 1 and "パスワード" in weak.stderr
    item = add_flagged(r)
    acted = run_cli(
        ["queue", "act", item, "escalate", "--as", "kanri", "--note", "確認を依頼"], env, cwd=tmp_path
    )
    assert acted.returncode == 0, acted.stderr
    assert Store(r).get(item).status == "escalated"
    again = run_cli(["queue", "act", item, "escalate", "--as", "kanri"], env, cwd=tmp_path)
    assert again.returncode == 1 and "課長へ相談中" in again.stderr
