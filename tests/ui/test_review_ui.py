"""The 要確認 view in Debian's chromium (Playwright), against the real app, Redis, the action worker and the
fake Graph API on loopback. The 要確認 verdicts are injected (Store.apply_event), not the model's."""

from __future__ import annotations

import re
import time
from collections.abc import Callable

import pytest
import redis
from playwright.sync_api import Page

from service.audit import AuditLog
from service.store import REVIEW, Store
from tests.conftest import fb
from tests.fakes.fake_graph import FakeGraph
from tests.service.test_moderation import add_flagged
from tests.service.test_review import review_verdict
from tests.ui.test_staff_ui import (  # noqa: F401 (fixtures)
    SCREENSHOTS,
    actions,
    browser,
    graph,
    login,
    new_page,
    settings,
    users,
    wait_for_status,
)

pytestmark = pytest.mark.slow


def add_review(
    r: redis.Redis, fake: FakeGraph, cid: str, text: str, *cats: str, tokens: tuple[str, ...]
) -> str:
    Store(r).apply_event(
        f"{cid.replace('_', '')}-0",
        fb(cid, text, author_name="森 次郎"),
        received_at=time.time(),
        verdict=review_verdict(cats, tokens),
    )
    fake.add_comment(cid, platform="facebook")
    return f"facebook:{cid}"


def test_review_view_shows_the_models_suspicion_and_staff_act_on_it(
    r: redis.Redis,
    graph: FakeGraph,  # noqa: F811
    users: None,  # noqa: F811
    actions: None,  # noqa: F811
    new_page: Callable[[], Page],  # noqa: F811
) -> None:
    flagged = add_flagged(r, "お前みたいなバカは来るな", span="バカ")
    joke = add_review(r, graph, "61_1", "ニートかよｗｗ", "insult", tokens=("ニート", "ｗｗ"))
    odd = add_review(r, graph, "61_2", "あの国の人はみんなそう", "discrimination", tokens=("国", "みんな"))
    page = new_page()
    login(page, "tanaka")
    # The violation queue lists only the flagged comment, even under すべて; its count bar links to 要確認.
    page.goto("/queue?status=all")
    assert page.locator("table.queue tbody tr").count() == 1
    assert "バカ" in page.inner_text("table.queue")
    assert re.sub(r"\s+", "", page.inner_text("nav.counts a.review-link")) == "要確認2"
    assert re.sub(r"\s+", "", page.inner_text("header.top a.review-link")) == "要確認2"

    page.click("header.top a.review-link")
    page.wait_for_url(re.compile(r"/review$"))
    assert page.inner_text("h1") == "要確認のコメント"
    assert "モデルのみの判定（確信度が低い）" in page.inner_text("p.lead")
    rows = page.locator("table.review tbody tr")
    assert rows.count() == 2
    first, second = rows.nth(0).inner_text(), rows.nth(1).inner_text()
    assert "ニートかよ" in first and "侮辱・誹謗中傷" in first and "ニート" in first
    assert "モデルのみの判定（確信度が低い）" in first and "要確認" in first
    assert "差別・差別の助長" in second and "みんな" in second
    page.screenshot(path=str(SCREENSHOTS / "review.png"), full_page=True)

    # 問題なし for one, from the list.
    page.check(f"input[name=ids][value='{joke}']")
    page.fill("form#bulk input[name=note]", "冗談の範囲")
    page.click("form#bulk button[value=dismiss]")
    page.wait_for_url(re.compile(r"/review\?done=1"))
    assert "1件を受け付けました" in page.inner_text("p.notice")
    assert page.locator("table.review tbody tr").count() == 1
    assert re.sub(r"\s+", "", page.inner_text("header.top a.review-link")) == "要確認1"

    # 非表示 for the other, from its item page, which shows why it is here; Meta confirms it.
    page.click(f"a[href='/items/{odd}']")
    reason = page.inner_text("p.review-reason")
    assert (
        "モデルのみの判定（確信度が低い）" in reason and "差別・差別の助長" in reason and "みんな" in reason
    )
    page.click("form.act button[value=hide]")
    page.wait_for_load_state()
    wait_for_status(r, odd, "hidden")
    assert graph.is_hidden("61_2")
    page.goto("/review")
    assert "要確認のコメントはありません" in page.inner_text("main")
    assert r.zcard(f"{{shakyo}}:queue:{REVIEW}") == 0
    assert Store(r).get(flagged).status == "pending"  # type: ignore[union-attr]

    trail = {(e.item_id, e.action, e.from_status, e.actor) for e in AuditLog(r).entries()}
    assert {(joke, "dismissed", REVIEW, "tanaka"), (odd, "hide_requested", REVIEW, "tanaka")} <= trail
    assert next(e.note for e in AuditLog(r).entries(item_id=joke)) == "冗談の範囲"
