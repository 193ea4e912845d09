"""Durable ingestion: deduplicate and append comment events to the stream before Meta gets its 200.

Dedup marker and XADD happen in one Lua script (atomic on the server, and written to the AOF as one
unit), so a crash can never leave a marker without its event — which would silently drop the event
on Meta's redelivery — nor an event without its marker.

The same script keeps the body each new event arrived in (the signed webhook body, or for a comment the
reconciliation job found, the Graph API node it read): one copy per body under its SHA-256, referenced from
the item, so a 証拠記録 (service.evidence) can later show the exact bytes Meta sent. It is bounded three ways:
a body is at most SHAKYO_MAX_BODY_BYTES, an item keeps its last 20 references, and bodies expire with the
comment retention (the evidence record copies what it needs when staff act).

Webhooks (`Ingestor`, redis.asyncio, on the request path) and the reconciliation job (`SyncIngestor`, in a
thread) run the one script with the same dedup keys, so a comment seen both ways is stored once.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import redis
import redis.asyncio

from service import keys
from webhooks.events import CommentEvent

RAW_REFS_KEPT = 20  # per item: more than any real comment's add/edit/hide history
Source = Literal["webhook", "sync"]

# KEYS[1] = stream, KEYS[2] = last-webhook hash, KEYS[3] = raw body key, then for each of the n events
# KEYS[3 + i] = its dedup key and KEYS[3 + n + i] = its item's raw-reference list.
# ARGV[1] = received_at, ARGV[2] = dedup TTL seconds, ARGV[3] = the delivery's platforms (comma-separated;
# empty for sync, which is not a webhook), ARGV[4] = raw body SHA-256 ("" keeps no body), ARGV[5] = raw body,
# ARGV[6] = raw body TTL seconds, ARGV[7] = source (webhook | sync), ARGV[8] = references kept per item,
# ARGV[8 + i] = event JSON.
# Returns one entry per event: its stream id, or "" for a redelivery. A redelivery still counts as a
# webhook received: the last-webhook time tells staff that Meta is sending at all (`meta status`).
_INGEST_LUA = """
local n = (#KEYS - 3) / 2
local out = {}
local kept = false
for i = 1, n do
  if redis.call('SET', KEYS[3 + i], '1', 'NX', 'EX', ARGV[2]) then
    out[#out + 1] = redis.call('XADD', KEYS[1], '*', 'event', ARGV[8 + i], 'received_at', ARGV[1])
    if ARGV[4] ~= '' then
      local ref = KEYS[3 + n + i]
      redis.call('RPUSH', ref, ARGV[4] .. ' ' .. ARGV[7] .. ' ' .. ARGV[1])
      redis.call('LTRIM', ref, -tonumber(ARGV[8]), -1)
      redis.call('EXPIRE', ref, ARGV[6])
      kept = true
    end
  else
    out[#out + 1] = ''
  end
end
if kept then
  redis.call('SET', KEYS[3], ARGV[5], 'EX', ARGV[6])
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


def _script_call(
    events: Sequence[CommentEvent],
    *,
    received_at: float | None,
    dedup_ttl: int,
    raw: bytes | None,
    raw_ttl: int,
    source: Source,
) -> tuple[list[str], list[Any]]:
    at = time.time() if received_at is None else received_at
    platforms = ",".join(sorted({e.platform for e in events})) if source == "webhook" else ""
    digest = hashlib.sha256(raw).hexdigest() if raw is not None and raw_ttl > 0 else ""
    script_keys = [
        keys.EVENTS,
        keys.LAST_WEBHOOK,
        keys.raw_body(digest or "none"),
        *(keys.dedup(e.dedup_key()) for e in events),
        *(keys.raw_refs(keys.item_id(e.platform, e.comment_id)) for e in events),
    ]
    args: list[Any] = [
        repr(at),
        dedup_ttl,
        platforms,
        digest,
        raw if digest else b"",
        max(raw_ttl, 1),
        source,
        RAW_REFS_KEPT,
        *(e.to_json() for e in events),
    ]
    return script_keys, args


class Ingestor:
    """Appends parsed webhook events to `{shakyo}:events`; one round trip per webhook delivery."""

    def __init__(self, r: redis.asyncio.Redis, *, dedup_ttl_seconds: int, raw_ttl_seconds: int = 0) -> None:
        self._script = r.register_script(_INGEST_LUA)
        self._ttl = dedup_ttl_seconds
        self._raw_ttl = raw_ttl_seconds  # 0: keep no bodies

    async def ingest(
        self, events: Sequence[CommentEvent], *, received_at: float | None = None, raw: bytes | None = None
    ) -> IngestResult:
        """`raw` is the signed body the events came in, kept for evidence records (see the module docstring)."""
        if not events:
            return IngestResult([])
        script_keys, args = _script_call(
            events,
            received_at=received_at,
            dedup_ttl=self._ttl,
            raw=raw,
            raw_ttl=self._raw_ttl,
            source="webhook",
        )
        result = await self._script(keys=script_keys, args=args)
        return IngestResult([str(i) for i in result])


class SyncIngestor:
    """The same script on a synchronous client, for comments the reconciliation job found on Meta."""

    def __init__(self, r: redis.Redis, *, dedup_ttl_seconds: int, raw_ttl_seconds: int) -> None:
        self._script = r.register_script(_INGEST_LUA)
        self._ttl = dedup_ttl_seconds
        self._raw_ttl = raw_ttl_seconds

    def ingest(
        self, events: Sequence[CommentEvent], *, raw: bytes | None = None, received_at: float | None = None
    ) -> IngestResult:
        """`raw` is the Graph API node the events were read from (JSON bytes), kept like a webhook body."""
        if not events:
            return IngestResult([])
        script_keys, args = _script_call(
            events,
            received_at=received_at,
            dedup_ttl=self._ttl,
            raw=raw,
            raw_ttl=self._raw_ttl,
            source="sync",
        )
        return IngestResult(
            [str(i if isinstance(i, str) else i.decode()) for i in self._script(keys=script_keys, args=args)]
        )
