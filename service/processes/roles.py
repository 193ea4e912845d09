"""The processes `serve` starts: `web`, `events` (one per event worker) and `jobs`.

Each is `python -m service.processes ROLE --redis-url URL …`, a child of the supervisor. A child ignores
SIGINT (Ctrl-C reaches the whole process group, but the supervisor decides the order of the stop) and ends
on SIGTERM. It also ends by itself when the supervisor is gone (SIGKILLed): an orphaned web process would
keep the port and acknowledge webhooks nobody supervises. A child that has loaded what it needs writes one
byte to `--ready-fd`, so the supervisor opens the web port only once the workers can classify.
"""

from __future__ import annotations

import argparse
import gc
import logging
import os
import signal
import threading
from types import FrameType

from service.logs import configure_logging
from service.redis_conn import RedisTarget
from service.settings import Settings, load_serve_settings

log = logging.getLogger(__name__)

ROLES = ("web", "events", "jobs")
_PARENT_CHECK_SECONDS = 0.5
BACKGROUND_NICENESS = 10


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m service.processes")
    parser.add_argument("role", choices=ROLES)
    parser.add_argument("--redis-url", required=True)
    parser.add_argument("--ready-fd", type=int, default=-1)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--no-actions", action="store_true")
    args = parser.parse_args(argv)

    settings = load_serve_settings()
    configure_logging(settings.log_level)
    target = RedisTarget(args.redis_url, embedded=True)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda signum, frame: stop.set())
    _end_with_parent(os.getppid())
    if args.role != "web":
        _yield_to_web()
    if args.role == "web":
        _web(args, target, settings)
    elif args.role == "events":
        _events(args, target, settings, stop)
    else:
        _jobs(args, target, settings, stop)
    return 0


def _yield_to_web() -> None:
    """Meta needs the 200 fast; a comment classified a few milliseconds later loses nothing. So when the
    cores are busy the scheduler lets the web process go first: a lower priority, and (Linux) the batch
    policy, under which a worker woken by new entries does not preempt the web process."""
    os.nice(BACKGROUND_NICENESS)
    if hasattr(os, "sched_setscheduler"):
        os.sched_setscheduler(0, os.SCHED_BATCH, os.sched_param(0))


def _set_aside_what_was_loaded() -> None:
    """Hide what was loaded at start (the app, the classifier's dictionary caches and model) from the
    garbage collector: it lives as long as the process, yet every full collection would walk its ~150,000
    objects again, a pause of ~50 ms landing on whatever request is in flight."""
    gc.collect()
    gc.freeze()


def _ready(fd: int) -> None:
    if fd >= 0:
        os.write(fd, b"1")
        os.close(fd)


def _end_with_parent(parent: int) -> None:
    """SIGTERM ourselves once the supervisor has gone (we are re-parented), so the stop runs as usual."""

    def watch() -> None:
        while os.getppid() == parent:
            threading.Event().wait(_PARENT_CHECK_SECONDS)
        log.warning("supervisor gone; stopping", extra={"supervisor_pid": parent})
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def _web(args: argparse.Namespace, target: RedisTarget, settings: Settings) -> None:
    import uvicorn

    from service.app import create_app, uvicorn_config
    from service.live import STOPPING as LIVE_STOPPING

    class _Server(uvicorn.Server):
        def handle_exit(self, sig: int, frame: FrameType | None) -> None:
            if sig != signal.SIGINT:  # Ctrl-C is the supervisor's to act on (it sends SIGTERM in turn)
                LIVE_STOPPING.set()  # open event streams end now, not at the graceful-shutdown timeout
                super().handle_exit(sig, frame)

    config = uvicorn_config(create_app(settings, target), settings, host=args.host, port=args.port)
    _set_aside_what_was_loaded()
    _ready(args.ready_fd)
    _Server(config).run()


def _events(args: argparse.Namespace, target: RedisTarget, settings: Settings, stop: threading.Event) -> None:
    from service.cli import configure_classifier
    from service.worker import Worker

    configure_classifier(settings)
    with target.client() as client:
        worker = Worker(client, settings)
        worker.warm_up()
        _set_aside_what_was_loaded()
        _ready(args.ready_fd)
        worker.run(stop)


def _jobs(args: argparse.Namespace, target: RedisTarget, settings: Settings, stop: threading.Event) -> None:
    from service.processes.jobs import start_jobs, stop_jobs

    jobs = start_jobs(target, settings, actions=not args.no_actions)
    _ready(args.ready_fd)
    stop.wait()
    stop_jobs(jobs)
