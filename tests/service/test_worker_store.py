"""Worker + store against a real Redis server: classification, queue, history, idempotency."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest
import redis

from classifiers.categories import Severity
from classifiers.verdict import Verdict
from service import keys
from service.settings import Settings
from service.store import PENDING, Store, queue_score
from service.streams import Entries
from service.worker import Worker, ensure_group
from tests.conftest import BENIGN, TOXIC, enqueue, fb
from tests.webhooks.payloads import IG_ACCOUNT_ID, PAGE_ID
from webhooks.events import CommentEvent


@pytest.fixture
def worker(r: redis.Redis, settings: Settings) -> Worker:
    ensure_group(r)
    return Worker(r, settings)


@pytest.fixture
def store(r: redis.Redis) -> Store:
    return Store(r)


def test_toxic_is_queued_benign_is_stored_clear(redis_url: str, worker: Worker, store: Store) -> None:
    enqueue(redis_url, fb("1_1", TOXIC), fb("1_2", BENIGN))
    assert worker.drain() == 2
    toxic, benign = store.get("facebook:1_1"), store.get("facebook:1_2")
    assert toxic is not None and benign is not None
    assert toxic.flagged and toxic.status == PENDING and toxic.categories
    assert toxic.verdict_obj() is not None and toxic.verdict_obj().flagged  # type: ignore[union-attr]
    assert not benign.flagged and benign.status == "clear"
    assert [c.item_id for c in store.list_queue()] == ["facebook:1_1"]
    assert [c.item_id for c in store.iter_comments()] == ["facebook:1_1", "facebook:1_2"]
    assert [c.item_id for c in store.iter_comments(flagged_only=True)] == ["facebook:1_1"]
    assert store.count_by_status()[PENDING] == 1
    public = toxic.to_public()
    assert public["received_at"].endswith("+09:00")
    assert public["author"] == "山田 花子" and public["post_id"] == f"{PAGE_ID}_1"


def test_own_account_comments_are_stored_never_flagged(redis_url: str, worker: Worker, store: Store) -> None:
    enqueue(redis_url, fb("1_3", TOXIC, is_own=True))
    worker.drain()
    own = store.get("facebook:1_3")
    assert own is not None and own.is_own
    assert own.verdict is None and not own.flagged and own.status == "clear"
    assert store.list_queue() == []


def test_edit_reclassifies_and_keeps_history(redis_url: str, worker: Worker, store: Store) -> None:
    enqueue(redis_url, fb("1_4", BENIGN, entry_time=100.0))
    worker.drain()
    enqueue(redis_url, fb("1_4", TOXIC, verb="edited", entry_time=200.0))
    worker.drain()
    item = store.get("facebook:1_4")
    assert item is not None and item.text == TOXIC and item.status == PENDING and item.edits == 1
    (entry,) = store.history("facebook:1_4")
    assert entry["kind"] == "edited" and entry["text"] == BENIGN
    assert entry["verdict"]["flagged"] is False and entry["at"] > 0
    # Edited back to something harmless: out of the queue again, both earlier texts kept.
    enqueue(redis_url, fb("1_4", BENIGN + "!", verb="edited", entry_time=300.0))
    worker.drain()
    item = store.get("facebook:1_4")
    assert item is not None and item.status == "clear" and store.list_queue() == []
    assert [h["text"] for h in store.history("facebook:1_4")] == [BENIGN, TOXIC]


def test_edit_for_unseen_comment_is_stored_as_new(redis_url: str, worker: Worker, store: Store) -> None:
    enqueue(redis_url, fb("1_5", TOXIC, verb="edited"))
    worker.drain()
    item = store.get("facebook:1_5")
    assert item is not None and item.text == TOXIC and item.status == PENDING
    assert item.edits == 0 and store.history("facebook:1_5") == []


def test_out_of_order_add_does_not_overwrite_newer_edit(redis_url: str, worker: Worker, store: Store) -> None:
    enqueue(redis_url, fb("1_6", BENIGN, verb="edited", entry_time=200.0))
    enqueue(redis_url, fb("1_6", TOXIC, entry_time=100.0))
    worker.drain()
    item = store.get("facebook:1_6")
    assert item is not None and item.text == BENIGN
    assert [(h["kind"], h["text"]) for h in store.history("facebook:1_6")] == [("superseded", TOXIC)]


def test_remove_takes_item_out_of_pending(redis_url: str, worker: Worker, store: Store) -> None:
    enqueue(redis_url, fb("1_7", TOXIC))
    worker.drain()
    enqueue(redis_url, fb("1_7", verb="remove"))
    worker.drain()
    item = store.get("facebook:1_7")
    assert item is not None and item.removed_on_platform and item.status == "removed_on_platform"
    assert item.text == TOXIC  # the record (and its verdict) stays for the report
    assert store.list_queue() == []
    assert [c.item_id for c in store.list_queue("removed_on_platform")] == ["facebook:1_7"]


def test_hide_and_unhide_are_recorded(redis_url: str, worker: Worker, store: Store) -> None:
    enqueue(redis_url, fb("1_8", TOXIC))
    enqueue(redis_url, fb("1_8", verb="hide"))
    worker.drain()
    item = store.get("facebook:1_8")
    assert item is not None and item.hidden_on_platform and item.status == PENDING
    enqueue(redis_url, fb("1_8", verb="unhide"))
    worker.drain()
    item = store.get("facebook:1_8")
    assert item is not None and not item.hidden_on_platform
    assert [h["kind"] for h in store.history("facebook:1_8")] == ["hidden", "unhidden"]


def test_instagram_reply_keeps_parent(redis_url: str, worker: Worker, store: Store) -> None:
    event = CommentEvent(
        "instagram", IG_ACCOUNT_ID, "17002", "add", BENIGN, post_id="179", parent_id="17001", field="comments"
    )
    enqueue(redis_url, event)
    worker.drain()
    item = store.get("instagram:17002")
    assert item is not None and item.parent_id == "17001" and item.post_id == "179"


def test_same_stream_entry_applied_twice_changes_nothing(
    r: redis.Redis, store: Store, redis_url: str
) -> None:
    ensure_group(r)
    (stream_id,) = enqueue(redis_url, fb("1_9", TOXIC))
    verdict = Verdict(True, ["insult"], {"insult": 1.0}, Severity.HIGH, ["2(7)エ"], "hide")
    first = store.apply_event(stream_id, fb("1_9", TOXIC), received_at=10.0, verdict=verdict)
    # The same entry again, e.g. claimed from a worker that had in fact finished it.
    second = store.apply_event(stream_id, fb("1_9", TOXIC), received_at=10.0, verdict=verdict)
    assert not first.duplicate and second.duplicate
    assert r.zcard(keys.queue(PENDING)) == 1 and r.zcard(keys.COMMENTS_BY_RECEIVED) == 1
    assert store.history("facebook:1_9") == []
    assert r.smembers(keys.applied("facebook:1_9")) == {stream_id}


def test_queue_order_is_severity_then_age(r: redis.Redis, store: Store) -> None:
    def verdict(sev: Severity) -> Verdict:
        return Verdict(True, ["insult"], {"insult": 1.0}, sev, ["2(7)エ"], "hide")

    for n, (sev, at) in enumerate([(Severity.LOW, 1.0), (Severity.HIGH, 3.0), (Severity.HIGH, 2.0)]):
        store.apply_event(f"{n + 1}-0", fb(f"2_{n}", f"text {n}"), received_at=at, verdict=verdict(sev))
    assert [c.item_id for c in store.list_queue()] == ["facebook:2_2", "facebook:2_1", "facebook:2_0"]
    assert [c.item_id for c in store.list_queue(limit=1, offset=1)] == ["facebook:2_1"]
    assert queue_score(Severity.HIGH, 2e9) < queue_score(Severity.MEDIUM, 1.0)


def test_set_status_moves_between_queues(
    redis_url: str, worker: Worker, store: Store, r: redis.Redis
) -> None:
    enqueue(redis_url, fb("3_1", TOXIC))
    worker.drain()
    store.set_status("facebook:3_1", "dismissed")
    assert store.list_queue() == [] and [c.item_id for c in store.list_queue("dismissed")] == ["facebook:3_1"]
    # A dismissed text that is edited into something else flagged needs a new look.
    enqueue(redis_url, fb("3_1", TOXIC + "!!", verb="edited", entry_time=9e9))
    worker.drain()
    assert [c.item_id for c in store.list_queue()] == ["facebook:3_1"]
    assert r.zcard(keys.queue("dismissed")) == 0


def test_unprocessable_entry_goes_to_dead_letter(
    r: redis.Redis, make_settings: Callable[..., Settings], store: Store
) -> None:
    ensure_group(r)
    worker = Worker(r, make_settings(max_deliveries=2, claim_idle_seconds=0.01))
    r.xadd(keys.EVENTS, {"event": "{not json", "received_at": "1"})
    worker.drain()
    assert r.xpending(keys.EVENTS, keys.EVENTS_GROUP)["pending"] == 1  # left pending for a retry
    time.sleep(0.05)
    assert worker.claim_stale() == 1  # second failure: moved aside and acknowledged
    assert r.xpending(keys.EVENTS, keys.EVENTS_GROUP)["pending"] == 0
    (dead,) = r.xrange(keys.DEAD_LETTER)
    assert dead[1]["event"] == "{not json" and "JSONDecodeError" in dead[1]["error"]
    assert store.count_comments() == 0


def test_housekeeping_trims_acknowledged_but_never_waiting_entries(
    redis_url: str, r: redis.Redis, make_settings: Callable[..., Settings]
) -> None:
    ensure_group(r)
    worker = Worker(r, make_settings(stream_retention_days=1e-9))
    enqueue(redis_url, fb("4_1", BENIGN), fb("4_2", BENIGN))
    worker.drain()
    (waiting,) = enqueue(redis_url, fb("4_3", BENIGN))
    worker.housekeeping()
    assert [i for i, _ in r.xrange(keys.EVENTS)] == [waiting]
    worker.drain()
    assert Store(r).get("facebook:4_3") is not None


def test_a_batch_equals_the_same_entries_one_at_a_time(
    redis_url: str, r: redis.Redis, make_settings: Callable[..., Settings], store: Store
) -> None:
    # add, edit and remove of one comment, another comment, and an own reply, all in one XREADGROUP.
    events = [
        fb("9_1", BENIGN, entry_time=100.0),
        fb("9_2", TOXIC),
        fb("9_1", TOXIC, verb="edited", entry_time=200.0),
        fb("9_3", TOXIC, is_own=True),
        fb("9_1", verb="remove", entry_time=300.0),
    ]

    def state() -> list[object]:
        out: list[object] = []
        for item in ("facebook:9_1", "facebook:9_2", "facebook:9_3"):
            record = r.hgetall(keys.comment(item))
            # Times differ between the two runs; every other field must be the same.
            out.append({k: v for k, v in record.items() if not k.endswith(("_at", "_time"))})
            out.append([e["kind"] for e in store.history(item)])
        out.append(sorted(r.zrange(keys.queue(PENDING), 0, -1)))
        out.append(r.xpending(keys.EVENTS, keys.EVENTS_GROUP)["pending"])
        return out

    ensure_group(r)
    enqueue(redis_url, *events)
    batched = Worker(r, make_settings(worker_batch=100))
    assert batched.read_once(block_ms=50) == len(events)  # one read, one store transaction
    after_batch = state()
    r.flushall()

    ensure_group(r)
    enqueue(redis_url, *events)
    one_by_one = Worker(r, make_settings(worker_batch=1))
    assert one_by_one.drain() == len(events)
    assert state() == after_batch


def test_a_redelivered_batch_changes_nothing(
    redis_url: str, r: redis.Redis, make_settings: Callable[..., Settings], store: Store
) -> None:
    ensure_group(r)
    ids = enqueue(redis_url, *(fb(f"9_{i}", TOXIC if i % 2 else BENIGN) for i in range(10, 20)))
    worker = Worker(r, make_settings(worker_batch=100))
    worker.drain()
    before = [store.get(f"facebook:9_{i}") for i in range(10, 20)]
    # The same entries handed over again (as a claim after a slow worker finished them would).
    worker.handle_batch([(i, r.xrange(keys.EVENTS, i, i)[0][1]) for i in ids])
    assert [store.get(f"facebook:9_{i}") for i in range(10, 20)] == before
    assert all(r.scard(keys.applied(f"facebook:9_{i}")) == 1 for i in range(10, 20))
    assert r.zcard(keys.queue(PENDING)) == 5


def test_one_unreadable_entry_does_not_hold_back_its_batch(
    redis_url: str, r: redis.Redis, make_settings: Callable[..., Settings], store: Store
) -> None:
    ensure_group(r)
    enqueue(redis_url, fb("9_30", TOXIC))
    r.xadd(keys.EVENTS, {"event": "{not json", "received_at": "1"})
    enqueue(redis_url, fb("9_31", BENIGN))
    worker = Worker(r, make_settings(worker_batch=100, max_deliveries=1))
    assert worker.read_once(block_ms=50) == 3
    assert store.get("facebook:9_30") is not None and store.get("facebook:9_31") is not None
    assert r.xlen(keys.DEAD_LETTER) == 1
    assert r.xpending(keys.EVENTS, keys.EVENTS_GROUP)["pending"] == 0


def test_a_comment_the_classifier_fails_on_does_not_hold_back_its_batch(
    redis_url: str,
    r: redis.Redis,
    make_settings: Callable[..., Settings],
    store: Store,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from classifiers import pipeline
    from classifiers.phases.context import Context, Evidence

    def breaks_on_one_comment(ctx: Context) -> Evidence | None:
        if "壊れる" in ctx.original:
            raise RuntimeError("a phase that fails on this text")
        return None

    # A comment's batch is classified together; one the classifier raises on must fail alone.
    monkeypatch.setattr(pipeline, "PHASES", (*pipeline.PHASES, breaks_on_one_comment))
    ensure_group(r)
    enqueue(redis_url, fb("9_40", TOXIC), fb("9_41", "これで壊れる"), fb("9_42", BENIGN))
    worker = Worker(r, make_settings(worker_batch=100, max_deliveries=1))
    assert worker.read_once(block_ms=50) == 3
    toxic, benign = store.get("facebook:9_40"), store.get("facebook:9_42")
    assert toxic is not None and toxic.flagged and benign is not None and not benign.flagged
    assert store.get("facebook:9_41") is None
    (dead,) = r.xrange(keys.DEAD_LETTER)
    assert "RuntimeError" in dead[1]["error"] and "9_41" in dead[1]["event"]
    assert r.xpending(keys.EVENTS, keys.EVENTS_GROUP)["pending"] == 0


def test_after_a_short_read_the_worker_lets_the_next_batch_gather(
    redis_url: str, r: redis.Redis, make_settings: Callable[..., Settings], store: Store
) -> None:
    sizes: list[int] = []

    class Observed(Worker):
        def handle_batch(self, entries: Entries) -> None:
            sizes.append(len(entries))
            super().handle_batch(entries)

    def wait_for(total: int) -> None:
        deadline = time.monotonic() + 60  # a bound against hanging, not a speed check
        while store.count_comments() < total and time.monotonic() < deadline:
            time.sleep(0.01)

    ensure_group(r)
    worker = Observed(r, make_settings(worker_batch=100, worker_linger_ms=1000, worker_block_ms=20))
    stop = threading.Event()
    thread = threading.Thread(target=worker.run, args=(stop,))
    thread.start()
    try:
        enqueue(redis_url, fb("9_50", BENIGN))
        wait_for(1)
        # Five comments arriving one after another while the worker waits after its one-entry read: without
        # the wait, a worker blocked on the stream would take each on its own.
        for i in range(51, 56):
            enqueue(redis_url, fb(f"9_{i}", BENIGN))
            time.sleep(0.02)
        wait_for(6)
    finally:
        stop.set()
        thread.join(60)
    assert sizes == [1, 5]
