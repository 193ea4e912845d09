"""The settings page's 「Meta接続」 section and the token-lapse banner, in Debian's chromium (Playwright),
against the real app and Redis and the fake Graph API on loopback."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest
import redis
from playwright.sync_api import Page, expect

from service import keys
from service.settings import Settings
from service.ui.common import jst
from tests.fakes.fake_graph import FakeGraph, FakeToken
from tests.ui.test_staff_ui import GRAPH_SECRET, browser, login, new_page, users  # noqa: F401 (fixtures)
from tests.webhooks.payloads import IG_ACCOUNT_ID, PAGE_ID
from webhooks.connect import FACEBOOK_PERMISSIONS, INSTAGRAM_PERMISSIONS

pytestmark = pytest.mark.slow

PAGE_TOKEN = "ui-meta-page-token"
SCOPES = tuple(dict.fromkeys(FACEBOOK_PERMISSIONS + INSTAGRAM_PERMISSIONS["facebook"]))
DAY = 86400


@pytest.fixture
def graph() -> Iterator[FakeGraph]:
    with FakeGraph(app_secret=GRAPH_SECRET, tokens=()) as fake:
        fake.add_page(PAGE_ID, "美祢市社会福祉協議会", instagram_account_id=IG_ACCOUNT_ID)
        # Lapses in 10 days: inside the 14-day warning.
        info = FakeToken(
            "PAGE", PAGE_ID, "美祢市社会福祉協議会", SCOPES, expires_at=int(time.time() + 10 * DAY + 3600)
        )
        fake.add_token(PAGE_TOKEN, info)
        fake.subscribe_app("page", "feed")
        fake.subscribe_app("instagram", "comments", "live_comments")
        yield fake


@pytest.fixture
def settings(make_settings: Callable[..., Settings], graph: FakeGraph) -> Settings:
    return make_settings(
        graph_api_url=graph.base_url,
        meta_app_secret=GRAPH_SECRET,
        meta_app_id=graph.app_id,
        facebook_page_token=PAGE_TOKEN,
        instagram_token=PAGE_TOKEN,
    )


def test_settings_page_shows_the_meta_connection(
    new_page: Callable[[], Page],  # noqa: F811
    users: None,  # noqa: F811
    graph: FakeGraph,
    r: redis.Redis,
) -> None:
    r.hset(keys.LAST_WEBHOOK, "facebook", repr(time.time() - 3600))
    page = new_page()
    login(page, "kanri")
    page.goto("/admin/settings")
    section = page.locator("section#meta")
    expect(section.locator("h2")).to_have_text("Meta接続")
    expect(section).to_contain_text("まだ確認していません")
    # Nothing asked yet: the Page is not subscribed, and no banner warns of a lapse.
    expect(page.locator(".banner.lapse")).to_have_count(0)

    section.get_by_role("button", name="今すぐMetaで確認する").click()
    page.wait_for_url("**/admin/settings#meta")
    table = section.locator("table.meta")
    expect(table).to_contain_text("美祢市社会福祉協議会（" + PAGE_ID + "） ページのトークン")
    expect(table).to_contain_text("あと10日")
    expect(table).to_contain_text("pages_manage_engagement")
    expect(table.locator("tr", has_text="最後に届いたWebhook")).to_contain_text("まだ届いていません")
    # The check only reads: the Page is not subscribed yet, and the section says what to do.
    expect(section.locator("ul.meta-checks")).to_contain_text("ページのWebhook登録（feed）")
    expect(section.locator("ul.meta-checks")).to_contain_text("shakyo-mod meta connect")
    expect(section.locator(".meta-silence")).to_contain_text("Instagram：Webhookがまだ一度も届いていません")
    # The token lapses within 14 days: every page carries the banner.
    page.goto("/queue")
    expect(page.locator(".banner.lapse")).to_have_count(2)  # the Page token serves both platforms
    expect(page.locator(".banner.lapse").first).to_contain_text("アクセストークンの有効期限まであと10日です")

    graph.pages[PAGE_ID].subscribed[graph.app_id] = ["feed"]  # as `meta connect` would
    page.goto("/admin/settings")
    page.locator("section#meta").get_by_role("button", name="今すぐMetaで確認する").click()
    page.wait_for_url("**/admin/settings#meta")
    section = page.locator("section#meta")
    expect(section.locator(".meta-ok")).to_contain_text("直す必要がある項目はありませんでした")
    expect(section.locator("table.meta tr", has_text="Webhookの登録")).to_contain_text(
        "comments、live_comments"
    )
    last = jst(float(r.hget(keys.LAST_WEBHOOK, "facebook") or 0))
    expect(section.locator("table.meta tr", has_text="最後に届いたWebhook")).to_contain_text(last)
