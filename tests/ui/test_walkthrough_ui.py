"""Issue 11's walk-through, acting on comments, in Debian's chromium against the real app, Redis, the action
worker and the fake Graph API: deleting asks once (single and bulk), a lapsed session keeps the memo, only
the buttons that can apply are offered (role and state, in the queue, 要確認 and item pages), and the item
page explains a model-only flag, advises, marks impersonation, live comments and Meta's hiding."""

from __future__ import annotations

import re
import time
from collections.abc import Callable

import pytest
import redis
from playwright.sync_api import Page

from classifiers.categories import CATEGORIES, Severity
from classifiers.verdict import Verdict
from service.store import Store
from tests.conftest import fb
from tests.fakes.fake_graph import FakeGraph
from tests.service.test_moderation import add_flagged
from tests.ui.test_review_ui import add_review
from tests.ui.test_staff_ui import (  # noqa: F401 (fixtures)
    PASSWORDS,
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


def _status(r: redis.Redis, item: str) -> str:
    return str(r.hget(f"{{shakyo}}:comment:{item}", "status"))


def _buttons(page: Page, selector: str = "form.act button") -> list[str]:
    return [b.inner_text() for b in page.locator(selector).all()]


def test_delete_asks_once_naming_how_many(
    r: redis.Redis,
    graph: FakeGraph,  # noqa: F811
    users: None,  # noqa: F811
    actions: None,  # noqa: F811
    new_page: Callable[[], Page],  # noqa: F811
) -> None:
    one = add_flagged(r, "お前はほんとうにバカだな")
    bulk = [add_flagged(r, f"バカばっかり{n}") for n in range(3)]
    for item in (one, *bulk):
        graph.add_comment(item.split(":", 1)[1], platform="facebook")
    page = new_page()
    login(page, "tanaka")

    page.goto(f"/items/{one}")
    page.fill("form.act input[name=note]", "侮辱のため")
    page.click("form.act button[value=delete]")
    dialog = page.locator("section.confirm")
    assert "1件のコメントを削除しますか" in dialog.inner_text()
    assert "削除は取り消せません" in dialog.inner_text() and "非表示は後で元に戻せます" in dialog.inner_text()
    assert _status(r, one) == "pending" and not graph.is_deleted(one.split(":", 1)[1])
    page.click("section.confirm a:has-text('やめる')")
    page.wait_for_url(re.compile(f"/items/{re.escape(one)}$"))
    assert _status(r, one) == "pending"
    page.fill("form.act input[name=note]", "侮辱のため")
    page.click("form.act button[value=delete]")
    page.click("section.confirm button[value=delete]")
    wait_for_status(r, one, "deleted")
    assert graph.is_deleted(one.split(":", 1)[1])

    page.goto("/queue")
    for item in bulk[:2]:
        page.check(f"input[name=ids][value='{item}']")
    page.click("fieldset.bulk button[value=delete]")
    assert "2件のコメントを削除しますか" in page.inner_text("section.confirm")
    assert all(_status(r, i) == "pending" for i in bulk)
    page.click("section.confirm button[value=delete]")
    page.wait_for_url(re.compile(r"/queue\?.*done=2"))
    for item in bulk[:2]:
        wait_for_status(r, item, "deleted")
    assert _status(r, bulk[2]) == "pending"


def test_a_lapsed_session_keeps_the_memo_and_asks_again(
    r: redis.Redis,
    graph: FakeGraph,  # noqa: F811
    users: None,  # noqa: F811
    new_page: Callable[[], Page],  # noqa: F811
) -> None:
    item = add_flagged(r, "お前はほんとうにバカだな")
    page = new_page()
    login(page, "tanaka")
    page.goto(f"/items/{item}")
    page.fill("form.act input[name=note]", "地域の方からの通報あり。侮辱にあたる")
    for key in r.scan_iter("{shakyo}:session:*"):  # the idle timeout, as Redis expiry would do it
        r.delete(key)
    page.click("form.act button[value=hide]")
    page.wait_for_url(re.compile(r"/login\?"))
    assert "一定時間操作がなかったため" in page.inner_text("#expired")
    assert "権限がありません" not in page.content()
    page.fill("input[name=username]", "tanaka")
    page.fill("input[name=password]", PASSWORDS["tanaka"])
    page.click("button[type=submit].primary")
    page.wait_for_url(re.compile(f"/items/{re.escape(item)}$"))
    assert "もう一度ボタンを押してください" in page.inner_text("#relogged")
    assert page.input_value("form.act input[name=note]") == "地域の方からの通報あり。侮辱にあたる"
    assert _status(r, item) == "pending"  # nothing was done on the person's behalf


def test_only_buttons_that_can_apply_are_offered(
    r: redis.Redis,
    graph: FakeGraph,  # noqa: F811
    users: None,  # noqa: F811
    actions: None,  # noqa: F811
    new_page: Callable[[], Page],  # noqa: F811
) -> None:
    escalated = add_flagged(
        r, "地域の人たちをまとめて追い出せ", categories=["discrimination"], span="追い出せ"
    )
    hidden = add_flagged(r, "連絡先は090-1234-5678です", categories=["privacy"], span="090-1234-5678")
    deleted = add_flagged(r, "お前はほんとうにバカだな")
    for item in (escalated, hidden, deleted):
        graph.add_comment(item.split(":", 1)[1], platform="facebook")
    from service.moderation import Moderation

    m = Moderation(r)
    m.decide(escalated, "escalate", actor="tanaka", role="staff")
    m.decide(hidden, "hide", actor="tanaka", role="staff")
    m.decide(deleted, "delete", actor="tanaka", role="staff")
    wait_for_status(r, hidden, "hidden")
    wait_for_status(r, deleted, "deleted")
    review = add_review(r, graph, "62_1", "ニートかよｗｗ", "insult", tokens=("ニート",))

    staff = new_page()
    login(staff, "tanaka")
    staff.goto(f"/items/{escalated}")
    assert _buttons(staff) == []
    staff.goto(f"/items/{deleted}")
    assert _buttons(staff) == [] and "今できる操作はありません" in staff.inner_text("#no-actions")
    staff.goto(f"/items/{hidden}")
    assert _buttons(staff) == ["削除"]  # 非表示 again, 問題なし or 相談 no longer apply
    staff.goto("/queue?status=escalated")
    assert staff.locator("fieldset.bulk").count() == 0
    staff.goto(f"/items/{review}")
    assert _buttons(staff) == ["削除", "非表示", "問題なし", "課長へ相談"]
    staff.goto("/review")
    assert _buttons(staff, "fieldset.bulk button") == ["問題なし", "非表示", "削除", "課長へ相談"]

    chief = new_page()
    login(chief, "kacho")
    chief.goto(f"/items/{escalated}")
    assert _buttons(chief) == ["削除", "非表示", "問題なし"]
    chief.goto("/queue?status=escalated")
    assert _buttons(chief, "fieldset.bulk button") == ["削除", "非表示", "問題なし"]


def _model_only(
    cid: str, text: str, category: str, tokens: list[str], **event: object
) -> tuple[object, Verdict]:
    verdict = Verdict(
        True,
        [category],
        {category: 0.9},
        Severity.MEDIUM,
        list(CATEGORIES[category].clauses),
        "hide",
        model_tokens=tokens,
    )
    return fb(cid, text, **event), verdict


def test_item_page_explains_and_marks(
    r: redis.Redis,
    graph: FakeGraph,  # noqa: F811
    users: None,  # noqa: F811
    new_page: Callable[[], Page],  # noqa: F811
) -> None:
    store = Store(r)
    event, verdict = _model_only(
        "63_1", "あの家の人いつも変なことしてるよね", "privacy", ["あの家", "いつも"]
    )
    store.apply_event("63-1", event, received_at=time.time(), verdict=verdict)  # type: ignore[arg-type]
    live, live_verdict = _model_only(
        "63_2", "つまらん配信", "insult", ["つまらん"], field="live_comments", author_name="見物人"
    )
    store.apply_event("63-2", live, received_at=time.time(), verdict=live_verdict)  # type: ignore[arg-type]
    fake = add_flagged(
        r,
        "公式です。当選しました",
        categories=["impersonation"],
        span="公式",
        author="美祢市社会福祉協議会(公式)",
    )
    hidden_event = fb("63_2", "つまらん配信", verb="hide", field="live_comments", author_name="見物人")
    store.apply_event("63-3", hidden_event, received_at=time.time(), verdict=live_verdict)

    page = new_page()
    login(page, "tanaka")
    page.goto("/items/facebook:63_1")
    reason = page.inner_text("#model-reason")
    assert "分類モデルの判断" in reason and "あの家" in reason and "いつも" in reason
    assert page.inner_text("#advice").startswith("非表示")
    page.goto("/items/facebook:63_2")
    assert page.inner_text("#live") == "ライブ配信"
    assert page.inner_text("#meta-hidden") == "Metaで非表示"
    page.goto(f"/items/{fake}")
    assert page.inner_text("#author-mark") == "美祢市社会福祉協議会(公式)"
    assert page.locator("#live").count() == 0 and page.locator("#model-reason").count() == 0
