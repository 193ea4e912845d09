"""A real Redis server for the staff-side tests: Debian's redis-server on a free loopback port.

Import the fixtures into a test module (`from tests.service.redis_fixture import redis_client_fixture, redis_server_fixture`);
one server runs per module, and every test starts from an empty database.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis


def _redis_binary() -> str:
    # Prefer the distribution's server over wrappers that shells put first on PATH.
    found = shutil.which("redis-server", path="/usr/bin:/usr/local/bin") or shutil.which("redis-server")
    if found is None:
        pytest.skip("redis-server is not installed (bash scripts/install --test installs it)")
    return found


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_redis(data_dir: Path) -> tuple[subprocess.Popen[bytes], int]:
    """Start a throwaway server (no persistence) and wait until it answers PING."""
    binary = _redis_binary()
    for _ in range(5):
        port = _free_port()
        args = ["--port", str(port), "--bind", "127.0.0.1", "--dir", str(data_dir)]
        proc = subprocess.Popen(
            [binary, *args, "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis(port=port, socket_connect_timeout=0.2)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                client.ping()
                client.close()
                return proc, port
            except redis.ConnectionError:
                time.sleep(0.02)
        client.close()
        proc.kill()
        proc.wait()
    raise RuntimeError("redis-server did not start")


@pytest.fixture(scope="module", name="redis_server")
def redis_server_fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """The port of a Redis server running for the whole test module."""
    proc, port = start_redis(tmp_path_factory.mktemp("redis"))
    yield port
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture(name="r")
def redis_client_fixture(redis_server: int) -> Iterator[redis.Redis]:
    """A client (decode_responses=True, as the service uses) on an emptied database."""
    client = redis.Redis(port=redis_server, decode_responses=True)
    client.flushall()
    yield client
    client.close()
