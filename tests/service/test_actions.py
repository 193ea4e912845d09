"""The action stream against the fake Graph API (real HTTP on loopback) and a real Redis server."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime

import pytest
import redis

from classifiers.categories import Severity
from service.actions import ACTIONS_GROUP, ActionWorker, Tokens, ensure_actions_group, token_problems
from service.hours import JST
from service.moderation import ACTIONS_STREAM, Moderation
from tests.fakes.fake_graph import FakeGraph, Reply
from tests.service.test_moderation import add_flagged
from webhooks.graph import GraphClient

SECRET = "fake-app-secret"
FB_TOKEN, IG_TOKEN = "fb-page-token", "ig-token"


@pytest.fixture
def graph() -> Iterator[FakeGraph]:
    with FakeGraph(app_secret=SECRET, tokens={FB_TOKEN, IG_TOKEN}) as fake:
        yield fake


def make_worker(
    r: redis.Redis, graph: FakeGraph, *, claim_idle: float = 60.0, name: str | None = None
) -> ActionWorker:
    client = GraphClient(graph.base_url, SECRET, backoff=0.001, timeout=5)
    return ActionWorker(r, client, Tokens(FB_TOKEN, IG_TOKEN), claim_idle_seconds=claim_idle, name=name)


def flagged_on(r: redis.Redis, graph: FakeGraph, platform: str) -> tuple[str, str]:
    item = add_flagged(r, platform=platform)
    comment_id = item.split(":", 1)[1]
    graph.add_comment(comment_id, platform=platform)  # type: ignore[arg-type]
    return item, comment_id


@pytest.mark.parametrize("platform", ["facebook", "instagram"])
def test_delete_on_both_platforms(r: redis.Redis, graph: FakeGraph, platform: str) -> None:
    item, cid = flagged_on(r, graph, platform)
    m = Moderation(r)
    m.decide(item, "delete", actor="tanaka", role="staff")
    assert make_worker(r, graph).drain() == 1
    assert graph.is_deleted(cid)
    assert m.store.get(item).status == "deleted"
    [call] = graph.calls_for(cid)
    assert call.method == "DELETE" and call.form["access_token"] == (
        FB_TOKEN if platform == "facebook" else IG_TOKEN
    )
    assert "appsecret_proof" in call.form


@pytest.mark.parametrize(("platform", "flag"), [("facebook", "is_hidden"), ("instagram", "hide")])
def test_hide_on_both_platforms(r: redis.Redis, graph: FakeGraph, platform: str, flag: str) -> None:
    item, cid = flagged_on(r, graph, platform)
    m = Moderation(r)
    m.decide(item, "hide", actor="tanaka", role="staff")
    make_worker(r, graph).drain()
    assert graph.is_hidden(cid)
    assert m.store.get(item).status == "hidden"
    assert m.store.get(item).hidden_on_platform
    [call] = graph.calls_for(cid)
    assert (call.method, call.form[flag]) == ("POST", "true")


def test_retries_after_500_and_rate_limits(r: redis.Redis, graph: FakeGraph) -> None:
    item, cid = flagged_on(r, graph, "facebook")
    graph.script(cid, Reply.server_error(500), Reply.rate_limited(4), Reply.rate_limited(613, status=429))
    Moderation(r).decide(item, "delete", actor="tanaka", role="staff")
    make_worker(r, graph).drain()
    assert [c.status for c in graph.calls_for(cid)] == [500, 400, 429, 200]
    assert Moderation(r).store.get(item).status == "deleted"


def test_does_not_exist_counts_as_done(r: redis.Redis, graph: FakeGraph) -> None:
    item, cid = flagged_on(r, graph, "instagram")
    graph.script(cid, Reply.does_not_exist())
    Moderation(r).decide(item, "hide", actor="tanaka", role="staff")
    make_worker(r, graph).drain()
    assert Moderation(r).store.get(item).status == "removed_on_platform"
    assert len(graph.calls_for(cid)) == 1


def test_expired_token_is_surfaced_and_cleared_by_the_next_success(r: redis.Redis, graph: FakeGraph) -> None:
    item, cid = flagged_on(r, graph, "facebook")
    graph.script(cid, Reply.token_expired())
    m = Moderation(r)
    m.decide(item, "delete", actor="tanaka", role="staff")
    worker = make_worker(r, graph)
    worker.drain()
    assert m.store.get(item).status == "action_failed"
    assert "有効期限" in m.state(item).failure
    assert "有効期限" in token_problems(r)["facebook"]
    m.decide(item, "delete", actor="tanaka", role="staff")  # the administrator renewed the token
    worker.drain()
    assert m.store.get(item).status == "deleted"
    assert token_problems(r) == {}


def test_crash_between_click_and_call_resumes_with_one_call(r: redis.Redis, graph: FakeGraph) -> None:
    item, cid = flagged_on(r, graph, "facebook")
    Moderation(r).decide(item, "delete", actor="tanaka", role="staff")
    ensure_actions_group(r)
    # The first worker takes the request and dies before calling Meta: the entry stays pending.
    taken = r.xreadgroup(ACTIONS_GROUP, "dead-worker", {ACTIONS_STREAM: ">"}, count=10)
    assert len(taken[0][1]) == 1
    assert graph.calls_for(cid) == []
    survivor = make_worker(r, graph, claim_idle=0.05, name="survivor")
    assert survivor.read_once(block_ms=None) == 0  # nothing new: the request is someone else's
    time.sleep(0.1)
    assert survivor.claim_stale() == 1
    assert len(graph.calls_for(cid)) == 1 and graph.is_deleted(cid)
    assert Moderation(r).store.get(item).status == "deleted"
    # Redelivered again (e.g. a second claimer racing): already completed, so no second call.
    r.xadd(ACTIONS_STREAM, r.xrange(ACTIONS_STREAM)[0][1])
    survivor.drain()
    assert len(graph.calls_for(cid)) == 1
    assert r.xpending(ACTIONS_STREAM, ACTIONS_GROUP)["pending"] == 0


def test_restart_picks_up_queued_clicks(r: redis.Redis, graph: FakeGraph) -> None:
    items = [flagged_on(r, graph, "facebook") for _ in range(3)]
    m = Moderation(r)
    for item, _ in items:
        m.decide(item, "hide", actor="tanaka", role="staff")
    # No worker was running when the clicks happened; one started afterwards does them all, once each.
    assert make_worker(r, graph).drain() == 3
    for item, cid in items:
        assert graph.is_hidden(cid) and len(graph.calls_for(cid)) == 1
        assert m.store.get(item).status == "hidden"


def test_auto_hide_then_delete_calls_meta_once_per_action(r: redis.Redis, graph: FakeGraph) -> None:
    item = add_flagged(r, "殺してやる", severity=Severity.HIGH, categories=["threat"], span="殺してやる")
    cid = item.split(":", 1)[1]
    graph.add_comment(cid)
    m = Moderation(r)
    assert m.auto_hide_due([item], emergency=False, at=datetime(2026, 11, 28, 10, 0, tzinfo=JST)) == [
        item
    ]  # Saturday
    worker = make_worker(r, graph)
    worker.drain()
    assert graph.is_hidden(cid) and m.state(item).auto_hidden and m.store.get(item).status == "pending"
    m.decide(item, "delete", actor="tanaka", role="staff")
    worker.drain()
    assert [c.method for c in graph.calls_for(cid)] == ["POST", "DELETE"]
    assert m.store.get(item).status == "deleted"
