"""Reading a Redis stream through a consumer group: new entries, and entries a dead consumer left behind.

Shared by the event worker and the Graph API action worker; each passes its own handler, which must
acknowledge (XACK) what it has finished.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import redis

log = logging.getLogger(__name__)

Handler = Callable[[str, "dict[str, Any] | None"], None]
Entries = list[tuple[str, "dict[str, Any] | None"]]
BatchHandler = Callable[[Entries], None]


@dataclass(slots=True)
class GroupReader:
    r: redis.Redis
    stream: str
    group: str
    consumer: str
    claim_idle_ms: int
    count: int

    def read_new(self, handle: Handler, *, block_ms: int | None) -> int:
        """Read one batch of entries never delivered to anyone; returns how many were handled."""
        reply = self.r.xreadgroup(
            self.group, self.consumer, {self.stream: ">"}, count=self.count, block=block_ms
        )
        done = 0
        for _stream, entries in reply or []:
            for entry_id, fields in entries:
                handle(entry_id, fields)
                done += 1
        return done

    def read_new_batch(self, handle: BatchHandler, *, block_ms: int | None) -> int:
        """Read up to `count` new entries in one XREADGROUP and hand them over together."""
        reply = self.r.xreadgroup(
            self.group, self.consumer, {self.stream: ">"}, count=self.count, block=block_ms
        )
        entries: Entries = [entry for _stream, batch in reply or [] for entry in batch]
        if entries:
            handle(entries)
        return len(entries)

    def claim_stale(self, handle: Handler) -> int:
        """Take over entries idle longer than the claim timeout (their consumer is presumed dead)."""
        start, done = "0-0", 0
        while True:
            next_start, entries = self.r.xautoclaim(
                self.stream,
                self.group,
                self.consumer,
                min_idle_time=self.claim_idle_ms,
                start_id=start,
                count=self.count,
            )[:2]
            for entry_id, fields in entries:
                if entry_id is None:  # deleted from the stream while pending
                    continue
                log.info("claimed stale entry", extra={"consumer": self.consumer, "stream_id": entry_id})
                handle(entry_id, fields)
                done += 1
            # An empty page does not mean the end: the cursor walks past entries not idle long enough.
            if next_start in ("0-0", start):
                return done
            start = next_start
