"""Live staff pages in Debian's chromium (issue 11): an open queue shows a comment that arrives without a
reload, a second person on an item sees who already has it, and the item page's keys act (削除 through its
confirmation). Real app, Redis and worker; waits have deadlines, nothing is timed."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
import redis
from playwright.sync_api import Page, expect

from service.moderation import Moderation
from tests.fakes.fake_graph import FakeGraph
from tests.service.test_moderation import add_flagged
from tests.ui.test_staff_ui import (  # noqa: F401 (fixtures)
    actions,
    browser,
    graph,
    login,
    new_page,
    users,
)

pytestmark = pytest.mark.slow


def _live(page: Page) -> None:
    """Until the page's event stream is open (changes made after this reach it)."""
    expect(page.locator("html")).to_have_attribute("data-live", "open", timeout=15000)


def test_the_queue_shows_a_new_comment_and_a_decision_without_a_reload(
    r: redis.Redis,
    users: None,  # noqa: F811
    new_page: Callable[[], Page],  # noqa: F811
) -> None:
    add_flagged(r, "お前はほんとうにバカだな")
    page = new_page()
    login(page, "tanaka")
    _live(page)
    assert page.locator("a[href='/items/facebook:91_1']").count() == 0
    # Stored as the worker stores it (Store.apply_event); the worker's own path is in test_live.py.
    add_flagged(r, "バカは黙ってろ", comment_id="91_1")
    expect(page.locator("a[href='/items/facebook:91_1']").first).to_be_visible(timeout=15000)
    # Another person deals with it: it leaves this person's queue by itself.
    Moderation(r).decide("facebook:91_1", "dismiss", actor="kacho", role="chief")
    expect(page.locator("a[href='/items/facebook:91_1']")).to_have_count(0, timeout=15000)


def test_two_people_on_one_item_and_the_keyboard(
    r: redis.Redis,
    graph: FakeGraph,  # noqa: F811
    users: None,  # noqa: F811
    actions: None,  # noqa: F811
    new_page: Callable[[], Page],  # noqa: F811
) -> None:
    first = add_flagged(r, "お前はほんとうにバカだな", received_at=1_760_000_000)
    second = add_flagged(r, "バカは黙ってろ", received_at=1_760_000_100)
    tanaka, kacho = new_page(), new_page()
    login(tanaka, "tanaka")
    login(kacho, "kacho")
    tanaka.goto(f"/items/{first}")
    _live(tanaka)
    kacho.goto(f"/items/{first}")
    expect(kacho.locator("#presence")).to_have_text("田中さんもこのコメントを開いています。")
    expect(tanaka.locator("#presence")).to_have_text("課長 山本さんもこのコメントを開いています。", timeout=15000)
    expect(kacho.locator("#shortcuts")).to_contain_text("d 削除（確認あり）")

    # j / k: next and previous in the queue's order.
    _live(kacho)
    kacho.keyboard.press("j")
    kacho.wait_for_url(re.compile(re.escape(f"/items/{second}") + "$"))
    _live(kacho)
    kacho.keyboard.press("k")
    kacho.wait_for_url(re.compile(re.escape(f"/items/{first}") + "$"))
    # Typing a memo: the letters go into the memo, nothing is pressed.
    kacho.fill("form.act input[name=note]", "")
    kacho.locator("form.act input[name=note]").press_sequentially("hdn")
    expect(kacho.locator("form.act input[name=note]")).to_have_value("hdn")
    assert r.hget(f"{{shakyo}}:comment:{first}", "status") == "pending"
    # h hides; the other person's page says the comment changed under it.
    kacho.locator("h1").click()
    kacho.keyboard.press("h")
    kacho.wait_for_url(re.compile(r"done=hide"))
    # Taken as a 非表示 decision (the fake Graph API then reports the comment gone: no Meta state to wait for).
    assert r.hget(f"{{shakyo}}:comment:{first}", "status") != "pending"
    expect(tanaka.locator("#item-changed")).to_be_visible(timeout=15000)
    # d asks for the confirmation first.
    kacho.goto(f"/items/{second}")
    _live(kacho)
    kacho.keyboard.press("d")
    expect(kacho.locator("section.confirm button[value=delete]")).to_be_visible()
    assert r.hget(f"{{shakyo}}:comment:{second}", "status") == "pending"
