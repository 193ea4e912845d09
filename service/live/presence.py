"""Who has an item's page open: a zset per item, member "<username>\\t<label>", score = until when it counts.

A page load marks its viewer for PRESENCE_SECONDS; an open event stream (JavaScript) renews the mark every
RENEW_SECONDS and removes it when the page is left. A mark past its time is ignored and swept on the next
write, so a closed laptop lets go within PRESENCE_SECONDS.
"""

from __future__ import annotations

import time

import redis
import redis.asyncio

from service import keys

PRESENCE_SECONDS = 30
RENEW_SECONDS = 10


def member(username: str, label: str) -> str:
    return f"{username}\t{label}"


def mark(r: redis.Redis, item_id: str, username: str, label: str) -> list[str]:
    """Mark `username` on the item (and tell the other viewers); return the labels of the others there."""
    now = time.time()
    key = keys.presence(item_id)
    pipe = r.pipeline(transaction=True)
    pipe.zremrangebyscore(key, "-inf", now)
    pipe.zadd(key, {member(username, label): now + PRESENCE_SECONDS})
    pipe.expire(key, PRESENCE_SECONDS)
    pipe.zrangebyscore(key, now, "+inf")
    pipe.publish(keys.LIVE, f"presence {item_id}")
    present = pipe.execute()[3]
    return others(present, username)


def others(members: list[str], username: str) -> list[str]:
    """The labels of everyone but `username`, in a stable order."""
    return sorted(
        {label for name, _, label in (m.partition("\t") for m in members) if name != username and label}
    )


async def renew(r: redis.asyncio.Redis, item_id: str, username: str, label: str, *, announce: bool) -> None:
    now = time.time()
    key = keys.presence(item_id)
    pipe = r.pipeline(transaction=True)
    pipe.zremrangebyscore(key, "-inf", now)
    pipe.zadd(key, {member(username, label): now + PRESENCE_SECONDS})
    pipe.expire(key, PRESENCE_SECONDS)
    if announce:
        pipe.publish(keys.LIVE, f"presence {item_id}")
    await pipe.execute()


async def leave(r: redis.asyncio.Redis, item_id: str, username: str, label: str) -> None:
    pipe = r.pipeline(transaction=True)
    pipe.zrem(keys.presence(item_id), member(username, label))
    pipe.publish(keys.LIVE, f"presence {item_id}")
    await pipe.execute()


async def present(r: redis.asyncio.Redis, item_id: str, username: str) -> list[str]:
    return others(await r.zrangebyscore(keys.presence(item_id), time.time(), "+inf"), username)
