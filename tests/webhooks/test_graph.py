"""GraphClient against the fake Graph API over real HTTP on loopback."""

from __future__ import annotations

import hashlib
import hmac
import logging
import socket
import time
from collections.abc import Iterator

import pytest
import requests

from tests.fakes.fake_graph import FakeGraph, Reply
from webhooks.graph import ActionResult, GraphClient, appsecret_proof

SECRET = "graph-test-app-secret"
TOKEN = "EAAG-page-token-for-tests"
FB_COMMENT = "104200000000001_5550001_1"
IG_COMMENT = "17850000000000001"


@pytest.fixture
def graph() -> Iterator[FakeGraph]:
    with FakeGraph(app_secret=SECRET, tokens={TOKEN}) as fake:
        fake.add_comment(FB_COMMENT, platform="facebook")
        fake.add_comment(IG_COMMENT, platform="instagram")
        yield fake


@pytest.fixture
def client(graph: FakeGraph) -> Iterator[GraphClient]:
    graph_client = GraphClient(graph.base_url, SECRET, timeout=2, max_retries=3, backoff=0.001)
    yield graph_client
    graph_client.close()


def expected_proof(token: str = TOKEN, secret: str = SECRET) -> str:
    return hmac.new(secret.encode(), token.encode(), hashlib.sha256).hexdigest()


# -- the happy paths ------------------------------------------------------------------------------


def test_facebook_delete(graph: FakeGraph, client: GraphClient) -> None:
    result = client.delete_comment("facebook", FB_COMMENT, TOKEN)
    assert result == ActionResult(True, "done", "コメントを削除しました。", None, None, 1)
    assert graph.is_deleted(FB_COMMENT)
    (call,) = graph.calls
    assert (call.method, call.version, call.comment_id) == ("DELETE", graph.version, FB_COMMENT)


def test_facebook_hide_and_unhide(graph: FakeGraph, client: GraphClient) -> None:
    hidden = client.hide_comment("facebook", FB_COMMENT, TOKEN)
    assert (hidden.ok, hidden.outcome, hidden.message_ja) == (True, "done", "コメントを非表示にしました。")
    assert graph.is_hidden(FB_COMMENT)
    shown = client.hide_comment("facebook", FB_COMMENT, TOKEN, hidden=False)
    assert (shown.outcome, shown.message_ja) == ("done", "コメントの非表示を解除しました。")
    assert not graph.is_hidden(FB_COMMENT)
    assert [(c.method, c.form.get("is_hidden")) for c in graph.calls] == [("POST", "true"), ("POST", "false")]


def test_instagram_delete(graph: FakeGraph, client: GraphClient) -> None:
    assert client.delete_comment("instagram", IG_COMMENT, TOKEN).outcome == "done"
    assert graph.is_deleted(IG_COMMENT)


def test_instagram_hide_uses_the_hide_parameter(graph: FakeGraph, client: GraphClient) -> None:
    assert client.hide_comment("instagram", IG_COMMENT, TOKEN).outcome == "done"
    assert graph.is_hidden(IG_COMMENT)
    (call,) = graph.calls
    assert call.form.get("hide") == "true"
    assert "is_hidden" not in call.params


def test_token_and_proof_travel_in_the_body_never_in_the_url(graph: FakeGraph, client: GraphClient) -> None:
    client.delete_comment("facebook", FB_COMMENT, TOKEN)
    client.hide_comment("instagram", IG_COMMENT, TOKEN)
    for call in graph.calls:
        assert call.query == {}
        assert call.form["access_token"] == TOKEN
        assert call.form["appsecret_proof"] == expected_proof()


def test_appsecret_proof_is_hmac_of_the_token_keyed_by_the_secret() -> None:
    assert appsecret_proof(TOKEN, SECRET) == expected_proof()
    assert appsecret_proof(TOKEN, "other") != expected_proof()


def test_wrong_app_secret_is_refused_by_the_fake_and_not_retried(graph: FakeGraph) -> None:
    wrong = GraphClient(graph.base_url, "not-the-app-secret", max_retries=3, backoff=0.001)
    result = wrong.delete_comment("facebook", FB_COMMENT, TOKEN)
    wrong.close()
    assert (result.ok, result.outcome, result.code, result.attempts) == (False, "failed", 100, 1)
    assert "100" in result.message_ja
    assert not graph.is_deleted(FB_COMMENT)


def test_fake_refuses_calls_without_token_or_proof(graph: FakeGraph) -> None:
    """The fake is as strict as an app with "Require App Secret" on, so the checks above mean something."""
    url = f"{graph.base_url}/{FB_COMMENT}"
    no_token = requests.delete(url, data={"appsecret_proof": expected_proof()}, timeout=2)
    no_proof = requests.delete(url, data={"access_token": TOKEN}, timeout=2)
    assert no_token.json()["error"]["code"] == 104
    assert no_proof.json()["error"]["code"] == 100
    assert not graph.is_deleted(FB_COMMENT)


