"""Issue 11 points 10 and 12: one `serve` per data directory (a lock with the pid, a killed holder's lock
taken over), a bad SHAKYO_REDIS_URL and a port in use are each one bilingual line, no traceback."""

from __future__ import annotations

import logging
import os
import signal
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from service.instance_lock import LOCK_FILE, InstanceLock, StartRefused
from tests.conftest import REPO, free_port, run_cli

HOLD_LOCK = (
    "import sys, pathlib; from service.instance_lock import InstanceLock; "
    "InstanceLock(pathlib.Path(sys.argv[1])).acquire(); print('held', flush=True); sys.stdin.read()"
)


def _holder(data: Path) -> subprocess.Popen[str]:
    """Another process holding the lock until its stdin closes (or it is killed)."""
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(data)],
        cwd=REPO,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
    return proc


def test_a_held_data_directory_is_refused_naming_the_holder(tmp_path: Path) -> None:
    data = tmp_path / "data"
    holder = _holder(data)
    try:
        with pytest.raises(StartRefused) as refused:
            InstanceLock(data).acquire()
        message = str(refused.value)
        assert f"pid {holder.pid}" in message and "\n" not in message
        assert "使用中" in message and "Another serve" in message
        assert stat.S_IMODE((data / LOCK_FILE).stat().st_mode) == 0o600
    finally:
        holder.kill()
        holder.wait()


def test_the_lock_of_a_killed_process_is_taken_over_and_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data = tmp_path / "data"
    holder = _holder(data)
    os.kill(holder.pid, signal.SIGKILL)  # no clean-up runs: its pid stays in the file
    holder.wait()
    assert (data / LOCK_FILE).read_text().strip() == str(holder.pid)
    with caplog.at_level(logging.WARNING, logger="service.instance_lock"):
        lock = InstanceLock(data).acquire()
    try:
        assert (data / LOCK_FILE).read_text().strip() == str(os.getpid())
        assert [r.stale_pid for r in caplog.records] == [holder.pid]  # type: ignore[attr-defined]
    finally:
        lock.close()
    again = InstanceLock(data).acquire()  # a closed lock is free and leaves no pid behind
    again.close()
    assert (data / LOCK_FILE).read_text() == ""


@pytest.mark.slow
def test_a_second_serve_on_the_same_data_directory_refuses_in_one_line(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    env = {**cli_env, "SHAKYO_REPORT_SCHEDULE": "false"}
    port = free_port()
    first = subprocess.Popen(
        [sys.executable, "-m", "service", "serve", "--no-worker", "--port", str(port)],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert first.poll() is None and time.monotonic() < deadline, "the first serve did not come up"
            try:
                httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        second = run_cli(["serve", "--no-worker", "--port", str(free_port())], env, cwd=tmp_path)
        assert second.returncode == 1
        (line,) = second.stderr.strip().splitlines()
        assert f"pid {first.pid}" in line and "使用中" in line and "stop it first" in line
        assert first.poll() is None  # the first one is untouched
    finally:
        first.send_signal(signal.SIGTERM)
        first.wait(60)


@pytest.mark.slow
def test_a_port_in_use_is_one_line(cli_env: dict[str, str], tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_cli(["serve", "--no-worker", "--port", str(port)], cli_env, cwd=tmp_path)
    assert result.returncode == 1
    (line,) = result.stderr.strip().splitlines()
    assert f"ポート {port}（127.0.0.1）は別のプログラムが使用中です" in line
    assert f"Port {port} on 127.0.0.1 is already in use" in line
    # Refused before anything started: the lock is free again for the next try.
    InstanceLock(tmp_path / "data").acquire().close()


@pytest.mark.parametrize("url", ["nonsense", "redis://:hunter2@localhost:notaport/0", "http://localhost:6379"])
def test_a_bad_redis_url_is_the_one_line_setting_error(
    cli_env: dict[str, str], tmp_path: Path, url: str
) -> None:
    result = run_cli(["queue", "list"], {**cli_env, "SHAKYO_REDIS_URL": url}, cwd=tmp_path)
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("設定エラー: SHAKYO_REDIS_URL の値が正しくありません")
    assert "Setting error: SHAKYO_REDIS_URL is invalid" in line
    assert "hunter2" not in line  # a URL may hold a password
