"""Prometheus metrics (GET /metrics). Queue depth and worker lag are read from Redis at scrape time."""

from __future__ import annotations

import time

import redis.asyncio
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from service import keys
from service.store import QUEUE_STATUSES

REGISTRY = CollectorRegistry()

WEBHOOK_REQUESTS = Counter(
    "shakyo_webhook_requests_total",
    "Webhook requests by result (ok, ignored, bad_signature, too_large, bad_json, forbidden, error).",
    ["result"],
    registry=REGISTRY,
)
EVENTS_INGESTED = Counter(
    "shakyo_events_ingested_total", "Comment events appended to the stream.", ["platform"], registry=REGISTRY
)
REDELIVERIES = Counter(
    "shakyo_redeliveries_total", "Events Meta delivered again within the dedup window.", registry=REGISTRY
)
EVENTS_PROCESSED = Counter(
    "shakyo_events_processed_total",
    "Stream entries processed by workers in this process, by outcome.",
    ["outcome"],
    registry=REGISTRY,
)
CLASSIFICATION_SECONDS = Histogram(
    "shakyo_classification_seconds",
    "Time of classifiers.moderate per comment.",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
    registry=REGISTRY,
)
QUEUE_DEPTH = Gauge("shakyo_queue_depth", "Items per staff status.", ["status"], registry=REGISTRY)
STREAM_PENDING = Gauge(
    "shakyo_stream_pending", "Entries delivered to a worker and not yet acknowledged.", registry=REGISTRY
)
STREAM_LAG = Gauge(
    "shakyo_stream_lag",
    "Entries not yet delivered to any worker (Redis 7+; 0 on 6.2, see the age gauge).",
    registry=REGISTRY,
)
OLDEST_WAITING_AGE = Gauge(
    "shakyo_stream_oldest_waiting_seconds",
    "Age of the oldest entry not yet acknowledged, delivered or not (0 when none): the worker lag.",
    registry=REGISTRY,
)


async def render(r: redis.asyncio.Redis) -> bytes:
    """Refresh the Redis-derived gauges, then render every metric in the text format."""
    pipe = r.pipeline(transaction=False)
    for status in QUEUE_STATUSES:
        pipe.zcard(keys.queue(status))
    depths = await pipe.execute()
    for status, depth in zip(QUEUE_STATUSES, depths, strict=True):
        QUEUE_DEPTH.labels(status).set(depth)
    pending, lag, oldest_ms = 0, 0, None
    try:
        summary = await r.xpending(keys.EVENTS, keys.EVENTS_GROUP)
        groups = await r.xinfo_groups(keys.EVENTS)
    except redis.ResponseError:  # no stream / group yet: nothing is waiting
        summary, groups = None, []
    if summary and summary["pending"]:
        pending = int(summary["pending"])
        oldest_ms = _id_ms(summary["min"])
    for group in groups:
        if group["name"] != keys.EVENTS_GROUP:
            continue
        lag = int(group.get("lag") or 0)
        undelivered = await r.xrange(keys.EVENTS, f"({group['last-delivered-id']}", "+", count=1)
        if undelivered:
            first = _id_ms(undelivered[0][0])
            oldest_ms = first if oldest_ms is None else min(oldest_ms, first)
    STREAM_PENDING.set(pending)
    STREAM_LAG.set(lag)
    OLDEST_WAITING_AGE.set(0.0 if oldest_ms is None else max(0.0, time.time() - oldest_ms / 1000))
    return generate_latest(REGISTRY)


def _id_ms(stream_id: str) -> int:
    return int(str(stream_id).split("-")[0])
