"""The connection's own clock: re-check tokens and subscriptions every few hours, send lapse warnings.

Every `serve` and `worker` process runs this loop. A Redis `SET NX EX` lock lets one of them ask Meta per
period; each minute every process looks at the stored report for lapse warnings to send, and the
deduplication in `lapse.notify_lapses` sends each warning once.
"""

from __future__ import annotations

import logging
import threading
import time

import redis

from service.meta_status.lapse import Sender, mail_sender, notify_lapses, webhook_sender
from service.meta_status.state import (
    CHECK_LOCK_KEY,
    configured_platforms,
    graph_client,
    load_report,
    meta_connection,
    save_report,
)
from service.notify.mail import mail_configured
from service.settings import Settings
from webhooks.connect import ConnectionReport

log = logging.getLogger(__name__)

CHECK_EVERY_SECONDS = 6 * 3600  # token expiry moves in days; Meta's rate limits favour few calls
_TICK_SECONDS = 60.0


def senders(settings: Settings) -> list[Sender]:
    """Where lapse warnings go besides the banner: the outgoing webhook and e-mail, each when configured."""
    found: list[Sender] = []
    url = settings.secret("flare_webhook_url")
    if url:
        found.append(webhook_sender(url))
    if mail_configured(settings):
        found.append(mail_sender(settings))
    return found


def check_now(r: redis.Redis, settings: Settings) -> ConnectionReport:
    """Ask Meta now (read only), store the report and send any lapse warning it brings."""
    client = graph_client(settings)
    try:
        report = meta_connection(settings, client).status()
    finally:
        client.close()
    save_report(r, report)
    notify_lapses(r, report, time.time(), senders(settings))
    return report


class MetaMonitor(threading.Thread):
    def __init__(self, r: redis.Redis, settings: Settings) -> None:
        super().__init__(name="meta-monitor", daemon=True)
        self._r = r
        self._settings = settings
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.is_set():
            try:
                self.tick()
            except redis.RedisError as exc:
                log.warning("meta monitor: redis error", extra={"error": type(exc).__name__})
            self._halt.wait(_TICK_SECONDS)

    def tick(self) -> None:
        if self._r.set(CHECK_LOCK_KEY, "1", nx=True, ex=CHECK_EVERY_SECONDS):
            check_now(self._r, self._settings)
        else:
            notify_lapses(self._r, load_report(self._r), time.time(), senders(self._settings))

    def stop(self) -> None:
        self._halt.set()
        self.join(timeout=15)
        self._r.close()


def monitor_thread(r: redis.Redis, settings: Settings) -> MetaMonitor | None:
    """The monitor for `serve` / `worker`, or None (closing `r`) when no Page or account is configured."""
    if not configured_platforms(settings) or not settings.secret("meta_app_secret"):
        r.close()
        return None
    return MetaMonitor(r, settings)
