"""Reconciliation against the fake Graph API over loopback and a real Redis: paging, comments only sync sees,
comments seen both ways (stored once), removed ones, staff deletes Meta still shows, rate-limit headers,
an expired token, two processes making one pass, `shakyo-mod sync`, and `serve` with no webhooks at all."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
import redis

from service import keys
from service.actions import TOKEN_PROBLEM_KEY
from service.audit import AuditLog
from service.reconcile.job import PAUSE_KEY, SyncJob, run_locked
from service.reconcile.sync import MISSED_INDEX, STATS_FIELD, SyncResult
from service.settings import Settings
from service.store import REMOVED_ON_PLATFORM, Store
from service.worker import Worker
from tests.conftest import BENIGN, REPO, TOXIC, enqueue, fb, free_port, run_cli
from tests.fakes.fake_graph import FakeGraph
from tests.webhooks.payloads import APP_SECRET, IG_ACCOUNT_ID, PAGE_ID

TOKEN = "fake-page-token"  # nosec B105  # the fake's token
POST = f"{PAGE_ID}_900"
MEDIA = "17900000000000001"


@pytest.fixture
def graph() -> Iterator[FakeGraph]:
    with FakeGraph(app_secret=APP_SECRET, tokens={TOKEN}) as fake:
        yield fake


@pytest.fixture
def sync_settings(make_settings: Callable[..., Settings], graph: FakeGraph) -> Settings:
    return make_settings(
        graph_api_url=graph.base_url, facebook_page_token=TOKEN, instagram_token=TOKEN, sync_days=14
    )


def fb_comment(
    graph: FakeGraph, cid: str, text: str, *, post: str = POST, parent: str = "", **kw: object
) -> None:
    graph.add_comment(
        cid,
        platform="facebook",
        account_id=PAGE_ID,
        post_id=post,
        text=text,
        author=("71", "山田 花子"),
        parent_id=parent,
        **kw,  # type: ignore[arg-type]
    )


def run_pass(r: redis.Redis, settings: Settings, slept: list[float] | None = None) -> SyncResult:
    result = run_locked(
        r, settings, settings.sync_days, sleep=(slept.append if slept is not None else lambda s: None)
    )
    assert result is not None
    return result


def drain(r: redis.Redis, settings: Settings) -> None:
    Worker(r, settings).drain()


def test_paging_reads_every_post_comment_and_reply(
    r: redis.Redis, graph: FakeGraph, sync_settings: Settings
) -> None:
    graph.page_size = 2
    for n in range(3):
        graph.add_post(f"{PAGE_ID}_90{n}", account_id=PAGE_ID)
    for n in range(5):
        fb_comment(graph, f"900_{n}", f"{BENIGN} {n}")
    fb_comment(graph, "900_r", "返信です", parent="900_0")
    graph.add_post(MEDIA, platform="instagram", account_id=IG_ACCOUNT_ID)
    graph.add_comment(
        "1790001",
        platform="instagram",
        account_id=IG_ACCOUNT_ID,
        post_id=MEDIA,
        text="素敵",
        author=("55", "hanako"),
    )
    graph.add_comment(
        "1790002",
        platform="instagram",
        account_id=IG_ACCOUNT_ID,
        post_id=MEDIA,
        text="ありがとう",
        author=("56", "taro"),
        parent_id="1790001",
    )
    result = run_pass(r, sync_settings)
    assert (result.posts, result.seen, result.missed) == (4, 8, 8)
    # Posts and comments came over several pages, each asked for with the previous page's `after` cursor.
    pages = [c for c in graph.calls if c.comment_id == f"{POST}/comments"]
    assert [c.query.get("after") for c in pages] == [None, "2", "4"]
    assert all(c.query["filter"] == "stream" for c in pages)
    assert "parent{id}" in pages[0].query["fields"] and "is_hidden" in pages[0].query["fields"]
    drain(r, sync_settings)
    store = Store(r)
    reply = store.get("facebook:900_r")
    assert reply is not None and reply.parent_id == "900_0" and reply.source == "sync"
    ig_reply = store.get("instagram:1790002")
    assert ig_reply is not None and ig_reply.parent_id == "1790001" and ig_reply.author_name == "taro"
    assert store.count_comments() == 8


def test_a_comment_only_sync_sees_is_stored_marked_and_counted(
    r: redis.Redis, graph: FakeGraph, sync_settings: Settings, redis_url: str
) -> None:
    graph.add_post(POST, account_id=PAGE_ID)
    fb_comment(graph, "900_1", TOXIC, hidden=True)
    result = run_pass(r, sync_settings)
    assert result.missed == 1
    drain(r, sync_settings)
    comment = Store(r).get("facebook:900_1")
    assert comment is not None and comment.source == "sync" and comment.flagged and comment.hidden_on_platform
    assert comment.status == "pending"
    # Counted for /metrics and the weekly report.
    assert r.hget(keys.WORKER_METRICS, STATS_FIELD) == "1"
    assert r.zscore(MISSED_INDEX, "facebook:900_1") is not None
    # The Graph node it was read from is kept as the body it arrived in.
    sha, source, _ = r.lrange(keys.raw_refs("facebook:900_1"), 0, -1)[0].split(" ")
    assert source == "sync"
    assert json.loads(r.get(keys.raw_body(sha)))["message"] == TOXIC
    # A second pass finds nothing new.
    assert run_pass(r, sync_settings).missed == 0


def test_a_comment_seen_by_webhook_and_sync_is_stored_once(
    r: redis.Redis, graph: FakeGraph, sync_settings: Settings, redis_url: str
) -> None:
    graph.add_post(POST, account_id=PAGE_ID)
    fb_comment(graph, "900_1", BENIGN)
    fb_comment(graph, "900_2", TOXIC)
    enqueue(redis_url, fb("900_1", BENIGN, post_id=POST))
    drain(r, sync_settings)  # the first was stored from its webhook
    enqueue(redis_url, fb("900_2", TOXIC, post_id=POST))  # the second is still waiting in the stream
    result = run_pass(r, sync_settings)
    assert result.missed == 0  # neither was missed: the dedup key is the webhook's
    drain(r, sync_settings)
    assert r.xlen(keys.EVENTS) == 2
    assert Store(r).count_comments() == 2
    assert {c.source for c in Store(r).iter_comments()} == {"webhook"}


def test_a_comment_gone_from_meta_becomes_removed_on_platform(
    r: redis.Redis, graph: FakeGraph, sync_settings: Settings, redis_url: str
) -> None:
    graph.add_post(POST, account_id=PAGE_ID)
    fb_comment(graph, "900_1", BENIGN)
    enqueue(redis_url, fb("900_1", BENIGN, post_id=POST), fb("900_2", TOXIC, post_id=POST))
    drain(r, sync_settings)
    assert Store(r).get("facebook:900_2").status == "pending"  # type: ignore[union-attr]
    result = run_pass(r, sync_settings)  # Meta lists 900_1 only: the author deleted 900_2
    assert result.removed == 1
    drain(r, sync_settings)
    gone = Store(r).get("facebook:900_2")
    assert gone is not None and gone.removed_on_platform and gone.status == REMOVED_ON_PLATFORM
    assert Store(r).get("facebook:900_1").status == "clear"  # type: ignore[union-attr]
    assert run_pass(r, sync_settings).removed == 0  # settled once


def test_a_staff_delete_meta_still_shows_becomes_action_failed(
    r: redis.Redis, graph: FakeGraph, sync_settings: Settings, redis_url: str
) -> None:
    graph.add_post(POST, account_id=PAGE_ID)
    fb_comment(graph, "900_1", TOXIC)
    enqueue(redis_url, fb("900_1", TOXIC, post_id=POST))
    drain(r, sync_settings)
    Store(r).set_status("facebook:900_1", "deleted")
    result = run_pass(r, sync_settings)
    assert result.still_there == 1
    assert Store(r).get("facebook:900_1").status == "action_failed"  # type: ignore[union-attr]
    assert "削除したはずのコメントがMetaに残っています" in r.hget("{shakyo}:mod:facebook:900_1", "failure")
    entry = AuditLog(r).latest(1)[0]
    assert (entry.action, entry.from_status, entry.actor) == ("action_failed", "deleted", "system")


def test_usage_headers_slow_the_pass_and_a_limit_pauses_the_job(
    r: redis.Redis, graph: FakeGraph, sync_settings: Settings
) -> None:
    graph.add_post(POST, account_id=PAGE_ID)
    fb_comment(graph, "900_1", BENIGN)
    graph.usage_headers = (
        ("X-App-Usage", json.dumps({"call_count": 10, "total_cputime": 5, "total_time": 8})),
    )
    slept: list[float] = []
    run_pass(r, sync_settings, slept)
    assert slept == []  # well below 75 %: full speed
    usage = {
        PAGE_ID: [
            {
                "type": "pages",
                "call_count": 90,
                "total_cputime": 20,
                "total_time": 30,
                "estimated_time_to_regain_access": 0,
            }
        ]
    }
    graph.usage_headers = (("X-Business-Use-Case-Usage", json.dumps(usage)),)
    run_pass(r, sync_settings, slept)
    assert slept and all(s > 0 for s in slept)  # above 75 %: a pause before each next call
    usage[PAGE_ID][0].update(call_count=100, estimated_time_to_regain_access=30)
    graph.usage_headers = (("X-Business-Use-Case-Usage", json.dumps(usage)),)
    result = run_pass(r, sync_settings)
    assert result.paused_minutes == 30 and "中断" in result.summary_ja()
    assert r.ttl(PAUSE_KEY) > 0
    calls = len(graph.calls)
    assert (
        SyncJob(
            redis.Redis.from_url(sync_settings.secret("redis_url"), decode_responses=True), sync_settings
        ).tick()
        is None
    )
    assert len(graph.calls) == calls  # paused: Meta is not asked


def test_an_expired_token_shows_in_the_banner(
    r: redis.Redis, graph: FakeGraph, make_settings: Callable[..., Settings]
) -> None:
    settings = make_settings(graph_api_url=graph.base_url, facebook_page_token="lapsed", instagram_token=None)
    result = run_pass(r, settings)
    assert result.errors
    assert "トークン" in r.hget(TOKEN_PROBLEM_KEY, "facebook")


_TICK = """
import sys
from service.reconcile.job import SyncJob
from service.settings import load_settings
from service.redis_conn import open_redis
settings = load_settings()
with open_redis(settings) as target:
    print("ran" if SyncJob(target.client(), settings).tick() is not None else "skipped")
