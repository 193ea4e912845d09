from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import redis
from argon2 import PasswordHasher

from service.accounts import AccountStore, Role
from service.audit import AuditLog
from service.hours import JST
from service.incidents import FlareDetector, FlareError

T0 = datetime(2026, 11, 24, 10, 0, tzinfo=JST)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


class Receiver:
    """A real HTTP server on 127.0.0.1 that stores what it is sent and answers as told."""

    def __init__(self, status: int = 200, delay: float = 0.0) -> None:
        self.bodies: list[dict] = []
        self.status, self.delay = status, delay
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers["Content-Length"])
                receiver.bodies.append(json.loads(self.rfile.read(length)))
                time.sleep(receiver.delay)
                self.send_response(receiver.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/SECRET-TOKEN"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    rec = Receiver()
    yield rec
    rec.close()


def test_threshold_within_window(r: redis.Redis) -> None:
    d = FlareDetector(r, threshold=3, window_seconds=600)
    assert d.record("facebook", "P1", "c1", at(0)) is None
    assert d.record("facebook", "P1", "c2", at(60)) is None
    assert d.active() == []
    state = d.record("facebook", "P1", "c3", at(120))
    assert state is not None
    assert (state.platform, state.post_id, state.comment_count) == ("facebook", "P1", 3)
    assert state.started_at == at(120) and state.first_comment_at == at(0)
    assert state.post_key == "facebook:P1" and state.active
    assert "Facebookの投稿（P1）" in state.message_ja and "10分間で3件以上" in state.message_ja
    assert [s.flare_id for s in d.active()] == [state.flare_id]


def test_each_comment_counts_once(r: redis.Redis) -> None:
    d = FlareDetector(r, threshold=3, window_seconds=600)
    for i in range(5):  # one comment redelivered and edited again and again
        assert d.record("facebook", "P1", "c1", at(i)) is None
    assert d.record("facebook", "P1", "c2", at(10)) is None
    assert d.record("facebook", "P1", "c3", at(20)) is not None


def test_comments_outside_the_window_do_not_count(r: redis.Redis) -> None:
    d = FlareDetector(r, threshold=3, window_seconds=600)
    assert d.record("instagram", "M1", "c1", at(0)) is None
    assert d.record("instagram", "M1", "c2", at(300)) is None
    assert d.record("instagram", "M1", "c3", at(700)) is None  # c1 is 700 s old by now
    state = d.record("instagram", "M1", "c4", at(710))
    assert state is not None and state.comment_count == 3 and state.first_comment_at == at(300)


def test_posts_are_counted_separately(r: redis.Redis) -> None:
    d = FlareDetector(r, threshold=2, window_seconds=600)
    assert d.record("facebook", "P1", "c1", at(0)) is None
    assert d.record("facebook", "P2", "c2", at(1)) is None
    assert d.record("instagram", "P1", "c3", at(2)) is None  # same id, other platform
    assert d.active() == []
    assert d.record("facebook", "P2", "c4", at(3)) is not None


def test_active_flare_counts_on_and_is_acknowledged(r: redis.Redis) -> None:
    AccountStore(r, hasher=PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)).create(
        "kacho", "Tsubaki-no-hana-2026", Role.CHIEF
    )
    d = FlareDetector(r, threshold=2, window_seconds=600)
    d.record("facebook", "P1", "c1", at(0))
    first = d.record("facebook", "P1", "c2", at(10))
    assert first is not None
    assert d.record("facebook", "P1", "c3", at(20)) is None  # already flaring: no second start
    assert d.record("facebook", "P1", "c3", at(25)) is None  # and a repeat does not add
    assert d.active()[0].comment_count == 3

    done = d.acknowledge("facebook:P1", "kacho", note="課長に報告し、お詫びを掲載", at=at(3600))
    assert done.acknowledged_by == "kacho" and done.acknowledged_at == at(3600) and not done.active
    assert d.active() == []
    with pytest.raises(FlareError) as err:
        d.acknowledge("facebook:P1", "kacho")
    assert "見つかりません" in err.value.message_ja

    # Counting starts afresh: the comments before the acknowledgement do not trigger a new flare-up.
    assert d.record("facebook", "P1", "c4", at(3700)) is None
    second = d.record("facebook", "P1", "c5", at(3710))
    assert second is not None and second.flare_id != first.flare_id

    history = d.history(T0, at(7200))
    assert [(h.flare_id, h.acknowledged_by) for h in history] == [
        (first.flare_id, "kacho"),
        (second.flare_id, ""),
    ]
    assert d.history(at(3600), at(7200)) == [history[1]]
    audit = [(e.action, e.actor, e.role) for e in AuditLog(r).entries() if e.action.startswith("flare")]
    assert audit == [
        ("flare_started", "system", "system"),
        ("flare_acknowledged", "kacho", "chief"),
        ("flare_started", "system", "system"),
    ]


def test_concurrent_workers_start_one_flare(r: redis.Redis, redis_url: str) -> None:
    d = FlareDetector(r, threshold=3, window_seconds=600)
    started: list[object] = []

    def worker(n: int) -> None:
        # Each worker process has its own connection.
        client = redis.Redis.from_url(redis_url, decode_responses=True)
        detector = FlareDetector(client, 3, 600)
        for i in range(5):
            state = detector.record("facebook", "P9", f"w{n}-{i}", at(i))
            if state is not None:
                started.append(state)
        client.close()

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(started) == 1
    assert d.active()[0].comment_count == 30


def test_webhook_is_called_once_when_a_flare_starts(r: redis.Redis, receiver: Receiver) -> None:
    d = FlareDetector(r, threshold=2, window_seconds=600, webhook_url=receiver.url)
    d.record("instagram", "M7", "c1", at(0))
    assert receiver.bodies == []
    state = d.record("instagram", "M7", "c2", at(30))
    d.record("instagram", "M7", "c3", at(40))
    assert state is not None
    assert len(receiver.bodies) == 1
    body = receiver.bodies[0]
    assert body["event"] == "flare_up" and body["platform"] == "instagram" and body["post_id"] == "M7"
    assert body["comment_count"] == 2 and body["flare_id"] == state.flare_id
    assert body["started_at"] == "2026-11-24T10:00:30+09:00"
    assert body["text"] == state.message_ja and "Instagram" in body["text"]


def test_webhook_failures_are_logged_never_raised(r: redis.Redis, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="service.incidents")
    refusing = Receiver()
    url = refusing.url
    refusing.close()  # nothing listens on that port any more
    d = FlareDetector(r, threshold=1, window_seconds=60, webhook_url=url, webhook_timeout=0.5)
    assert d.record("facebook", "P1", "c1", at(0)) is not None
    assert "ConnectionError" in caplog.text
    assert "SECRET-TOKEN" not in caplog.text  # the URL's path may hold a token

    failing = Receiver(status=500)
    try:
        d = FlareDetector(r, threshold=1, window_seconds=60, webhook_url=failing.url)
        assert d.record("facebook", "P2", "c1", at(0)) is not None
        assert "HTTP 500" in caplog.text and len(failing.bodies) == 1
    finally:
        failing.close()


def test_slow_webhook_times_out(r: redis.Redis, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="service.incidents")
    slow = Receiver(delay=1.5)
    try:
        d = FlareDetector(r, threshold=1, window_seconds=60, webhook_url=slow.url, webhook_timeout=0.3)
        started = time.monotonic()
        assert d.record("facebook", "P1", "c1", at(0)) is not None
        assert time.monotonic() - started < 1.2
        assert "Timeout" in caplog.text
    finally:
        slow.close()
