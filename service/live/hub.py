"""One subscription to `{shakyo}:live` per web process, fanned out to every open event stream.

A subscription per stream would hold a Redis connection per open browser tab, taken from the pool the
webhooks need; one shared subscriber holds one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import redis
import redis.asyncio

from service import keys

log = logging.getLogger(__name__)

_QUEUE_SIZE = 256  # a listener this far behind only needs to know that something changed
_RETRY_SECONDS = 1.0
RESYNC = "*"  # "anything may have changed"


class LiveHub:
    def __init__(self, r: redis.asyncio.Redis) -> None:
        self._r = r
        self._listeners: set[asyncio.Queue[str]] = set()
        self._task: asyncio.Task[None] | None = None
        self.subscribed = asyncio.Event()

    def join(self) -> asyncio.Queue[str]:
        queue: asyncio.Queue[str] = asyncio.Queue(_QUEUE_SIZE)
        self._listeners.add(queue)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="live-hub")
        return queue

    def leave(self, queue: asyncio.Queue[str]) -> None:
        self._listeners.discard(queue)
        if not self._listeners and self._task is not None:
            # Nobody is watching: drop the subscription until the next page opens a stream.
            self._task.cancel()
            self._task = None
            self.subscribed.clear()

    async def _run(self) -> None:
        first = True
        while True:
            try:
                async with self._r.pubsub(ignore_subscribe_messages=True) as pubsub:
                    await pubsub.subscribe(keys.LIVE)
                    self.subscribed.set()
                    if not first:
                        self._fan_out(RESYNC)  # messages may have been missed while the link was down
                    first = False
                    async for message in pubsub.listen():
                        self._fan_out(str(message["data"]))
            except redis.RedisError as exc:
                self.subscribed.clear()
                log.warning(
                    "live updates: redis subscription lost; retrying", extra={"error": type(exc).__name__}
                )
                await asyncio.sleep(_RETRY_SECONDS)

    def _fan_out(self, data: str) -> None:
        for queue in self._listeners:
            # A stream that far behind reloads its page on the messages it does read.
            with contextlib.suppress(asyncio.QueueFull):
                queue.put_nowait(data)
