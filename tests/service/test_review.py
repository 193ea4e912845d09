"""要確認 (only the model suspects a comment, short of the confidence that flags) on a real Redis server: its
own queue, never pending, never flagged, never auto-hidden, moved by edits, acted on and audited like others.

Verdicts are injected (`classifiers.moderate_many` replaced for the worker, or given to Store.apply_event), so the
tests hold whatever the model's numbers become.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from pathlib import Path

import pytest
import redis

import classifiers
from classifiers.categories import CATEGORIES, Severity
from classifiers.verdict import Verdict
from service import keys
from service.audit import AuditLog
from service.hours import EmergencyMode, OperatingHours
from service.incidents import FlareDetector
from service.moderation import ACTIONS_STREAM, PROCESSING, Moderation, ModerationError
from service.settings import Settings
from service.store import PENDING, REVIEW, Store
from service.worker import Worker, ensure_group
from tests.conftest import BENIGN, TOXIC, enqueue, fb, run_cli
from tests.service.test_moderation import (
    WEEKDAY_NIGHT,
    WEEKDAY_NOON,
    add_flagged,
    flagged_verdict,
    ok,
    pending_request,
)
from webhooks.events import CommentEvent

SUSPECT = "ニートかよ"  # a text the injected verdict marks 要確認; the real model's opinion does not matter
SUSPECT_2 = "ニートかよｗ"


def review_verdict(
    categories: tuple[str, ...] = ("insult",), tokens: tuple[str, ...] = ("ニート",)
) -> Verdict:
    return Verdict(
        flagged=False,
        categories=[],
        scores={c: (0.6 if c in categories else 0.0) for c in CATEGORIES},
        severity=Severity.NONE,
        clauses=[],
        action="none",
        model_tokens=list(tokens),
        review_categories=list(categories),
    )


VERDICTS: dict[str, Verdict] = {
    SUSPECT: review_verdict(),
    SUSPECT_2: review_verdict(("discrimination", "insult"), ("ニート", "ｗ")),
    TOXIC: flagged_verdict(["threat"], Severity.HIGH, TOXIC, "死ね"),
    BENIGN: Verdict(False, [], dict.fromkeys(CATEGORIES, 0.0), Severity.NONE, [], "none"),
}


@pytest.fixture
def injected(monkeypatch: pytest.MonkeyPatch) -> None:
    """The worker classifies with the verdicts above (the texts the tests use), not the model."""

    def moderate_many(comments: Iterable[tuple[str, str | None]]) -> list[Verdict]:
        return [VERDICTS[text] for text, _author in comments]

    monkeypatch.setattr(classifiers, "moderate_many", moderate_many)


@pytest.fixture
def worker(r: redis.Redis, settings: Settings, injected: None) -> Worker:
    ensure_group(r)
    return Worker(r, settings)


def store_review(r: redis.Redis, comment_id: str, text: str = SUSPECT, *, stream_id: str = "1-0") -> str:
    Store(r).apply_event(stream_id, fb(comment_id, text), received_at=time.time(), verdict=VERDICTS[text])
    return keys.item_id("facebook", comment_id)


def test_a_review_verdict_lands_in_review_not_pending(redis_url: str, r: redis.Redis, worker: Worker) -> None:
    enqueue(redis_url, fb("9_1", SUSPECT), fb("9_2", TOXIC), fb("9_3", BENIGN))
    assert worker.drain() == 3
    store = Store(r)
    item = store.get("facebook:9_1")
    assert item is not None and item.status == REVIEW and not item.flagged and item.needs_review
    assert item.review_categories == ["insult"] and item.categories == []
    assert item.verdict is not None and item.verdict["model_tokens"] == ["ニート"]
    assert [c.item_id for c in store.list_queue(REVIEW)] == ["facebook:9_1"]
    assert [c.item_id for c in store.list_queue(PENDING)] == ["facebook:9_2"]
    assert store.get("facebook:9_3").status == "clear"  # type: ignore[union-attr]
    # Never counted as flagged, never waiting for the after-flag steps (author index, flares, auto-hide).
    assert [c.item_id for c in store.iter_comments(flagged_only=True)] == ["facebook:9_2"]
    assert r.zscore(keys.AFTER_FLAG_PENDING, "facebook:9_1") is None
    assert store.count_by_status()[REVIEW] == 1 and store.count_by_status()[PENDING] == 1


def test_a_redelivered_review_entry_changes_nothing(r: redis.Redis) -> None:
    ensure_group(r)
    store = Store(r)
    event = fb("9_4", SUSPECT)
    first = store.apply_event("5-0", event, received_at=10.0, verdict=VERDICTS[SUSPECT])
    second = store.apply_event("5-0", event, received_at=10.0, verdict=VERDICTS[SUSPECT])
    assert (first.duplicate, first.status, second.duplicate) == (False, REVIEW, True)
    assert r.zcard(keys.queue(REVIEW)) == 1 and r.zcard(keys.queue(PENDING)) == 0
    assert store.history("facebook:9_4") == [] and store.get("facebook:9_4").edits == 0  # type: ignore[union-attr]
    # The same text again under another stream id (an "add" after its own "edited") keeps the one item.
    store.apply_event("6-0", fb("9_4", SUSPECT, verb="edited"), received_at=11.0, verdict=VERDICTS[SUSPECT])
    assert r.zcard(keys.queue(REVIEW)) == 1 and store.history("facebook:9_4") == []


def test_review_is_never_auto_hidden_out_of_hours_or_in_emergency(
    redis_url: str, r: redis.Redis, worker: Worker
) -> None:
    EmergencyMode(r).enable("kanri", "豪雨災害")
    # Closed every day: whatever the time the test runs, it is out of hours too.
    worker._hours = OperatingHours(weekdays=frozenset())
    enqueue(redis_url, fb("9_5", SUSPECT), fb("9_6", TOXIC))
    worker.drain()
    m = Moderation(r)
    # The control: a flagged high-severity comment is hidden automatically at once.
    assert m.state("facebook:9_6").inflight == "hide"
    assert m.state("facebook:9_5").inflight == ""
    assert [f["item_id"] for _, f in r.xrange(ACTIONS_STREAM)] == ["facebook:9_6"]
    # Called directly, at night and in 緊急モード, the automatic hide still refuses it.
    for at in (WEEKDAY_NIGHT, WEEKDAY_NOON):
        assert not m.auto_hide_due(["facebook:9_5"], emergency=True, at=at, min_severity=Severity.NONE)
        m.after_flagged_many(
            ["facebook:9_5"],
            flares=FlareDetector(r, 1, 600),
            emergency=True,
            at=at,
            min_severity=Severity.NONE,
        )
    worker.finish_after_flagged()
    assert m.state("facebook:9_5").inflight == "" and Store(r).get("facebook:9_5").status == REVIEW  # type: ignore[union-attr]
    assert [f["item_id"] for _, f in r.xrange(ACTIONS_STREAM)] == ["facebook:9_6"]
    assert [e.item_id for e in AuditLog(r).entries() if e.item_id] == ["facebook:9_6"]


def test_edits_move_a_review_item(redis_url: str, r: redis.Redis, worker: Worker) -> None:
    store = Store(r)

    def edit(cid: str, text: str, at: float) -> str:
        enqueue(redis_url, fb(cid, text, verb="edited", entry_time=at))
        worker.drain()
        return store.get(f"facebook:{cid}").status  # type: ignore[union-attr]

    enqueue(redis_url, fb("9_7", SUSPECT, entry_time=100.0))
    worker.drain()
    assert edit("9_7", TOXIC, 200.0) == PENDING  # now flagged: the violation queue
    assert r.zcard(keys.queue(REVIEW)) == 0 and r.zscore(keys.AFTER_FLAG_PENDING, "facebook:9_7") is None
    assert edit("9_7", SUSPECT_2, 300.0) == REVIEW  # only the model suspects it again
    assert store.get("facebook:9_7").review_categories == ["discrimination", "insult"]  # type: ignore[union-attr]
    assert edit("9_7", BENIGN, 400.0) == "clear"  # clean: out of every queue
    assert r.zcard(keys.queue(REVIEW)) == 0 and r.zcard(keys.queue(PENDING)) == 0
    assert [h["text"] for h in store.history("facebook:9_7")] == [SUSPECT, TOXIC, SUSPECT_2]

    # Staff already decided: a clean (or again doubtful) edit keeps their decision.
    enqueue(redis_url, fb("9_8", SUSPECT, entry_time=100.0))
    worker.drain()
    Moderation(r).decide("facebook:9_8", "dismiss", actor="tanaka", role="staff")
    assert edit("9_8", BENIGN, 200.0) == "dismissed"
    assert edit("9_8", SUSPECT_2, 300.0) == "dismissed"
    assert edit("9_8", TOXIC, 400.0) == PENDING  # a flagged text needs a new look, as for any dismissed item
    enqueue(redis_url, fb("9_9", SUSPECT, entry_time=100.0))
    worker.drain()
    Moderation(r).decide("facebook:9_9", "escalate", actor="tanaka", role="staff")
    assert edit("9_9", BENIGN, 200.0) == "escalated"

    # The author deleting it settles it.
    enqueue(redis_url, fb("9_10", SUSPECT), fb("9_10", verb="remove"))
    worker.drain()
    assert store.get("facebook:9_10").status == "removed_on_platform"  # type: ignore[union-attr]
    assert r.zcard(keys.queue(REVIEW)) == 0


def test_staff_act_on_review_items_through_the_status_machine_with_audit(r: redis.Redis) -> None:
    ensure_group(r)
    m = Moderation(r)
    dismissed, hidden, deleted, escalated = (
        store_review(r, f"8_{n}", stream_id=f"{n}-0") for n in range(1, 5)
    )
    assert (
        m.decide(dismissed, "dismiss", actor="tanaka", role="staff", note="ただの冗談").to_status
        == "dismissed"
    )
    out = m.decide(hidden, "hide", actor="tanaka", role="staff")
    assert (out.from_status, out.to_status, out.queued) == (REVIEW, PROCESSING, "hide")
    assert m.complete(pending_request(r, hidden), ok("hide")) == "hidden"
    m.decide(deleted, "delete", actor="tanaka", role="staff")
    assert m.complete(pending_request(r, deleted), ok()) == "deleted"
    assert m.decide(escalated, "escalate", actor="tanaka", role="staff").to_status == "escalated"
    with pytest.raises(ModerationError, match="課長"):
        m.decide(escalated, "dismiss", actor="tanaka", role="staff")
    assert m.decide(escalated, "dismiss", actor="kacho", role="chief").to_status == "dismissed"
    with pytest.raises(ModerationError, match="非表示になっていません"):
        m.decide(store_review(r, "8_9", stream_id="9-0"), "unhide", actor="tanaka", role="staff")
    assert r.zcard(keys.queue(REVIEW)) == 1  # only the last one is still waiting for a look

    trail = {(e.item_id, e.action, e.from_status, e.to_status, e.actor) for e in AuditLog(r).entries()}
    assert {
        (dismissed, "dismissed", REVIEW, "dismissed", "tanaka"),
        (hidden, "hide_requested", REVIEW, PROCESSING, "tanaka"),
        (hidden, "hidden", PROCESSING, "hidden", "tanaka"),
        (deleted, "delete_requested", REVIEW, PROCESSING, "tanaka"),
        (deleted, "deleted", PROCESSING, "deleted", "tanaka"),
        (escalated, "escalated", REVIEW, "escalated", "tanaka"),
        (escalated, "approved", "escalated", "dismissed", "kacho"),
    } <= trail
    assert next(e.note for e in AuditLog(r).entries(item_id=dismissed)) == "ただの冗談"
    # Staff judged a 要確認 text clean: it becomes a clean training row like any dismissed item.
    assert {"text": SUSPECT, "labels": []} in m.training_decisions()


def test_cli_lists_the_review_queue(
    r: redis.Redis, redis_url: str, cli_env: dict[str, str], tmp_path: Path
) -> None:
    ensure_group(r)
    item = store_review(r, "7_1")
    Store(r).apply_event("2-0", fb("7_2", TOXIC), received_at=time.time(), verdict=VERDICTS[TOXIC])
    env = {**cli_env, "SHAKYO_REDIS_URL": redis_url}
    listed = run_cli(["queue", "list", "--status", "review", "--json"], env, cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    rows = [json.loads(line) for line in listed.stdout.splitlines()]
    assert [(row["item_id"], row["status"], row["flagged"]) for row in rows] == [(item, REVIEW, False)]
    assert rows[0]["review_categories"] == ["insult"] and rows[0]["needs_review"] is True
    table = run_cli(["queue", "list", "--status", "review"], env, cwd=tmp_path)
    assert table.returncode == 0, table.stderr
    assert "要確認" in table.stdout and "侮辱" in table.stdout and "1件" in table.stdout


def test_an_auto_hidden_comment_edited_into_review_can_be_shown_again(r: redis.Redis) -> None:
    m = Moderation(r)
    item = add_flagged(r, "殺してやる", categories=["threat"], severity=Severity.HIGH, span="殺してやる")
    assert m.auto_hide_due([item], emergency=False, at=WEEKDAY_NIGHT) == [item]
    m.complete(pending_request(r, item), ok("hide"))
    cid = item.split(":", 1)[1]
    edited = CommentEvent("facebook", "555", cid, "edited", SUSPECT, entry_time=time.time() + 60)
    # A stream id add_flagged never uses (it numbers from 1; a clash would make the edit a redelivery).
    Store(r).apply_event("999999-0", edited, received_at=time.time(), verdict=VERDICTS[SUSPECT])
    assert Store(r).get(item).status == REVIEW and m.state(item).meta_hidden  # type: ignore[union-attr]
    out = m.decide(item, "unhide", actor="tanaka", role="staff")
    assert (out.from_status, out.to_status, out.queued) == (REVIEW, PROCESSING, "unhide")
    assert m.complete(pending_request(r, item), ok("unhide")) == REVIEW
    assert not m.state(item).meta_hidden