"""


def sync_env(cli_env: dict[str, str], redis_url: str, graph: FakeGraph, **extra: str) -> dict[str, str]:
    return {
        **cli_env,
        "SHAKYO_REDIS_URL": redis_url,
        "SHAKYO_META_APP_SECRET": APP_SECRET,
        "SHAKYO_META_VERIFY_TOKEN": "v",
        "SHAKYO_FACEBOOK_PAGE_ID": PAGE_ID,
        "SHAKYO_FACEBOOK_PAGE_TOKEN": TOKEN,
        "SHAKYO_GRAPH_API_URL": graph.base_url,
        **extra,
    }


def test_two_processes_make_one_pass(
    r: redis.Redis, graph: FakeGraph, cli_env: dict[str, str], redis_url: str, tmp_path: Path
) -> None:
    graph.add_post(POST, account_id=PAGE_ID)
    fb_comment(graph, "900_1", BENIGN)
    env = sync_env(cli_env, redis_url, graph)
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _TICK], env=env, cwd=tmp_path, stdout=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    outputs = sorted(p.communicate(timeout=60)[0].strip() for p in procs)
    assert outputs == ["ran", "skipped"]
    assert len([c for c in graph.calls if c.comment_id == f"{PAGE_ID}/posts"]) == 1


def test_cli_sync_backfills(
    r: redis.Redis, graph: FakeGraph, cli_env: dict[str, str], redis_url: str, tmp_path: Path
) -> None:
    graph.add_post(POST, account_id=PAGE_ID, created=time.time() - 20 * 86400)
    fb_comment(graph, "900_1", BENIGN)
    env = sync_env(cli_env, redis_url, graph)
    done = run_cli(["sync"], env, cwd=tmp_path)  # 14 days: the 20-day-old post is out of reach
    assert done.returncode == 0, done.stderr
    assert "Webhookで届いていなかったコメント: 0件" in done.stdout
    done = run_cli(["sync", "--days", "30"], env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "Webhookで届いていなかったコメント: 1件" in done.stdout
    assert r.xlen(keys.EVENTS) == 1


@pytest.mark.slow
def test_serve_without_webhooks_stores_every_comment_after_one_interval(
    graph: FakeGraph, cli_env: dict[str, str], tmp_path: Path, redis_url: str
) -> None:
    graph.page_size = 2
    graph.add_post(POST, account_id=PAGE_ID)
    graph.add_post(MEDIA, platform="instagram", account_id=IG_ACCOUNT_ID)
    for n in range(4):
        fb_comment(graph, f"900_{n}", f"{BENIGN} {n}")
    graph.add_comment(
        "1790001",
        platform="instagram",
        account_id=IG_ACCOUNT_ID,
        post_id=MEDIA,
        text=TOXIC,
        author=("55", "x"),
    )
    expected = {f"facebook:900_{n}" for n in range(4)} | {"instagram:1790001"}
    env = sync_env(
        cli_env,
        redis_url,
        graph,
        SHAKYO_INSTAGRAM_ACCOUNT_ID=IG_ACCOUNT_ID,
        SHAKYO_INSTAGRAM_TOKEN=TOKEN,
        SHAKYO_SYNC_INTERVAL_MINUTES="0.02",  # about a second
        SHAKYO_REPORT_SCHEDULE="false",
    )
    port = free_port()
    with (tmp_path / "serve.log").open("w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "service", "serve", "--port", str(port)],
            env=env,
            cwd=REPO,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        client = redis.Redis.from_url(redis_url, decode_responses=True)
        deadline = time.monotonic() + 120
        while set(client.zrange(keys.COMMENTS_BY_RECEIVED, 0, -1)) != expected:
            assert proc.poll() is None, (tmp_path / "serve.log").read_text()
            assert time.monotonic() < deadline, "not every comment was stored"
            time.sleep(0.2)
        assert {Store(client).get(i).source for i in expected} == {"sync"}  # type: ignore[union-attr]
        while True:  # the web process may come up after the sync job has done its work
            try:
                metrics = httpx.get(f"http://127.0.0.1:{port}/metrics").text
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "serve did not answer"
                time.sleep(0.2)
        assert "shakyo_sync_missed_comments_total 5.0" in metrics
    finally:
        proc.terminate()
        proc.wait(30)
