"""The staff web UI in Debian's chromium (Playwright), against the real app, Redis and the fake Graph API.

Never `playwright install`: the browser is /usr/bin/chromium, installed by .ci/run.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

from classifiers.categories import Severity
from service.accounts import AccountStore, Role
from service.actions import ActionWorker, Tokens
from service.settings import Settings
from service.worker import Worker, ensure_group
from tests.conftest import enqueue, fb
from tests.fakes.fake_graph import FakeGraph
from tests.service.test_moderation import add_flagged
from webhooks.graph import GraphClient

pytestmark = pytest.mark.slow

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
GRAPH_SECRET = "ui-test-app-secret"
FB_TOKEN, IG_TOKEN = "ui-fb-token", "ui-ig-token"
PASSWORDS = {"tanaka": "Kawa-Nagare#Sora82", "kacho": "Yuuhi-Hatake%Tsuki37", "kanri": "Aozora*Kumo-Ishi64"}
XSS = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">おかしな投稿'


@pytest.fixture
def graph() -> Iterator[FakeGraph]:
    with FakeGraph(app_secret=GRAPH_SECRET, tokens={FB_TOKEN, IG_TOKEN}) as fake:
        yield fake


@pytest.fixture
def settings(make_settings: Callable[..., Settings], graph: FakeGraph) -> Settings:
    """The conftest's settings, pointed at the fake Graph API (app_url serves the app with these)."""
    return make_settings(
        graph_api_url=graph.base_url,
        meta_app_secret=GRAPH_SECRET,
        facebook_page_token=FB_TOKEN,
        instagram_token=IG_TOKEN,
    )


@pytest.fixture
def actions(r: redis.Redis, graph: FakeGraph) -> Iterator[None]:
    """The action worker, as `serve` runs it, in a thread."""
    stop = threading.Event()
    client = GraphClient(graph.base_url, GRAPH_SECRET, backoff=0.001)
    worker = ActionWorker(r, client, Tokens(FB_TOKEN, IG_TOKEN))
    thread = threading.Thread(target=worker.run, args=(stop,), daemon=True)
    thread.start()
    yield
    stop.set()
    thread.join(10)
    client.close()


@pytest.fixture
def users(r: redis.Redis) -> None:
    accounts = AccountStore(r)
    accounts.create("tanaka", PASSWORDS["tanaka"], Role.STAFF, display_name="田中")
    accounts.create("kacho", PASSWORDS["kacho"], Role.CHIEF, display_name="課長 山本")
    accounts.create("kanri", PASSWORDS["kanri"], Role.ADMIN, display_name="管理者")


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail("Debian's chromium is not installed: run `bash scripts/install --test`")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def new_page(browser: Browser, app_url: str) -> Iterator[Callable[[], Page]]:
    contexts: list[BrowserContext] = []

    def make() -> Page:
        context = browser.new_context(
            base_url=app_url, locale="ja-JP", viewport={"width": 1280, "height": 900}
        )
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


