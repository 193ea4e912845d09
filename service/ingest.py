"""Durable ingestion: deduplicate and append webhook events to the stream before Meta gets its 200.

Dedup marker and XADD happen in one Lua script (atomic on the server, and written to the AOF as one
unit), so a crash can never leave a marker without its event — which would silently drop the event
on Meta's redelivery — nor an event without its marker.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import redis.asyncio

from service import keys
from webhooks.events import CommentEvent

# KEYS[1] = stream, KEYS[2] = last-webhook hash, KEYS[2 + i] = dedup key of event i; ARGV[1] = received_at,
# ARGV[2] = TTL seconds, ARGV[3] = the delivery's platforms (comma-separated), ARGV[3 + i] = event JSON.
# Returns one entry per event: its stream id, or "" for a redelivery. A redelivery still counts as a
# webhook received: the last-webhook time tells staff that Meta is sending at all (`meta status`).
_INGEST_LUA = """
local out = {}
for i = 3, #KEYS do
  if redis.call('SET', KEYS[i], '1', 'NX', 'EX', ARGV[2]) then
    out[#out + 1] = redis.call('XADD', KEYS[1], '*', 'event', ARGV[i + 1], 'received_at', ARGV[1])
  else
    out[#out + 1] = ''
  end
end
for platform in string.gmatch(ARGV[3], '[^,]+') do
  redis.call('HSET', KEYS[2], platform, ARGV[1])
end
return out
"""


@dataclass(frozen=True, slots=True)
class IngestResult:
    stream_ids: list[str]  # one per event; "" where the event was a redelivery

    @property
    def stored(self) -> int:
        return sum(1 for i in self.stream_ids if i)

    @property
    def duplicates(self) -> int:
        return sum(1 for i in self.stream_ids if not i)


class Ingestor:
    """Appends parsed events to `{shakyo}:events`; one round trip per webhook delivery."""

    def __init__(self, r: redis.asyncio.Redis, *, dedup_ttl_seconds: int) -> None:
        self._script = r.register_script(_INGEST_LUA)
        self._ttl = dedup_ttl_seconds

    async def ingest(
        self, events: Sequence[CommentEvent], *, received_at: float | None = None
    ) -> IngestResult:
        if not events:
            return IngestResult([])
        at = time.time() if received_at is None else received_at
        platforms = ",".join(sorted({e.platform for e in events}))
        result = await self._script(
            keys=[keys.EVENTS, keys.LAST_WEBHOOK, *(keys.dedup(e.dedup_key()) for e in events)],
            args=[repr(at), self._ttl, platforms, *(e.to_json() for e in events)],
        )
        return IngestResult([str(i) for i in result])
