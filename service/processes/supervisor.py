"""Start the processes of `serve`, restart any that dies, stop them in order.

Start order: the jobs process, the event workers (the supervisor waits until each has loaded the
classifier), then the web app, so no webhook is acknowledged before a worker can take it. Stop order is
the reverse: the web app first (no new webhooks), then the workers (each finishes the batch in hand),
then the jobs process; the caller then saves and stops the embedded Redis.
"""

from __future__ import annotations

import logging
import os
import select
import signal
import subprocess  # nosec B404  # starts only our own module (service.processes)
import sys
import threading
import time
from dataclasses import dataclass

log = logging.getLogger(__name__)

READY_TIMEOUT_SECONDS = 180.0  # loading the dictionary and model on a busy machine
_POLL_SECONDS = 0.2
_STEADY_SECONDS = 30.0  # a process that ran this long before dying is restarted at once
_MAX_BACKOFF_SECONDS = 30.0  # one that keeps dying at start waits up to this long between tries


@dataclass
class Child:
    name: str
    args: list[str]  # after `python -m service.processes`
    stop_timeout: float
    proc: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    quick_deaths: int = 0
    restart_at: float | None = None

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None


def default_worker_count() -> int:
    """One event worker per core but one (left to the web app and Redis), at least one."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, cores - 1)


def serve_children(redis_url: str, *, host: str, port: int, workers: int) -> list[Child]:
    """The processes of `serve` in start order; `workers=0` is web only (the jobs process sends no actions)."""
    common = ["--redis-url", redis_url]
    # Each group gets a few seconds to stop cleanly, then is killed: nothing is lost (an unacknowledged stream
    # entry or action is taken up again after the restart), and Ctrl-C must not hang on a slow Graph call.
    children = [Child("jobs", ["jobs", *common, *([] if workers else ["--no-actions"])], stop_timeout=5)]
    children += [Child(f"events-{i}", ["events", *common], stop_timeout=5) for i in range(1, workers + 1)]
    children.append(Child("web", ["web", *common, "--host", host, "--port", str(port)], stop_timeout=5))
    return children


class Supervisor:
    def __init__(self, children: list[Child], hurry: threading.Event | None = None) -> None:
        self.children = children
        # Set by a second Ctrl-C: kill whatever is still running instead of waiting for it.
        self.hurry = hurry if hurry is not None else threading.Event()

    def run(self, stop: threading.Event) -> None:
        """Start everything, keep it running until `stop` is set, then stop everything in order."""
        try:
            self._start_all(stop)
            while not stop.wait(_POLL_SECONDS):
                self._check()
        finally:
            self.stop()

    def _start_all(self, stop: threading.Event) -> None:
        # Everything before the web app is started together and awaited together.
        before_web = [c for c in self.children if c.name != "web"]
        waits = [(child, self._start(child, ready=True)) for child in before_web]
        for child, fd in waits:
            self._await_ready(child, fd, stop)
        for child in self.children:
            if child.name == "web" and not stop.is_set():
                self._start(child, ready=False)

    def _start(self, child: Child, *, ready: bool) -> int:
        """Start `child`; with `ready`, return the read end of its ready pipe (else -1)."""
        read_fd, write_fd = os.pipe() if ready else (-1, -1)
        argv = [sys.executable, "-m", "service.processes", *child.args, "--ready-fd", str(write_fd)]
        child.proc = subprocess.Popen(argv, pass_fds=(write_fd,) if ready else ())  # nosec B603  # our own module
        if ready:
            os.close(write_fd)
        child.started_at = time.monotonic()
        child.restart_at = None
        log.info("process started", extra={"role": child.name, "pid": child.pid})
        return read_fd

    def _await_ready(self, child: Child, fd: int, stop: threading.Event) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        try:
            while not stop.is_set() and time.monotonic() < deadline:
                readable, _, _ = select.select([fd], [], [], _POLL_SECONDS)
                if readable:
                    if not os.read(fd, 1):  # closed without a byte: it ended while starting
                        log.error("process ended while starting", extra={"role": child.name})
                    return
            log.warning("process not ready in time; going on", extra={"role": child.name})
        finally:
            os.close(fd)

    def _check(self) -> None:
        now = time.monotonic()
        for child in self.children:
            if child.proc is None or child.proc.poll() is None:
                continue
            if child.restart_at is None:
                ran = now - child.started_at
                child.quick_deaths = 0 if ran >= _STEADY_SECONDS else child.quick_deaths + 1
                # The first death is restarted at once; one that keeps dying at start waits 2, 4, 8… s.
                backoff = 2.0 ** (child.quick_deaths - 1)
                delay = min(_MAX_BACKOFF_SECONDS, backoff) if child.quick_deaths > 1 else 0.0
                child.restart_at = now + delay
                log.error(
                    "process ended unexpectedly; restarting it",
                    extra={
                        "role": child.name,
                        "pid": child.pid,
                        "exit_code": child.proc.returncode,
                        "ran_seconds": round(ran, 1),
                        "restart_in_seconds": delay,
                    },
                )
            if now >= child.restart_at:
                self._start(child, ready=False)

    def stop(self) -> None:
        """SIGTERM in reverse start order (the web app first), each group awaited before the next."""
        groups: list[list[Child]] = [
            [c for c in self.children if c.name == "web"],
            [c for c in self.children if c.name.startswith("events")],
            [c for c in self.children if c.name == "jobs"],
        ]
        for group in groups:
            running = [c for c in group if c.proc is not None and c.proc.poll() is None]
            for child in running:
                child.proc.send_signal(signal.SIGTERM)  # type: ignore[union-attr]
            for child in running:
                assert child.proc is not None  # nosec B101  # narrowing for the type checker
                if not self._stopped_in_time(child.proc, child.stop_timeout):
                    why = "stopping at once (second Ctrl-C)" if self.hurry.is_set() else "did not stop in time"
                    log.warning(f"process {why}; killing it", extra={"role": child.name})
                    child.proc.kill()
                    child.proc.wait()
                log.info("process stopped", extra={"role": child.name, "exit_code": child.proc.returncode})

    def _stopped_in_time(self, proc: subprocess.Popen[bytes], timeout: float) -> bool:
        """Wait for ``proc`` up to ``timeout`` s, in short steps so that a second Ctrl-C cuts the wait short."""
        deadline = time.monotonic() + timeout
        while not self.hurry.is_set():
            try:
                proc.wait(min(_POLL_SECONDS, max(0.0, deadline - time.monotonic())))
                return True
            except subprocess.TimeoutExpired:
                if time.monotonic() >= deadline:
                    return False
        return proc.poll() is not None