# -- gone, expired, forbidden ---------------------------------------------------------------------


def test_deleting_twice_counts_the_second_as_already_gone(client: GraphClient) -> None:
    assert client.delete_comment("facebook", FB_COMMENT, TOKEN).outcome == "done"
    again = client.delete_comment("facebook", FB_COMMENT, TOKEN)
    assert (again.ok, again.outcome, again.code, again.subcode, again.attempts) == (
        True,
        "already_gone",
        100,
        33,
        1,
    )


def test_hiding_a_comment_that_does_not_exist_is_already_gone(graph: FakeGraph, client: GraphClient) -> None:
    graph.script(IG_COMMENT, Reply.does_not_exist())
    result = client.hide_comment("instagram", IG_COMMENT, TOKEN)
    assert (result.ok, result.outcome) == (True, "already_gone")
    assert not graph.is_hidden(IG_COMMENT)


@pytest.mark.parametrize(
    ("subcode", "wording"),
    [(463, "有効期限が切れています"), (460, "パスワードが変更された")],
)
def test_expired_token_is_surfaced_plainly_without_retry(
    graph: FakeGraph, client: GraphClient, subcode: int, wording: str
) -> None:
    graph.script(FB_COMMENT, Reply.token_expired(subcode))
    result = client.delete_comment("facebook", FB_COMMENT, TOKEN)
    assert (result.ok, result.outcome, result.code, result.subcode, result.attempts) == (
        False,
        "token_expired",
        190,
        subcode,
        1,
    )
    assert wording in result.message_ja
    assert "トークンを更新してください" in result.message_ja


def test_unknown_token_is_token_expired(graph: FakeGraph, client: GraphClient) -> None:
    result = client.delete_comment("facebook", FB_COMMENT, "EAAG-revoked")
    assert (result.outcome, result.code) == ("token_expired", 190)
    assert not graph.is_deleted(FB_COMMENT)


def test_missing_token_is_reported_without_calling_meta(graph: FakeGraph, client: GraphClient) -> None:
    result = client.delete_comment("facebook", FB_COMMENT, "")
    assert (result.outcome, result.attempts) == ("token_expired", 0)
    assert "設定されていません" in result.message_ja
    assert graph.calls == []


def test_permission_error_is_not_retried(graph: FakeGraph, client: GraphClient) -> None:
    graph.script(FB_COMMENT, Reply.permission_denied(200))
    result = client.hide_comment("facebook", FB_COMMENT, TOKEN)
    assert (result.ok, result.outcome, result.code, result.attempts) == (False, "permission", 200, 1)
    assert len(graph.calls) == 1


def test_other_graph_errors_fail_at_once_with_the_code(graph: FakeGraph, client: GraphClient) -> None:
    graph.script(FB_COMMENT, Reply.error(400, 368, "temporarily blocked"))
    result = client.delete_comment("facebook", FB_COMMENT, TOKEN)
    assert (result.outcome, result.code, result.attempts) == ("failed", 368, 1)
    assert "エラーコード 368" in result.message_ja


# -- retries --------------------------------------------------------------------------------------


def test_retries_after_server_errors_then_succeeds(graph: FakeGraph, client: GraphClient) -> None:
    graph.script(FB_COMMENT, Reply.server_error(500), Reply.server_error(503))
    result = client.delete_comment("facebook", FB_COMMENT, TOKEN)
    assert (result.ok, result.outcome, result.attempts) == (True, "done", 3)
    assert [c.status for c in graph.calls] == [500, 503, 200]
    assert graph.is_deleted(FB_COMMENT)


@pytest.mark.parametrize(
    ("code", "status"),
    [(4, 403), (17, 403), (32, 400), (613, 400), (80001, 400), (80002, 400)],
)
def test_retries_after_rate_limit_errors_then_succeeds(
    graph: FakeGraph, client: GraphClient, code: int, status: int
) -> None:
    graph.script(IG_COMMENT, Reply.rate_limited(code, status=status))
    result = client.hide_comment("instagram", IG_COMMENT, TOKEN)
    assert (result.ok, result.outcome, result.attempts) == (True, "done", 2)
    assert [c.status for c in graph.calls] == [status, 200]


def test_server_errors_exhaust_the_retries(graph: FakeGraph, client: GraphClient) -> None:
    graph.script(FB_COMMENT, *[Reply.server_error()] * 10)
    result = client.delete_comment("facebook", FB_COMMENT, TOKEN)
    assert (result.ok, result.outcome, result.attempts) == (False, "failed", 4)
    assert "一時的な障害" in result.message_ja
    assert len(graph.calls) == 4
    assert not graph.is_deleted(FB_COMMENT)


