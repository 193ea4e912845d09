"""POST/GET /webhooks/meta over real HTTP on loopback, against a real Redis server."""

from __future__ import annotations

import threading
import time
from typing import Any

import httpx
import pytest
import redis
import uvicorn

from service import keys
from service.app import create_app
from service.redis_conn import RedisTarget
from service.worker import Worker, ensure_group
from tests.conftest import TOXIC, VERIFY_TOKEN, free_port
from tests.webhooks.payloads import (
    IG_ACCOUNT_ID,
    PAGE_ID,
    fb_comment,
    fb_entry,
    fb_page_reply,
    fb_payload,
    fb_reaction,
    ig_comment,
    ig_entry,
    ig_payload,
    sign,
    to_body,
)
from webhooks.events import CommentEvent


def post(base: str, body: bytes, *, signature: str | None = "auto", **headers: str) -> httpx.Response:
    if signature == "auto":
        signature = sign(body)
    if signature is not None:
        headers["X-Hub-Signature-256"] = signature
    headers.setdefault("Content-Type", "application/json")
    return httpx.post(f"{base}/webhooks/meta", content=body, headers=headers, timeout=10)


def stream_events(r: redis.Redis) -> list[CommentEvent]:
    return [CommentEvent.from_json(f["event"]) for _id, f in r.xrange(keys.EVENTS)]


def test_handshake_echoes_challenge_and_refuses_wrong_token(app_url: str) -> None:
    ok = httpx.get(
        f"{app_url}/webhooks/meta",
        params={"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1158201444"},
    )
    assert ok.status_code == 200
    assert ok.text == "1158201444"
    wrong = httpx.get(
        f"{app_url}/webhooks/meta",
        params={"hub.mode": "subscribe", "hub.verify_token": "guess", "hub.challenge": "1158201444"},
    )
    assert wrong.status_code == 403
    assert "1158201444" not in wrong.text


@pytest.mark.parametrize("signature", [None, "sha256=" + "0" * 64, sign(b"other body"), "sha1=abc"])
def test_bad_or_missing_signature_is_403_and_stores_nothing(
    app_url: str, r: redis.Redis, signature: str | None
) -> None:
    body = to_body(fb_payload(PAGE_ID, [fb_comment(f"{PAGE_ID}_1_1", "こんにちは")]))
    resp = post(app_url, body, signature=signature)
    assert resp.status_code == 403
    assert r.xlen(keys.EVENTS) == 0
    assert not r.keys(keys.TAG + "dedup:*")


def test_signature_is_checked_over_raw_bytes_before_parsing(app_url: str, r: redis.Redis) -> None:
    # Signed garbage is a 400 (parsed after the check); unsigned garbage never reaches the parser (403).
    assert post(app_url, b"{not json").status_code == 400
    assert post(app_url, b"{not json", signature=None).status_code == 403
    assert post(app_url, b"\xff\xfe").status_code == 400


