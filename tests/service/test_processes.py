"""Whole processes: `shakyo-mod serve` on embedded Redis (restart keeps data), and a worker killed mid-batch."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
import redis

from service import keys
from service.settings import Settings
from service.store import PENDING, Store
from service.worker import Worker, ensure_group
from tests.conftest import BENIGN, TOXIC, VERIFY_TOKEN, enqueue, fb, free_port, run_cli
from tests.webhooks.payloads import APP_SECRET, IG_ACCOUNT_ID, PAGE_ID, fb_comment, fb_payload, sign, to_body

pytestmark = pytest.mark.slow


@pytest.fixture
def serve_env(cli_env: dict[str, str]) -> dict[str, str]:
    return {
        **cli_env,
        "SHAKYO_META_APP_SECRET": APP_SECRET,
        "SHAKYO_META_VERIFY_TOKEN": VERIFY_TOKEN,
        "SHAKYO_FACEBOOK_PAGE_ID": PAGE_ID,
        "SHAKYO_INSTAGRAM_ACCOUNT_ID": IG_ACCOUNT_ID,
    }


class Serve:
    """`python -m service serve` as a child process on a free port."""

    def __init__(self, env: dict[str, str], cwd: Path, log: Path) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self._log = log.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "service", "serve", "--port", str(self.port)],
            env=env,
            cwd=cwd,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def wait_up(self, timeout: float = 60) -> None:
        """Until it answers with Redis reachable (a missing trained model only makes /readyz say so)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, "serve exited early"
            try:
                ready = httpx.get(f"{self.base}/readyz", timeout=2)
                if ready.status_code == 200 or "redis" not in ready.json()["reasons"]:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise AssertionError("serve did not come up")

    def post(self, payload: dict[str, object]) -> httpx.Response:
        body = to_body(payload)
        return httpx.post(
            f"{self.base}/webhooks/meta",
            content=body,
            headers={"X-Hub-Signature-256": sign(body)},
            timeout=10,
        )

    def terminate(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(30)
        finally:
            self._log.close()


@pytest.fixture
def serve_factory(serve_env: dict[str, str], tmp_path: Path) -> Iterator[Callable[[], Serve]]:
    started: list[Serve] = []

    def start() -> Serve:
        serve = Serve(serve_env, tmp_path, tmp_path / "serve.log")
        started.append(serve)
        return serve

    yield start
    for serve in started:  # after a failed assertion: stop it gently so its embedded Redis stops too
        if serve.proc.poll() is None:
            serve.proc.terminate()
            try:
                serve.proc.wait(30)
            except subprocess.TimeoutExpired:
                serve.proc.kill()
                serve.proc.wait(10)


def queue_ids(env: dict[str, str], cwd: Path) -> list[str]:
    result = run_cli(["queue", "list", "--json"], env, cwd=cwd)
    assert result.returncode == 0, result.stderr
    return [json.loads(line)["comment_id"] for line in result.stdout.splitlines()]


def test_serve_embedded_webhook_to_queue_and_restart_keeps_data(
    serve_factory: Callable[[], Serve], serve_env: dict[str, str], tmp_path: Path
) -> None:
    toxic_id, benign_id = f"{PAGE_ID}_1_100", f"{PAGE_ID}_1_101"
    payload = fb_payload(PAGE_ID, [fb_comment(toxic_id, TOXIC), fb_comment(benign_id, BENIGN)])
    serve = serve_factory()
    serve.wait_up()
    assert serve.post(payload).status_code == 200
    acknowledged = time.monotonic()
    seen: list[str] = []
    # Every CLI run here starts within 2 s of the acknowledgement; one of them must list the comment.
    while toxic_id not in seen and time.monotonic() - acknowledged < 2.0:
        seen = queue_ids(serve_env, tmp_path)
    assert toxic_id in seen
    assert benign_id not in seen
    deadline = time.monotonic() + 5
    applied = 'shakyo_events_processed_total{outcome="applied"} 2.0'
    while applied not in httpx.get(f"{serve.base}/metrics").text:  # the benign one was stored too
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert serve.terminate() == 0
    data = tmp_path / "data"
    assert (data / "appendonly.aof").exists() and (data / "shakyo.rdb").exists()
    assert not (data / "shakyo.rdb.settings").exists()  # the embedded server was stopped, not left behind

    again = serve_factory()
    again.wait_up()
    assert queue_ids(serve_env, tmp_path) == [toxic_id]
    # The dedup markers survived too: Meta redelivering the same webhook stores nothing new.
    assert again.post(payload).status_code == 200
    assert "shakyo_redeliveries_total 2.0" in httpx.get(f"{again.base}/metrics").text
    assert "shakyo_events_ingested_total{" not in httpx.get(f"{again.base}/metrics").text
    assert again.terminate() == 0


def test_killed_worker_leaves_nothing_lost_or_doubled(
    redis_url: str,
    r: redis.Redis,
    make_settings: Callable[..., Settings],
    cli_env: dict[str, str],
    tmp_path: Path,
) -> None:
    total = 1000
    ensure_group(r)
    enqueue(redis_url, *(fb(f"8_{i}", (TOXIC if i % 4 == 0 else BENIGN) + f" {i}") for i in range(total)))
    store = Store(r)
    env = {**cli_env, "SHAKYO_REDIS_URL": redis_url, "SHAKYO_WORKER_BATCH": "100"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "service", "worker"], env=env, cwd=tmp_path, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 60
    try:
        # Kill it mid-batch: some comments stored, some entries delivered to it but not acknowledged.
        while not (store.count_comments() > 0 and r.xpending(keys.EVENTS, keys.EVENTS_GROUP)["pending"] > 0):
            assert time.monotonic() < deadline and proc.poll() is None
            time.sleep(0.005)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    stranded = r.xpending(keys.EVENTS, keys.EVENTS_GROUP)["pending"]
    assert stranded > 0 and store.count_comments() < total

    survivor = Worker(r, make_settings(claim_idle_seconds=0.5))
    time.sleep(0.6)
    assert survivor.claim_stale() == stranded
    survivor.drain()

    assert store.count_comments() == total
    assert r.xpending(keys.EVENTS, keys.EVENTS_GROUP)["pending"] == 0
    assert r.zcard(keys.queue(PENDING)) == total // 4
    pipe = r.pipeline(transaction=False)
    for i in range(total):
        pipe.scard(keys.applied(f"facebook:8_{i}"))
        pipe.llen(keys.history(f"facebook:8_{i}"))
    counts = pipe.execute()
    assert counts[0::2] == [1] * total  # each entry applied exactly once
    assert counts[1::2] == [0] * total  # no comment written twice as an "edit" of itself


def test_serve_starts_on_embedded_defaults_without_meta_settings(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    # The README's first command: no SHAKYO_* settings at all. The UI runs; webhooks are refused.
    serve = Serve(cli_env, tmp_path, tmp_path / "bare.log")
    try:
        serve.wait_up()
        assert httpx.get(f"{serve.base}/healthz", timeout=5).status_code == 200
        assert httpx.get(f"{serve.base}/login", timeout=5).status_code == 200
        assert serve.post(fb_payload(PAGE_ID, [fb_comment(f"{PAGE_ID}_1_1", TOXIC)])).status_code == 503  # not_configured: nothing is accepted
    finally:
        assert serve.terminate() == 0
    log = (tmp_path / "bare.log").read_text()
    assert "shakyo-mod user add NAME --role admin" in log and "Metaとはまだ接続していません" in log