def login(page: Page, username: str) -> None:
    page.goto("/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORDS[username])
    page.click("button[type=submit].primary")
    page.wait_for_url(re.compile(r"/queue"))


def wait_for_status(r: redis.Redis, item: str, status: str, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while r.hget(f"{{shakyo}}:comment:{item}", "status") != status:
        assert time.monotonic() < deadline, f"{item} never became {status}"
        time.sleep(0.05)


def act(page: Page, item: str, decision: str, note: str = "") -> None:
    page.goto(f"/items/{item}")
    if note:
        page.fill("form.act input[name=note]", note)
    page.click(f"form.act button[value={decision}]")
    page.wait_for_load_state()
    if decision == "delete":  # deleting asks once (it cannot be undone)
        page.click("section.confirm button[value=delete]")
        page.wait_for_load_state()


def test_login_filter_open_act_and_approve(
    r: redis.Redis, graph: FakeGraph, users: None, actions: None, new_page: Callable[[], Page]
) -> None:
    items = {
        name: add_flagged(r, text, platform=platform, severity=sev, categories=cats, span=span, author=author)
        for name, text, platform, sev, cats, span, author in [
            (
                "delete",
                "お前みたいなバカは来るな",
                "facebook",
                Severity.MEDIUM,
                ["insult"],
                "バカ",
                "山田一郎",
            ),
            (
                "hide",
                "連絡先は090-1234-5678です",
                "facebook",
                Severity.HIGH,
                ["privacy"],
                "090-1234-5678",
                "佐藤",
            ),
            (
                "dismiss",
                "申込方法がわかりにくい、バカにしてるのか",
                "facebook",
                Severity.LOW,
                ["insult"],
                "バカ",
                "鈴木",
            ),
            (
                "escalate",
                "地域の人たちをまとめて追い出せ",
                "instagram",
                Severity.HIGH,
                ["discrimination"],
                "追い出せ",
                "mine_user",
            ),
        ]
    }
    for item in items.values():
        graph.add_comment(item.split(":", 1)[1], platform=item.split(":", 1)[0])  # type: ignore[arg-type]
    page = new_page()
    login(page, "tanaka")
    assert page.locator("table.queue tbody tr").count() == 4
    page.select_option("select[name=platform]", "instagram")
    page.click("form.filters button[type=submit]")
    page.wait_for_url(re.compile(r"platform=instagram"))
    rows = page.locator("table.queue tbody tr")
    assert rows.count() == 1 and "追い出せ" in rows.inner_text()
    page.goto("/queue")
    page.screenshot(path=str(SCREENSHOTS / "queue.png"), full_page=True)

    page.click(f"a[href='/items/{items['delete']}']")
    assert page.locator("#comment-text mark").inner_text() == "バカ"
    assert "2(7)エ" in page.inner_text(".reasons")
    page.screenshot(path=str(SCREENSHOTS / "item.png"), full_page=True)

    act(page, items["delete"], "delete", note="侮辱のため")
    act(page, items["hide"], "hide")
    act(page, items["dismiss"], "dismiss")
    act(page, items["escalate"], "escalate", note="判断に迷うため")
    wait_for_status(r, items["delete"], "deleted")
    wait_for_status(r, items["hide"], "hidden")
    assert r.hget(f"{{shakyo}}:comment:{items['dismiss']}", "status") == "dismissed"
    assert r.hget(f"{{shakyo}}:comment:{items['escalate']}", "status") == "escalated"
    page.goto(f"/items/{items['delete']}")
    assert page.inner_text("#status") == "削除済み"
    assert graph.is_deleted(items["delete"].split(":", 1)[1])
    assert graph.is_hidden(items["hide"].split(":", 1)[1])

    # A 職員 cannot decide an escalated item (no buttons are offered); the 課長 approves it.
    page.goto(f"/items/{items['escalate']}")
    assert "課長または管理者が判断します" in page.inner_text("section.actions")
    assert page.locator("form.act button").count() == 0
    chief = new_page()
    login(chief, "kacho")
    act(chief, items["escalate"], "delete", note="削除で了承")
    wait_for_status(r, items["escalate"], "deleted")
    chief.goto("/audit")
    assert "課長が判断" in chief.inner_text("table.audit")
    assert "削除で了承" in chief.inner_text("table.audit")


def test_markup_in_a_comment_is_shown_as_text_and_runs_nothing(
    r: redis.Redis, users: None, new_page: Callable[[], Page]
) -> None:
    item = add_flagged(r, XSS, author='<b onmouseover="alert(1)">攻撃者</b>', span="おかしな")
    page = new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    login(page, "tanaka")
    assert "<script>" in page.inner_text("table.queue")
    page.goto(f"/items/{item}")
    assert page.inner_text("#comment-text") == XSS
    assert page.locator("#comment-text img, #comment-text script").count() == 0
    assert page.locator("main b[onmouseover]").count() == 0
    assert page.evaluate("window.__pwned") is None
    assert dialogs == []


def test_post_without_csrf_token_is_refused(
    r: redis.Redis, users: None, new_page: Callable[[], Page]
) -> None:
    item = add_flagged(r)
    page = new_page()
    login(page, "tanaka")
    response = page.request.post(f"/items/{item}/act", form={"decision": "dismiss"})
    assert response.status == 403
    assert r.hget(f"{{shakyo}}:comment:{item}", "status") == "pending"


def test_pages_without_a_session_go_to_login(r: redis.Redis, new_page: Callable[[], Page]) -> None:
    page = new_page()
    page.goto("/queue?status=escalated")
    assert "/login" in page.url
    assert page.locator("input[name=password]").count() == 1


def test_staff_cannot_open_the_audit_log(users: None, new_page: Callable[[], Page]) -> None:
    page = new_page()
    login(page, "tanaka")
    response = page.goto("/audit")
    assert response.status == 403
    assert "課長以上" in page.inner_text("main")
    assert page.locator("nav a[href='/audit']").count() == 0


def test_support_view_banner_status_flow(
    r: redis.Redis, redis_url: str, settings: Settings, users: None, new_page: Callable[[], Page]
) -> None:
    """相談: the banner on every page, the box above the queue, the view newest first, 未対応 → 対応中 → 対応済み."""
    events = [
        (
            fb("31_1", "所持金が200円で今月の家賃も払えません", author_name="美東 次郎"),
            time.time() - 3 * 3600,
        ),
        (
            fb("31_2", "夫に毎日怒鳴られて、蹴られることもあります。もう限界です", author_name="秋芳 花子"),
            None,
        ),
        (fb("31_3", "いつも見守りありがとうございます"), None),
    ]
    # The webhook path (asyncio) runs in its own thread: Playwright's sync API holds this one's event loop.
    for event, received_at in events:
        feeder = threading.Thread(
            target=enqueue, args=(redis_url, event), kwargs={"received_at": received_at}
        )
        feeder.start()
        feeder.join()
    ensure_group(r)
    Worker(r, settings).drain()
    page = new_page()
    login(page, "tanaka")
    assert "相談が必要なコメントが2件、未対応です" in page.inner_text(".banner.support")
    box = page.locator("section.support-box tbody tr")
    assert box.count() == 2 and "DV・虐待" in box.first.inner_text()  # newest first
    page.goto("/reports")
    assert page.locator(".banner.support").count() == 1  # on every page

    page.goto("/support")
    rows = page.locator("table.support tbody tr")
    assert rows.count() == 2
    first, second = rows.nth(0).inner_text(), rows.nth(1).inner_text()
    assert "DV・虐待" in first and "秋芳 花子" in first and "未対応" in first and "1分以内" in first
    assert "生活困窮" in second and "美東 次郎" in second and "3時間前" in second

    page.click("a[href='/support/facebook:31_2']")
    assert page.locator("blockquote mark.support").count() >= 1
    page.click("text=対応を始める")
    page.wait_for_url(re.compile(r"done=start"))
    assert "対応中（tanaka）" in page.inner_text("h1")
    page.screenshot(path=str(SCREENSHOTS / "support.png"), full_page=True)
    page.check("input[name=outcome][value=called]")
    page.fill("textarea[name=note]", "ご本人に電話し、DV相談窓口を案内した")
    page.click("text=対応済みにする >> nth=-1")
    page.wait_for_url(re.compile(r"done=finish"))
    assert "対応済み：電話した" in page.inner_text(".support-actions")
    assert "相談を対応済みに" in page.inner_text("table.audit")
    page.goto("/support")
    assert "相談が必要なコメントが1件、未対応です" in page.inner_text(".banner.support")