def test_rate_limits_exhaust_the_retries_with_a_rate_limit_message(graph: FakeGraph) -> None:
    graph.script(FB_COMMENT, *[Reply.rate_limited(32)] * 10)
    patient = GraphClient(graph.base_url, SECRET, max_retries=2, backoff=0.001)
    result = patient.delete_comment("facebook", FB_COMMENT, TOKEN)
    patient.close()
    assert (result.outcome, result.code, result.attempts) == ("failed", 32, 3)
    assert "上限" in result.message_ja


def test_mixed_transient_errors_share_one_budget(graph: FakeGraph, client: GraphClient) -> None:
    graph.script(
        FB_COMMENT,
        Reply.server_error(),
        Reply.rate_limited(4),
        Reply.server_error(502),
        Reply.rate_limited(17),
    )
    result = client.delete_comment("facebook", FB_COMMENT, TOKEN)
    assert (result.outcome, result.code, result.attempts) == ("failed", 17, 4)
    assert [c.status for c in graph.calls_for(FB_COMMENT)] == [500, 400, 502, 400]


def test_no_retries_when_max_retries_is_zero(graph: FakeGraph) -> None:
    graph.script(FB_COMMENT, Reply.server_error())
    once = GraphClient(graph.base_url, SECRET, max_retries=0, backoff=0.001)
    result = once.delete_comment("facebook", FB_COMMENT, TOKEN)
    once.close()
    assert (result.outcome, result.attempts) == ("failed", 1)


def test_timeout_is_retried(graph: FakeGraph) -> None:
    graph.script(FB_COMMENT, Reply.delayed(1.0))
    quick = GraphClient(graph.base_url, SECRET, timeout=0.2, max_retries=2, backoff=0.001)
    result = quick.delete_comment("facebook", FB_COMMENT, TOKEN)
    quick.close()
    assert (result.ok, result.outcome, result.attempts) == (True, "done", 2)


def test_backoff_grows_between_attempts(graph: FakeGraph) -> None:
    graph.script(FB_COMMENT, Reply.server_error(), Reply.server_error())
    slow = GraphClient(graph.base_url, SECRET, max_retries=2, backoff=0.05)
    result = slow.delete_comment("facebook", FB_COMMENT, TOKEN)
    slow.close()
    assert result.attempts == 3
    first, second, third = (call.at for call in graph.calls)
    assert second - first >= 0.05
    assert third - second >= 0.1


def test_retry_after_header_is_honoured(graph: FakeGraph, client: GraphClient) -> None:
    graph.script(FB_COMMENT, Reply.rate_limited(4, retry_after=0.3))
    started = time.monotonic()
    result = client.delete_comment("facebook", FB_COMMENT, TOKEN)
    assert result.attempts == 2
    assert time.monotonic() - started >= 0.3


def test_connection_refused_is_retried_then_failed() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    nowhere = GraphClient(f"http://127.0.0.1:{port}/v26.0", SECRET, timeout=0.5, max_retries=2, backoff=0.001)
    result = nowhere.delete_comment("facebook", FB_COMMENT, TOKEN)
    nowhere.close()
    assert (result.ok, result.outcome, result.attempts, result.code) == (False, "failed", 3, None)
    assert "接続できませんでした" in result.message_ja


# -- inputs and logs ------------------------------------------------------------------------------


@pytest.mark.parametrize("comment_id", ["", "../me/feed", "123?fields=x", "123/likes", "a b"])
def test_malformed_comment_ids_are_refused_before_any_call(
    graph: FakeGraph, client: GraphClient, comment_id: str
) -> None:
    result = client.delete_comment("facebook", comment_id, TOKEN)
    assert (result.ok, result.outcome, result.attempts) == (False, "failed", 0)
    assert graph.calls == []


def test_unknown_platform_is_a_programming_error(client: GraphClient) -> None:
    with pytest.raises(ValueError, match="platform"):
        client.delete_comment("twitter", FB_COMMENT, TOKEN)  # type: ignore[arg-type]


def test_logs_never_contain_the_token_or_the_proof(
    graph: FakeGraph, client: GraphClient, caplog: pytest.LogCaptureFixture
) -> None:
    graph.script(FB_COMMENT, Reply.server_error(), Reply.rate_limited(613))
    caplog.set_level(logging.DEBUG)  # every logger, urllib3's included
    client.delete_comment("facebook", FB_COMMENT, TOKEN)
    client.delete_comment("facebook", FB_COMMENT, "EAAG-revoked")
    assert caplog.records, "the retries should have been logged"
    text = "\n".join(record.getMessage() for record in caplog.records)
    assert FB_COMMENT in text
    for secret in (TOKEN, "EAAG-revoked", expected_proof(), expected_proof("EAAG-revoked")):
        assert secret not in text