def test_body_over_limit_is_413(app_url: str, settings: Any, r: redis.Redis) -> None:
    big = b'{"object":"page","entry":[],"pad":"' + b"x" * settings.max_body_bytes + b'"}'
    assert post(app_url, big).status_code == 413

    # No Content-Length (chunked): the bytes actually read are counted.
    def chunks() -> Any:
        for _ in range(big.__len__() // 65536 + 1):
            yield b"x" * 65536

    resp = httpx.post(
        f"{app_url}/webhooks/meta", content=chunks(), headers={"X-Hub-Signature-256": sign(big)}, timeout=10
    )
    assert resp.status_code == 413
    assert r.xlen(keys.EVENTS) == 0


def test_non_comment_changes_are_acknowledged_and_ignored(app_url: str, r: redis.Redis) -> None:
    body = to_body(fb_payload(PAGE_ID, [fb_reaction()]))
    resp = post(app_url, body)
    assert resp.status_code == 200
    assert resp.json() == {"result": "ignored"}
    assert r.xlen(keys.EVENTS) == 0


def test_unknown_accounts_are_ignored(app_url: str, r: redis.Redis) -> None:
    fb = to_body(fb_payload("999", [fb_comment("999_1_1", "よその投稿", page_id="999")]))
    ig = to_body(ig_payload("888", [ig_comment("17001", "よそのアカウント")]))
    assert post(app_url, fb).status_code == 200
    assert post(app_url, ig).status_code == 200
    assert r.xlen(keys.EVENTS) == 0


def test_facebook_verbs_and_batches_are_stored_before_the_200(app_url: str, r: redis.Redis) -> None:
    cid = f"{PAGE_ID}_5550001_7001"
    payload = fb_payload(
        PAGE_ID,
        [
            fb_comment(cid, "いつもありがとうございます"),
            fb_comment(cid, "いつもありがとうございます!", verb="edited"),
            fb_comment(f"{PAGE_ID}_5550001_7002", "返信です", parent_id=cid),
        ],
        # A second entry in the same delivery (Meta batches changes).
        extra_entries=[fb_entry([fb_comment(cid, verb="hide"), fb_comment(cid, verb="remove")])],
    )
    resp = post(app_url, to_body(payload))
    assert resp.status_code == 200 and resp.json() == {"result": "ok"}
    assert resp.headers["content-type"] == "application/json" and resp.headers["cache-control"] == "no-store"
    events = stream_events(r)  # read right after the 200: already durable
    assert [(e.comment_id, e.verb) for e in events] == [
        (cid, "add"),
        (cid, "edited"),
        (f"{PAGE_ID}_5550001_7002", "add"),
        (cid, "hide"),
        (cid, "remove"),
    ]
    assert events[2].parent_id == cid
    assert {e.platform for e in events} == {"facebook"}


def test_own_page_reply_is_stored_marked_own(app_url: str, r: redis.Redis) -> None:
    body = to_body(
        fb_payload(PAGE_ID, [fb_page_reply(f"{PAGE_ID}_1_9", "ご意見ありがとうございます", parent_id="x_1")])
    )
    assert post(app_url, body).status_code == 200
    (event,) = stream_events(r)
    assert event.is_own


def test_instagram_comments_and_live_comments(app_url: str, r: redis.Redis) -> None:
    payload = ig_payload(
        IG_ACCOUNT_ID,
        [ig_comment("17001", "素敵な活動ですね"), ig_comment("17002", "お疲れさまです", parent_id="17001")],
        extra_entries=[ig_entry([ig_comment("17003", "ライブ見てます", field="live_comments")])],
    )
    assert post(app_url, to_body(payload, ascii_only=False)).status_code == 200
    events = stream_events(r)
    assert [(e.platform, e.comment_id, e.field) for e in events] == [
        ("instagram", "17001", "comments"),
        ("instagram", "17002", "comments"),
        ("instagram", "17003", "live_comments"),
    ]
    assert events[1].parent_id == "17001"


def test_redelivery_is_stored_once(app_url: str, r: redis.Redis) -> None:
    before = _gauge(httpx.get(f"{app_url}/metrics").text, "shakyo_redeliveries_total")
    body = to_body(fb_payload(PAGE_ID, [fb_comment(f"{PAGE_ID}_1_1", "同じ通知")]))
    for _ in range(3):
        assert post(app_url, body).status_code == 200
    # A duplicate inside one delivery is also stored once.
    twice = to_body(
        fb_payload(PAGE_ID, [fb_comment(f"{PAGE_ID}_1_2", "二重"), fb_comment(f"{PAGE_ID}_1_2", "二重")])
    )
    assert post(app_url, twice).status_code == 200
    assert [e.comment_id for e in stream_events(r)] == [f"{PAGE_ID}_1_1", f"{PAGE_ID}_1_2"]
    ttl = r.ttl(r.keys(keys.TAG + "dedup:*")[0])
    assert ttl > 72 * 3600
    after = _gauge(httpx.get(f"{app_url}/metrics").text, "shakyo_redeliveries_total")
    assert after - before == 3  # two repeats of the first delivery, one inside the second


def test_health_ready_and_metrics(app_url: str, r: redis.Redis) -> None:
    assert httpx.get(f"{app_url}/healthz").json() == {"status": "ok"}
    ready = httpx.get(f"{app_url}/readyz")
    assert ready.status_code in (200, 503)
    if ready.status_code == 503:  # Redis is up, so only the model may be missing
        assert set(ready.json()["reasons"]) == {"model"}
    metrics = httpx.get(f"{app_url}/metrics")
    assert metrics.status_code == 200
    for name in (
        "shakyo_webhook_requests_total",
        "shakyo_queue_depth",
        "shakyo_stream_pending",
        "shakyo_stream_oldest_waiting_seconds",
        "shakyo_classification_seconds",
    ):
        assert name in metrics.text


def test_readyz_is_503_when_redis_is_gone(make_settings: Any) -> None:
    bad = make_settings(redis_url=f"redis://127.0.0.1:{free_port()}/0")
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(bad, RedisTarget(bad.secret("redis_url"), embedded=False)),
            host="127.0.0.1",
            port=0,
            log_config=None,
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        resp = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=30)
        assert resp.status_code == 503
        assert "redis" in resp.json()["reasons"]
        body = to_body(fb_payload(PAGE_ID, [fb_comment(f"{PAGE_ID}_1_1", "届くかな")]))
        # Not stored -> not acknowledged: Meta will retry.
        assert post(f"http://127.0.0.1:{port}", body).status_code == 503
    finally:
        server.should_exit = True
        thread.join(10)


def test_metrics_report_queue_depth_and_worker_lag(app_url: str, r: redis.Redis, settings: Any) -> None:
    ensure_group(r)
    assert (
        post(app_url, to_body(fb_payload(PAGE_ID, [fb_comment(f"{PAGE_ID}_1_1", TOXIC)]))).status_code == 200
    )
    time.sleep(0.05)
    waiting = _gauge(httpx.get(f"{app_url}/metrics").text, "shakyo_stream_oldest_waiting_seconds")
    assert waiting > 0  # an entry no worker has taken yet
    Worker(r, settings).drain()
    text = httpx.get(f"{app_url}/metrics").text
    assert _gauge(text, "shakyo_stream_oldest_waiting_seconds") == 0
    assert _gauge(text, 'shakyo_queue_depth{status="pending"}') == 1
    assert _gauge(text, "shakyo_stream_pending") == 0
    # Worker figures come from Redis, so a web process reports work done by worker processes.
    assert _gauge(text, 'shakyo_events_processed_total{outcome="applied"}') == 1
    assert _gauge(text, "shakyo_classification_seconds_count") == 1


def _gauge(text: str, name: str) -> float:
    (line,) = [ln for ln in text.splitlines() if ln.startswith(name + " ")]
    return float(line.split()[-1])
