"""The reconciliation schedule: one pass every SHAKYO_SYNC_INTERVAL_MINUTES, one runner across processes.

Every scheduler process may run a `SyncJob`. Two Redis keys keep it to one pass per interval overall:
- `{shakyo}:lock:sync_due` (SET NX PX interval): whoever sets it owns this interval's pass; the others see it
  and wait for the next interval — so two processes ticking at once make one pass, whatever their timing;
- `{shakyo}:lock:sync_run` (SET NX EX, released by its owner only): held during a pass, so a pass that outlasts
  its interval, or `shakyo-mod sync` run by hand, never overlaps another.
`{shakyo}:sync:paused_until` holds off every pass after Meta's rate limits said stop; `{shakyo}:sync:last`
keeps the last pass's figures (JSON) for staff and the CLI.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable

import redis

from service import keys
from service.reconcile.sync import Reconciler, SyncResult
from service.settings import Settings
from webhooks.graph import GraphClient
from webhooks.reading import GraphReader, Usage

log = logging.getLogger(__name__)

DUE_KEY = keys.TAG + "lock:sync_due"
RUN_KEY = keys.TAG + "lock:sync_run"
PAUSE_KEY = keys.TAG + "sync:paused_until"
LAST_KEY = keys.TAG + "sync:last"
_RUN_LOCK_SECONDS = 3600  # a crashed runner's lock lapses after this; a pass takes minutes at most
_TICK_SECONDS = 5.0
# Release the run lock only if we still hold it (it may have lapsed and been taken by another process).
_RELEASE_LUA = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


def reader_factory(
    settings: Settings,
) -> tuple[GraphClient, Callable[[Callable[[Usage], None]], GraphReader]]:
    """A Graph client for the pass (few retries: a throttled read pauses the job rather than hammering Meta)
    and how to build the reader on it, with Instagram Login's own host where that is how the account is reached."""
    client = GraphClient(settings.graph_api_url, settings.secret("meta_app_secret"), max_retries=1)
    instagram_login = settings.instagram_login == "instagram"

    def build(pace: Callable[[Usage], None]) -> GraphReader:
        return GraphReader(
            client,
            pace=pace,
            instagram_base_url=settings.instagram_api_url if instagram_login else None,
            instagram_proof=not instagram_login,
        )

    return client, build


def run_locked(
    r: redis.Redis,
    settings: Settings,
    days: int,
    *,
    sleep: Callable[[float], None] = time.sleep,
    owner: str | None = None,
) -> SyncResult | None:
    """One pass under the run lock; None when another pass is running. Records the result and any pause."""
    me = owner or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
    if not r.set(RUN_KEY, me, nx=True, ex=_RUN_LOCK_SECONDS):
        return None
    client, build = reader_factory(settings)
    try:
        result = Reconciler(r, settings, build, sleep=sleep).run(days)
        now = time.time()
        if result.paused_minutes:
            r.set(PAUSE_KEY, repr(now + result.paused_minutes * 60), ex=result.paused_minutes * 60)
        r.set(LAST_KEY, json.dumps({"at": now, "days": days, **_figures(result)}, ensure_ascii=False))
        return result
    finally:
        client.close()
        r.eval(_RELEASE_LUA, 1, RUN_KEY, me)


def paused_until(r: redis.Redis) -> float | None:
    raw = r.get(PAUSE_KEY)
    return float(raw) if raw else None


def _figures(result: SyncResult) -> dict[str, object]:
    return {
        "posts": result.posts,
        "seen": result.seen,
        "missed": result.missed,
        "removed": result.removed,
        "still_there": result.still_there,
        "paused_minutes": result.paused_minutes,
        "errors": result.errors,
    }


class SyncJob:
    """The schedule in a daemon thread of the scheduler process; self-contained: `start()` / `stop()`.

    It owns `r` (closed on stop). `tick()` is one look at the clock, for tests and other schedulers.
    """

    def __init__(
        self, r: redis.Redis, settings: Settings, *, sleep: Callable[[float], None] = time.sleep
    ) -> None:
        self._r = r
        self._settings = settings
        self._sleep = sleep
        self._stop = threading.Event()
        self._interval_ms = max(1, int(settings.sync_interval_minutes * 60_000))
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._thread = threading.Thread(target=self._run, name="sync", daemon=True)

    def tick(self) -> SyncResult | None:
        """Run a pass if this interval's is still unclaimed and Meta has not asked us to pause."""
        if self._r.exists(PAUSE_KEY):
            return None
        if not self._r.set(DUE_KEY, self.owner, nx=True, px=self._interval_ms):
            return None
        return run_locked(
            self._r, self._settings, self._settings.sync_days, sleep=self._sleep, owner=self.owner
        )

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 15.0) -> None:
        self._stop.set()
        self._thread.join(timeout)
        self._r.close()

    def _run(self) -> None:
        # Tick well within the interval so a short test interval (seconds) is honoured too.
        every = min(_TICK_SECONDS, self._interval_ms / 4000)
        while not self._stop.is_set():
            try:
                self.tick()
            except redis.RedisError as exc:
                log.warning("sync job: redis error; retrying", extra={"error": type(exc).__name__})
            except Exception:
                # A bug in one pass must not end the schedule; the next interval tries again.
                log.exception("sync pass failed")
            self._stop.wait(every)


def sync_job(r: redis.Redis, settings: Settings) -> SyncJob | None:
    """The job for a scheduler process, or None (closing `r`) when no Page or account has a token."""
    if not (
        (settings.facebook_page_id and settings.secret("facebook_page_token"))
        or (settings.instagram_account_id and settings.secret("instagram_token"))
    ):
        r.close()
        return None
    return SyncJob(r, settings)
