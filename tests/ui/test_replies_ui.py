"""Replying from the item and 相談 pages and keeping reply templates, in Debian's chromium (Playwright),
against the real app, Redis, the action worker and the fake Graph API on loopback."""

from __future__ import annotations

import re
import time
from collections.abc import Callable

import pytest
import redis
from playwright.sync_api import Page

from service.moderation import Moderation
from service.settings import Settings
from service.support.desk import SupportDesk
from tests.fakes.fake_graph import FakeGraph
from tests.service.test_moderation import add_flagged
from tests.ui.test_staff_ui import (  # noqa: F401 (fixtures)
    GRAPH_SECRET,
    SCREENSHOTS,
    actions,
    browser,
    graph,
    login,
    new_page,
    users,
)

pytestmark = pytest.mark.slow

FB_TOKEN, IG_TOKEN = "ui-fb-token", "ui-ig-token"
DESK_PHONE = "0000-00-0000"  # a test value, nobody's number


@pytest.fixture
def settings(make_settings: Callable[..., Settings], graph: FakeGraph) -> Settings:  # noqa: F811
    return make_settings(
        graph_api_url=graph.base_url,
        meta_app_secret=GRAPH_SECRET,
        facebook_page_token=FB_TOKEN,
        instagram_token=IG_TOKEN,
        support_desk_phone=DESK_PHONE,
        support_desk_hours="平日 8:30〜17:15",
    )


def on_graph(r: redis.Redis, graph: FakeGraph, text: str, platform: str = "facebook") -> tuple[str, str]:  # noqa: F811
    item = add_flagged(r, text, platform=platform, span=None)
    cid = item.split(":", 1)[1]
    graph.add_comment(cid, platform=platform, account_id="555" if platform == "facebook" else "1784")  # type: ignore[arg-type]
    return item, cid


def reload_until(page: Page, selector: str, text: str, timeout: float = 10) -> None:
    """The action worker answers in the background; reload as staff would until the page shows it."""
    deadline = time.monotonic() + timeout
    while text not in page.inner_text(selector):
        assert time.monotonic() < deadline, f"{text!r} never appeared in {selector}"
        time.sleep(0.1)
        page.reload()


def test_pick_a_template_edit_send_and_see_it_confirmed(
    r: redis.Redis,
    graph: FakeGraph,  # noqa: F811
    users: None,  # noqa: F811
    actions: None,  # noqa: F811
    new_page: Callable[[], Page],  # noqa: F811
) -> None:
    item, cid = on_graph(r, graph, "申込方法がわかりにくい。もっとちゃんとしてほしい")
    page = new_page()
    login(page, "tanaka")
    page.goto(f"/items/{item}")
    assert page.locator("section.reply textarea[name=message]").input_value() == ""  # nothing prefilled
    page.select_option("section.reply select[name=template]", label="相談窓口のご案内")
    page.click("section.reply .template-pick button")
    page.wait_for_url(re.compile(r"template=support"))
    box = page.locator("section.reply textarea[name=message]")
    prefilled = box.input_value()
    assert DESK_PHONE in prefilled and "美祢市社会福祉協議会" in prefilled and "{" not in prefilled
    assert graph.replies(cid) == []  # choosing a template sends nothing
    page.select_option("section.reply select[name=template]", label="ご意見へのお礼（冷静な対応）")
    page.click("section.reply .template-pick button")
    page.wait_for_url(re.compile(r"template=calm"))
    edited = box.input_value().replace("ご意見をお寄せいただき", "申込方法についてご意見をお寄せいただき")
    box.fill(edited)
    page.click("section.reply button.primary")
    page.wait_for_url(re.compile(r"done=reply"))
    assert "返信を送信待ちにしました" in page.inner_text("main")
    reload_until(page, "ol.replies", "送信済み")
    assert "申込方法についてご意見を" in page.inner_text("ol.replies")
    assert "返信（Meta確認済み）" in page.inner_text("table.history")
    page.screenshot(path=str(SCREENSHOTS / "reply.png"), full_page=True)
    [posted] = graph.replies(cid)
    assert posted["message"] == edited.strip()
    page.reload()  # a reload after sending posts nothing again
    assert len(graph.replies(cid)) == 1


def test_reply_from_the_support_page_closes_it_as_replied(
    r: redis.Redis,
    graph: FakeGraph,  # noqa: F811
    users: None,  # noqa: F811
    actions: None,  # noqa: F811
    new_page: Callable[[], Page],  # noqa: F811
) -> None:
    item, cid = on_graph(r, graph, "もう生きていたくない。誰にも相談できない", platform="instagram")
    comment = Moderation(r).store.get(item)
    comment.verdict = {**(comment.verdict or {}), "needs_support": True, "support_kind": "suicide"}
    SupportDesk(r).record(comment)
    page = new_page()
    login(page, "tanaka")
    page.goto(f"/support/{item}")
    page.select_option("section.reply select[name=template]", label="相談窓口のご案内")
    page.click("section.reply .template-pick button")
    page.wait_for_url(re.compile(r"template=support"))
    page.check("section.reply input[name=finish]")
    page.click("section.reply button.primary")
    page.wait_for_url(re.compile(r"done=reply"))
    reload_until(page, "h1", "対応済み")
    assert "対応済み：返信した" in page.inner_text(".support-actions")
    [posted] = graph.replies(cid)
    assert DESK_PHONE in posted["text"]


def test_only_admins_keep_templates(
    r: redis.Redis,
    users: None,  # noqa: F811
    new_page: Callable[[], Page],  # noqa: F811
) -> None:
    for name in ("tanaka", "kacho"):  # 職員 and 課長 use templates but cannot change them
        page = new_page()
        login(page, name)
        assert page.goto("/admin/templates").status == 403
        assert page.locator("nav a[href='/admin/templates']").count() == 0
        page.goto("/queue")
        token = page.locator("form.logout input[type=hidden]").first.get_attribute("value") or ""
        field = page.locator("form.logout input[type=hidden]").first.get_attribute("name") or ""
        answer = page.request.post(
            "/admin/templates",
            form={field: token, "op": "delete", "template_id": "calm"},
            max_redirects=0,
        )
        assert answer.status == 403
    page = new_page()
    login(page, "kanri")
    page.click("nav a[href='/admin/templates']")
    assert page.locator("section.template:not(.new)").count() == 2  # the two defaults, still there
    new = page.locator("section.template.new")
    new.locator("input[name=title]").fill("行事のお問い合わせ")
    new.locator("textarea[name=text]").fill(
        "お問い合わせありがとうございます。詳しくは{窓口名}までお電話ください。"
    )
    new.locator("button[value=save]").click()
    page.wait_for_url(re.compile(r"done=saved"))
    added = page.locator("section.template", has=page.locator("input[value='行事のお問い合わせ']"))
    added.locator("textarea[name=text]").fill("お問い合わせありがとうございます。")
    added.locator("button[value=save]").click()
    page.wait_for_url(re.compile(r"done=saved"))
    page.locator("#template-calm button[value=delete]").click()
    page.wait_for_url(re.compile(r"done=deleted"))
    assert [
        t.strip()
        for t in page.locator("section.template input[name=title]").evaluate_all(
            "els => els.map(e => e.value)"
        )
    ] == ["相談窓口のご案内", "行事のお問い合わせ", ""]
    page.goto("/audit")
    assert "返信テンプレートを削除" in page.inner_text("main")
