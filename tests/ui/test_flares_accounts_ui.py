"""Issue 11, points 8 and 9, in Debian's chromium against the real app and Redis: one 炎上 banner summarising
every active flare-up with links to the queue filtered by post and to the post itself; the queue, 要確認 and
相談 lists fit a phone's width; the accounts page (lock state, a refused form keeps what was typed, no
無効にする on one's own account, names kept on one line) and the audit log (comment excerpts, one-line
dates, display name with the username, no username as a password change's memo)."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime

import pytest
import redis
from playwright.sync_api import Browser, Page

from service.accounts import AccountStore
from service.audit import AuditLog
from service.hours import JST
from service.incidents import FlareDetector
from service.moderation import Moderation
from service.settings import Settings
from service.web_security import LoginThrottle, SecuritySettings
from service.worker import Worker, ensure_group
from tests.conftest import enqueue, fb
from tests.service.test_moderation import add_flagged
from tests.ui.test_review_ui import add_review
from tests.ui.test_staff_ui import (  # noqa: F401 (fixtures)
    PASSWORDS,
    browser,
    graph,
    login,
    new_page,
    settings,
    users,
)

pytestmark = pytest.mark.slow

# Counts the line boxes a cell's text is laid out in: more than one means the browser wrapped it.
LINES_JS = """el => {
  const range = document.createRange();
  range.selectNodeContents(el);
  return new Set([...range.getClientRects()].filter(r => r.width > 0).map(r => Math.round(r.top))).size;
}"""


def _flare(r: redis.Redis, platform: str, post_id: str) -> None:
    detector = FlareDetector(r, threshold=2, window_seconds=600)
    now = time.time()
    for n in range(2):
        detector.record(platform, post_id, f"{post_id}_c{n}", datetime.fromtimestamp(now - 60 + n, JST))


@pytest.fixture
def phone(browser: Browser, app_url: str) -> Iterator[Page]:  # noqa: F811
    context = browser.new_context(base_url=app_url, locale="ja-JP", viewport={"width": 390, "height": 844})
    yield context.new_page()
    context.close()


def _fits(page: Page) -> bool:
    return bool(page.evaluate("document.scrollingElement.scrollWidth <= window.innerWidth"))


def test_one_flare_banner_links_to_filtered_queue_and_post(
    r: redis.Redis,
    users: None,  # noqa: F811
    new_page: Callable[[], Page],  # noqa: F811
) -> None:
    on_first = [add_flagged(r, f"ふざけるな{n}", post_id="555_777") for n in range(2)]
    add_flagged(r, "バカばっかり", post_id="555_888")
    add_flagged(r, "関係ない投稿のバカ", post_id="555_999")
    _flare(r, "facebook", "555_777")
    _flare(r, "instagram", "17900555")

    page = new_page()
    login(page, "kacho")
    banner = page.locator(".banner.flare")
    assert banner.count() == 1
    text = banner.inner_text()
    assert "2件の投稿" in text and "Facebook" in text and "Instagram" in text
    assert "555_777" not in text and "17900555" not in text  # posts are named, not shown by raw id
    assert page.locator(".banner.flare form button", has_text="対応済みにする").count() == 2
    fb_item = banner.locator("li", has_text="Facebook")
    assert (
        fb_item.locator("a", has_text="投稿を開く").get_attribute("href")
        == "https://www.facebook.com/555_777"
    )

    fb_item.locator("a", has_text="コメントを見る").click()
    page.wait_for_url(re.compile(r"/queue\?.*post=555_777"))
    links = page.locator("table.queue tbody td.text a")
    assert sorted(a.get_attribute("href") or "" for a in links.all()) == sorted(
        f"/items/{i}" for i in on_first
    )
    assert "この投稿へのコメントだけを表示しています" in page.inner_text("main")
    page.click("a:has-text('すべての投稿を表示')")
    page.wait_for_load_state()
    assert page.locator("table.queue tbody tr").count() == 4


def test_queue_review_and_support_fit_a_phone(
    r: redis.Redis,
    redis_url: str,
    settings: Settings,  # noqa: F811
    graph: object,  # noqa: F811
    users: None,  # noqa: F811
    phone: Page,
) -> None:
    for n in range(3):
        add_flagged(
            r,
            "長い長いコメント" * 12 + f"https://example.jp/very/long/path/{'x' * 60}/{n}",
            author="美祢市大嶺町奥分の住民代表",
        )
    add_review(r, graph, "41_1", "ちょっと気になるコメント" * 8, "insult", tokens=("気になる",))  # type: ignore[arg-type]
    feeder = threading.Thread(
        target=enqueue,
        args=(redis_url, fb("42_1", "所持金が200円で今月の家賃も払えません", author_name="美東 次郎")),
    )
    feeder.start()
    feeder.join()
    ensure_group(r)
    Worker(r, settings).drain()
    _flare(r, "facebook", "555_777")

    phone.goto("/login")
    phone.fill("input[name=username]", "kacho")
    phone.fill("input[name=password]", PASSWORDS["kacho"])
    phone.click("button[type=submit].primary")
    phone.wait_for_url(re.compile(r"/queue"))
    assert phone.locator("table.queue tbody tr").count() == 3
    for path in ("/queue", "/review", "/support"):
        phone.goto(path)
        assert _fits(phone), f"{path} scrolls sideways at 390 px"


def test_accounts_page_lock_form_and_own_account(
    r: redis.Redis,
    users: None,  # noqa: F811
    new_page: Callable[[], Page],  # noqa: F811
) -> None:
    AccountStore(r).create(
        "yamamoto.hanako", "Mori-Kawa#Hoshi59", "staff", display_name="地域福祉課 主任 山本 花子"
    )
    throttle = LoginThrottle(r, SecuritySettings(secret_key="k" * 32))
    for _ in range(5):
        throttle.record_failure("tanaka", "")

    page = new_page()
    login(page, "kanri")
    page.goto("/admin/users")
    tanaka = page.locator("table.users tr", has_text="tanaka")
    assert re.search(r"ロック中（\d{2}:\d{2}まで）", tanaka.locator("td.state").inner_text())
    assert page.locator("table.users tr", has_text="kacho").locator("td.state").inner_text() == "有効"
    # No 無効にする on one's own row; the other rows keep it.
    assert page.locator("table.users tr", has_text="kanri").locator("button[value=disable]").count() == 0
    assert tanaka.locator("button[value=disable]").count() == 1
    for cell in page.locator("table.users tbody td.name").all():
        assert cell.evaluate(LINES_JS) == 1, cell.inner_text()

    # A refused new account keeps what was typed, except the password.
    form = page.locator("form.new-account")
    form.locator("input[name=username]").fill("suzuki")
    form.locator("input[name=display_name]").fill("鈴木 一郎")
    form.locator("select[name=role]").select_option("chief")
    form.locator("input[name=password]").fill("short")
    form.locator("button[value=create]").click()
    page.wait_for_load_state()
    assert "12文字以上" in page.inner_text("p.error")
    form = page.locator("form.new-account")
    assert form.locator("input[name=username]").input_value() == "suzuki"
    assert form.locator("input[name=display_name]").input_value() == "鈴木 一郎"
    assert form.locator("select[name=role]").input_value() == "chief"
    assert form.locator("input[name=password]").input_value() == ""

    # The server refuses it too, whatever a hand-made request asks.
    csrf = page.locator("form.new-account input[name=csrf_token]").input_value()
    resp = page.request.post(
        "/admin/users", form={"csrf_token": csrf, "op": "disable", "username": "kanri"}, max_redirects=0
    )
    assert resp.status == 400 and "自分のアカウントは無効にできません" in resp.text()
    assert AccountStore(r).get("kanri").disabled is False  # type: ignore[union-attr]


def test_audit_log_excerpts_dates_names_and_password_memo(
    r: redis.Redis,
    users: None,  # noqa: F811
    new_page: Callable[[], Page],  # noqa: F811
) -> None:
    item = add_flagged(r, "お前みたいなバカは来るな、二度と顔を見せるなと言いたい。" * 3)
    Moderation(r).decide(item, "dismiss", actor="tanaka", role="staff", note="問題なし")
    AccountStore(r).change_own_password("tanaka", PASSWORDS["tanaka"], "Hana-Tori#Kaze-Tsuki73")
    changed = [e for e in AuditLog(r).entries() if e.action == "account_password_changed"]
    assert changed and "tanaka" not in changed[0].note and "Hana" not in changed[0].note

    page = new_page()
    login(page, "kacho")
    page.goto("/audit")
    row = page.locator("table.audit tbody tr", has_text="問題なし").first
    comment = row.locator("td.comment a")
    assert comment.get_attribute("href") == f"/items/{item}"
    assert comment.inner_text().startswith("お前みたいなバカは来るな") and comment.inner_text().endswith("…")
    assert item not in row.inner_text()
    assert "田中（tanaka）" in row.locator("td.actor").inner_text()
    for cell in page.locator("table.audit tbody td.when").all():
        assert cell.evaluate(LINES_JS) == 1
    pw_row = page.locator("table.audit tbody tr", has_text="パスワード").first
    assert "tanaka" not in pw_row.locator("td.note").inner_text()
