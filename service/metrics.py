"""Prometheus metrics (GET /metrics).

Web-side counters live in the web process. Worker figures (entries processed, classification time)
are counted in Redis (`{shakyo}:metrics:worker`), because workers are other processes, possibly on
other machines: any web process then reports the sum over all workers. Queue depth and worker lag
are read from Redis at scrape time too.
"""

from __future__ import annotations

import time

import redis
import redis.asyncio
from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

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
CLASSIFICATION_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
PROCESSED_OUTCOMES = ("applied", "duplicate", "failed", "empty")
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


def record_processed(r: redis.Redis, outcome: str, classify_seconds: float | None) -> None:
    """Count one processed stream entry (and its classification time) for every web process to report."""
    record_processed_many(r, [(outcome, classify_seconds)])


def record_processed_many(r: redis.Redis, processed: list[tuple[str, float | None]]) -> None:
    """Count a batch of processed entries in one round trip (the batching worker's figures)."""
    counts: dict[str, int] = {}
    total = 0.0
    for outcome, classify_seconds in processed:
        counts[f"processed:{outcome}"] = counts.get(f"processed:{outcome}", 0) + 1
        if classify_seconds is not None:
            counts["classify:count"] = counts.get("classify:count", 0) + 1
            total += classify_seconds
            bucket = next((b for b in CLASSIFICATION_BUCKETS if classify_seconds <= b), "+Inf")
            counts[f"classify:le:{bucket}"] = counts.get(f"classify:le:{bucket}", 0) + 1
    if not counts:
        return
    pipe = r.pipeline(transaction=False)
    for field, n in counts.items():
        pipe.hincrby(keys.WORKER_METRICS, field, n)
    if "classify:count" in counts:
        pipe.hincrbyfloat(keys.WORKER_METRICS, "classify:sum", total)
    pipe.execute()


class _WorkerFigures(Collector):
    """Exposes the last snapshot of `{shakyo}:metrics:worker` taken by render()."""

    def __init__(self) -> None:
        self.snapshot: dict[str, str] = {}

    def collect(self) -> list[Metric]:
        data = self.snapshot
        processed = CounterMetricFamily(
            "shakyo_events_processed",
            "Stream entries processed by all workers, by outcome.",
            labels=["outcome"],
        )
        for outcome in PROCESSED_OUTCOMES:
            processed.add_metric([outcome], float(data.get(f"processed:{outcome}", 0)))
        cumulative, buckets = 0.0, []
        for bound in (*CLASSIFICATION_BUCKETS, "+Inf"):
            cumulative += float(data.get(f"classify:le:{bound}", 0))
            buckets.append((str(bound), cumulative))
        histogram = HistogramMetricFamily(
            "shakyo_classification_seconds",
            "Classification time per comment, all workers (a batch's time shared equally among its comments).",
            buckets=buckets,
            sum_value=float(data.get("classify:sum", 0)),
        )
        # Written by service.reconcile.sync into the same hash, so every process reports the one total.
        missed = CounterMetricFamily(
            "shakyo_sync_missed_comments",
            "Comments the reconciliation job found on Meta that no webhook had brought.",
            value=float(data.get("sync:missed", 0)),
        )
        return [processed, histogram, missed]


_WORKER_FIGURES = _WorkerFigures()
REGISTRY.register(_WORKER_FIGURES)


async def render(r: redis.asyncio.Redis) -> bytes:
    """Refresh the Redis-derived figures, then render every metric in the text format."""
    pipe = r.pipeline(transaction=False)
    for status in QUEUE_STATUSES:
        pipe.zcard(keys.queue(status))
    pipe.hgetall(keys.WORKER_METRICS)
    *depths, worker_figures = await pipe.execute()
    _WORKER_FIGURES.snapshot = worker_figures
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
