"""`MetaConnection` against the fake Graph API over loopback: subscribe, read back, and a ✘ line per problem."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from tests.fakes.fake_graph import FakeGraph, FakeToken
from webhooks.connect import (
    FACEBOOK_PERMISSIONS,
    INSTAGRAM_PERMISSIONS,
    Check,
    ConnectionReport,
    MetaConnection,
    MetaTarget,
)
from webhooks.graph import GraphClient

SECRET = "connect-app-secret"
PAGE_ID, IG_ID, OTHER_PAGE = "104000000000001", "17841400000000001", "104000000000999"
PAGE_TOKEN, USER_TOKEN, IG_TOKEN = "page-token", "user-token", "ig-login-token"
ALL_SCOPES = tuple(dict.fromkeys(FACEBOOK_PERMISSIONS + INSTAGRAM_PERMISSIONS["facebook"]))
DAY = 86400


@pytest.fixture
def graph() -> Iterator[FakeGraph]:
    with FakeGraph(app_secret=SECRET, tokens=()) as fake:
        fake.add_page(PAGE_ID, "美祢市社会福祉協議会", instagram_account_id=IG_ID)
        fake.add_page(OTHER_PAGE, "別の団体")
        fake.subscribe_app("page", "feed")
        fake.subscribe_app("instagram", "comments", "live_comments")
        yield fake


@pytest.fixture
def client(graph: FakeGraph) -> Iterator[GraphClient]:
    c = GraphClient(graph.base_url, SECRET, backoff=0.001, max_retries=1)
    yield c
    c.close()


def page_token(graph: FakeGraph, *, scopes: tuple[str, ...] = ALL_SCOPES, **extra: object) -> None:
    info = FakeToken("PAGE", PAGE_ID, "美祢市社会福祉協議会", scopes, **extra)  # type: ignore[arg-type]
    graph.add_token(PAGE_TOKEN, info)


def target(graph: FakeGraph, **overrides: object) -> MetaTarget:
    values: dict[str, object] = {
        "page_id": PAGE_ID,
        "instagram_account_id": IG_ID,
        "page_token": PAGE_TOKEN,
        "instagram_token": PAGE_TOKEN,
        "app_id": graph.app_id,
        "app_secret": SECRET,
        "instagram_api_url": graph.base_url,
    }
    values.update(overrides)
    return MetaTarget(**values)  # type: ignore[arg-type]


def check(report: ConnectionReport, key: str) -> Check:
    found = [c for c in report.checks if c.key == key]
    assert found, f"no {key} line in {[c.key for c in report.checks]}"
    return found[0]


def posts(graph: FakeGraph) -> list[str]:
    return [c.comment_id for c in graph.calls if c.method == "POST"]


def test_fresh_connect_subscribes_both_platforms_and_reads_them_back(
    graph: FakeGraph, client: GraphClient
) -> None:
    page_token(graph)
    report = MetaConnection(client, target(graph)).connect()
    assert report.ok, [(c.key, c.detail) for c in report.checks if c.mark != "ok"]
    assert graph.pages[PAGE_ID].subscribed == {graph.app_id: ["feed"]}
    assert report.changed == ["facebook"]
    assert report.subscribed == {"facebook": ["feed"], "instagram": ["comments", "live_comments"]}
    assert check(report, "facebook_subscription").detail.startswith("今回登録しました")
    assert check(report, "instagram_subscription").mark == "ok"
    # Read back after the POST: the last call on the edge is a GET.
    edge = [c.method for c in graph.calls if c.comment_id == f"{PAGE_ID}/subscribed_apps"]
    assert edge == ["GET", "POST", "GET"]
    assert report.tokens["facebook"].owner_name == "美祢市社会福祉協議会"


def test_second_connect_changes_nothing(graph: FakeGraph, client: GraphClient) -> None:
    page_token(graph)
    MetaConnection(client, target(graph)).connect()
    before = len(posts(graph))
    again = MetaConnection(client, target(graph)).connect()
    assert again.ok and again.changed == []
    assert len(posts(graph)) == before == 1
    assert check(again, "facebook_subscription").detail.startswith("登録済み")


def test_connect_keeps_fields_the_page_already_sends(graph: FakeGraph, client: GraphClient) -> None:
    page_token(graph)
    graph.pages[PAGE_ID].subscribed[graph.app_id] = ["messages"]
    MetaConnection(client, target(graph)).connect()
    assert graph.pages[PAGE_ID].subscribed[graph.app_id] == ["feed", "messages"]


def test_status_reads_without_subscribing(graph: FakeGraph, client: GraphClient) -> None:
    page_token(graph)
    report = MetaConnection(client, target(graph)).status()
    assert posts(graph) == []
    line = check(report, "facebook_subscription")
    assert line.mark == "fail" and "meta connect" in line.fix
    assert check(report, "instagram_subscription").mark == "fail"


def test_a_missing_permission_is_a_specific_line(graph: FakeGraph, client: GraphClient) -> None:
    page_token(graph, scopes=tuple(p for p in ALL_SCOPES if p != "pages_manage_engagement"))
    report = MetaConnection(client, target(graph)).connect()
    line = check(report, "facebook_permissions")
    assert line.symbol == "✘"
    assert line.detail == "権限が足りません：pages_manage_engagement"
    assert "Permissions and features" in line.fix and "pages_manage_engagement" in line.fix
    assert not report.ok


def test_without_pages_manage_metadata_the_subscription_fails_with_the_permission_named(
    graph: FakeGraph, client: GraphClient
) -> None:
    page_token(graph, scopes=tuple(p for p in ALL_SCOPES if p != "pages_manage_metadata"))
    report = MetaConnection(client, target(graph)).connect()
    assert "pages_manage_metadata" in check(report, "facebook_permissions").detail
    line = check(report, "facebook_subscription")
    assert line.mark == "fail" and "エラーコード 200" in line.detail and "pages_manage_metadata" in line.fix
    assert graph.pages[PAGE_ID].subscribed == {}


def test_an_expired_token_is_a_specific_line(graph: FakeGraph, client: GraphClient) -> None:
    page_token(graph, expires_at=int(time.time()) - DAY)
    report = MetaConnection(client, target(graph)).connect()
    line = check(report, "facebook_token")
    assert line.symbol == "✘" and "有効期限が切れています" in line.detail
    assert "SHAKYO_FACEBOOK_PAGE_TOKEN" in line.fix and "Graph API Explorer" in line.fix
    assert report.tokens["facebook"].valid is False
    assert posts(graph) == []


def test_an_expired_token_without_the_app_id_is_found_by_me(graph: FakeGraph, client: GraphClient) -> None:
    page_token(graph, data_access_expires_at=int(time.time()) - 60)
    report = MetaConnection(client, target(graph, app_id=None)).connect()
    assert "有効期限が切れています" in check(report, "facebook_token").detail


def test_a_page_the_token_does_not_manage(graph: FakeGraph, client: GraphClient) -> None:
    graph.add_token(PAGE_TOKEN, FakeToken("PAGE", OTHER_PAGE, "別の団体", ALL_SCOPES))
    report = MetaConnection(client, target(graph)).connect()
    line = check(report, "facebook_page")
    assert line.symbol == "✘"
    assert "別のページ「別の団体」" in line.detail and PAGE_ID in line.detail
    assert posts(graph) == []


def test_a_user_who_does_not_manage_the_page(graph: FakeGraph, client: GraphClient) -> None:
    graph.add_token(USER_TOKEN, FakeToken("USER", "900", "山田 太郎", ALL_SCOPES, pages=(OTHER_PAGE,)))
    report = MetaConnection(client, target(graph, page_token=USER_TOKEN)).connect()
    line = check(report, "facebook_page")
    assert line.mark == "fail" and f"ページ {PAGE_ID} を管理していません" in line.detail


def test_a_user_token_for_a_managed_page_asks_for_the_page_token(
    graph: FakeGraph, client: GraphClient
) -> None:
    graph.add_token(USER_TOKEN, FakeToken("USER", "900", "山田 太郎", ALL_SCOPES, pages=(PAGE_ID,)))
    report = MetaConnection(client, target(graph, page_token=USER_TOKEN)).connect()
    line = check(report, "facebook_page")
    assert line.mark == "fail" and "ユーザーのトークン" in line.detail and "ページのトークン" in line.fix


def test_app_level_webhook_fields_are_checked(graph: FakeGraph, client: GraphClient) -> None:
    page_token(graph)
    graph.app_subscriptions.pop("instagram")
    report = MetaConnection(client, target(graph)).connect()
    line = check(report, "app_webhooks_instagram")
    assert line.mark == "fail" and "comments" in line.detail and "「Webhooks」" in line.fix
    assert check(report, "app_webhooks_page").mark == "ok"


def test_a_missing_instagram_token_is_a_line_and_the_page_route_is_still_checked(
    graph: FakeGraph, client: GraphClient
) -> None:
    page_token(graph)
    report = MetaConnection(client, target(graph, instagram_token="")).connect()
    line = check(report, "instagram_token")
    assert line.mark == "fail" and "SHAKYO_INSTAGRAM_TOKEN が未設定" in line.detail
    assert check(report, "instagram_page").mark == "ok"
    assert check(report, "instagram_subscription").mark == "ok"


def test_instagram_not_linked_to_the_page(graph: FakeGraph, client: GraphClient) -> None:
    page_token(graph)
    graph.pages[PAGE_ID].instagram_account_id = ""
    report = MetaConnection(client, target(graph)).connect()
    line = check(report, "instagram_page")
    assert line.mark == "fail" and "つながっていません" in line.detail


def test_without_the_app_id_permissions_and_expiry_are_not_claimed(
    graph: FakeGraph, client: GraphClient
) -> None:
    page_token(graph)
    report = MetaConnection(client, target(graph, app_id=None)).connect()
    assert report.ok
    assert check(report, "facebook_permissions").mark == "skip"
    assert check(report, "facebook_expiry").mark == "skip"
    assert report.tokens["facebook"].lapses_at is None
    assert not any(c.comment_id == "debug_token" for c in graph.calls)


def test_instagram_login_subscribes_comments_on_the_instagram_host(
    graph: FakeGraph, client: GraphClient
) -> None:
    page_token(graph)
    graph.add_token(IG_TOKEN, FakeToken("INSTAGRAM", IG_ID, "mineshakyo"))
    t = target(graph, instagram_login="instagram", instagram_token=IG_TOKEN)
    first = MetaConnection(client, t).connect()
    assert first.ok, [(c.key, c.detail) for c in first.checks if c.mark != "ok"]
    assert graph.ig_subscriptions[IG_ID] == ["comments", "live_comments"]
    assert first.changed == ["facebook", "instagram"]
    ig_posts = [c for c in graph.calls if c.method == "POST" and c.comment_id == f"{IG_ID}/subscribed_apps"]
    assert "appsecret_proof" not in ig_posts[0].params  # the Meta app secret is not Instagram Login's key
    assert MetaConnection(client, t).connect().changed == []


def test_tokens_never_appear_in_the_report(graph: FakeGraph, client: GraphClient) -> None:
    page_token(graph)
    report = MetaConnection(client, target(graph)).connect()
    text = repr(report.to_dict())
    assert PAGE_TOKEN not in text and SECRET not in text
    assert ConnectionReport.from_dict(report.to_dict()) == report
