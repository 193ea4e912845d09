"""Scheduled and background jobs: run by the jobs process of `serve`, and by each `shakyo-mod worker`.

Each job guards its own work with a Redis lock (SET NX EX), so running the list in several processes (or
on several machines) still does each piece of work once. To add a job, write a factory
`(redis client, settings) -> Job | None` (None when not configured; it then closes the client) and add
one line to SCHEDULED_JOBS.
"""

from __future__ import annotations

import importlib
from typing import Protocol

from service.redis_conn import RedisTarget
from service.settings import Settings


class Job(Protocol):
    def start(self) -> None: ...

    def stop(self) -> None: ...


# "module:factory"; each factory gets a Redis client of its own.
SCHEDULED_JOBS: tuple[str, ...] = (
    "service.reports.schedule:scheduler_thread",  # Monday report, daily retention purge
    "service.meta_status.monitor:monitor_thread",  # token expiry and subscriptions, lapse warnings
    "service.reconcile.job:sync_job",  # reads Meta back for comments webhooks missed (SHAKYO_SYNC_*)
)


def start_jobs(target: RedisTarget, settings: Settings, *, actions: bool) -> list[Job]:
    """Start the Graph API action worker (unless `actions` is false) and every scheduled job."""
    started: list[Job] = []
    if actions:
        from service.actions import ActionWorkerThread

        started.append(ActionWorkerThread(target.client(), settings))
    for spec in SCHEDULED_JOBS:
        module, _, name = spec.partition(":")
        job = getattr(importlib.import_module(module), name)(target.client(), settings)
        if job is not None:
            started.append(job)
    for job in started:
        job.start()
    return started


def stop_jobs(jobs: list[Job]) -> None:
    for job in jobs:
        job.stop()
