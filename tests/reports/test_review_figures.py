"""要確認 in the weekly report: counted apart from flagged comments, with what staff did with them.

A small week of its own (2026-W48, as the fixture week), written through the real store and status machine:

| item | received (JST) | verdict | what happens |
| f1 | Tue 24 10:00 | flagged insult/medium | dismissed Tue 11:00 (staff) |
| v1 | Tue 24 12:00 | 要確認 insult | dismissed Tue 13:00 (staff) |
| v2 | Wed 25 10:00 | 要確認 discrimination+insult | hidden by staff Wed 10:30, Meta ok 10:30:05 |
| v3 | Thu 26 10:00 | 要確認 insult | never looked at |
| v4 | Fri 27 10:00 | 要確認 spam | removed by its author Fri 11:00 |
| v5 | Thu 19 10:00 (W47) | 要確認 insult | dismissed Wed 25 09:00 (staff): last week's, not this week's figures |
| n1 | Sat 28 10:00 | clean | — |
"""

from __future__ import annotations

from datetime import datetime

import pytest
import redis

from classifiers.categories import CATEGORIES, Severity
from classifiers.verdict import Verdict
from service.hours import JST
from service.moderation import Moderation
from service.reports.csv_export import summary_rows
from service.reports.figures import comment_rows, compute
from service.reports.load import load_report_data
from service.reports.mask import excerpt
from service.reports.render_html import render_html
from service.store import Store
from service.worker import ensure_group
from tests.reports.fixture_week import WEEK, at
from tests.service.test_moderation import flagged_verdict, ok, pending_request
from tests.service.test_review import review_verdict
from webhooks.events import CommentEvent

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=JST)
CLEAN = Verdict(False, [], dict.fromkeys(CATEGORIES, 0.0), Severity.NONE, [], "none")


def _add(r: redis.Redis, n: int, cid: str, received: float, verdict: Verdict, verb: str = "add") -> str:
    event = CommentEvent("facebook", "page", cid, verb, f"本文{cid}", post_id="P1", entry_time=received)  # type: ignore[arg-type]
    Store(r).apply_event(f"{n}-0", event, received_at=received, verdict=verdict)
    return f"facebook:{cid}"


@pytest.fixture
def report(r: redis.Redis) -> dict:
    ensure_group(r)
    m = Moderation(r)
    f1 = _add(r, 1, "f1", at(24, 10), flagged_verdict(["insult"], Severity.MEDIUM, "本文f1"))
    v1 = _add(r, 2, "v1", at(24, 12), review_verdict())
    v2 = _add(r, 3, "v2", at(25, 10), review_verdict(("discrimination", "insult")))
    _add(r, 4, "v3", at(26, 10), review_verdict())
    v4 = _add(r, 5, "v4", at(27, 10), review_verdict(("spam",)))
    v5 = _add(r, 6, "v5", at(19, 10), review_verdict())
    _add(r, 7, "n1", at(28, 10), CLEAN)
    m.decide(f1, "dismiss", actor="yamada", role="staff", now=at(24, 11))
    m.decide(v1, "dismiss", actor="yamada", role="staff", now=at(24, 13))
    m.decide(v2, "hide", actor="yamada", role="staff", now=at(25, 10, 30))
    m.complete(pending_request(r, v2), ok("hide"), now=at(25, 10, 30, 5))
    m.decide(v5, "dismiss", actor="yamada", role="staff", now=at(25, 9))
    _add(r, 8, "v4", at(27, 11), review_verdict(("spam",)), verb="remove")
    # The store stamps a removal with the wall-clock time; put it where this week's story has it.
    r.hset(f"{{shakyo}}:comment:{v4}", "updated_at", repr(at(27, 11)))
    return compute(load_report_data(r, WEEK, now=NOW), excerpt)


def test_review_is_counted_apart_from_flagged(report: dict) -> None:
    rv = report["review"]
    assert (rv["count"], rv["share"]) == (4, round(4 / 6, 4))
    assert rv["by_category"] == [
        {"category": "insult", "ja": "侮辱・誹謗中傷", "count": 3},
        {"category": "discrimination", "ja": "差別・差別の助長", "count": 1},
        {"category": "spam", "ja": "宣伝・スパム", "count": 1},
    ]
    assert rv["by_decision"] == {"dismiss": 1, "hide": 1, "delete": 0, "escalate": 0}
    assert (rv["acted"], rv["removed_on_platform"], rv["unreviewed_at_end"]) == (2, 1, 1)
    # None of it in the flagged figures: the count, the decisions, the waits, the misses.
    assert (report["flagged"]["count"], report["flagged"]["share"]) == (1, round(1 / 6, 4))
    d = report["decisions"]
    assert (d["dismissed"], d["hidden"], d["removed_on_platform"], d["pending_at_end"]) == (1, 0, 0, 0)
    assert report["timeliness"]["decided"] == 1
    assert (report["quality"]["decided"], report["quality"]["missed"]) == (1, 0)
    this_week = report["trend"][-1]
    assert (this_week["flagged"], this_week["review"], this_week["dismissed"], this_week["hidden"]) == (
        1,
        4,
        1,
        0,
    )
    assert report["trend"][-2]["review"] == 1 and report["trend"][-2]["dismissed"] == 0  # v5, W47
    # Staff activity still shows every decision a person took (f1, v1, v2, v5).
    (staff,) = report["staff"]["by_role"]
    assert staff["total"] == 4


def test_review_in_the_csv_and_html(r: redis.Redis, report: dict) -> None:
    summary = summary_rows(report)
    assert ("要確認", "要確認コメント（要注意には含めない）", "4") in summary
    assert ("要確認・職員の対応", "問題なし", "1") in summary
    assert ("要確認・職員の対応", "非表示", "1") in summary
    assert ("要確認", "週末時点で未確認", "1") in summary
    assert ("要注意", "要注意コメント", "1") in summary
    rows = {row["item_id"]: row for row in comment_rows(load_report_data(r, WEEK, now=NOW), excerpt)}
    assert sorted(rows) == [f"facebook:{c}" for c in ("f1", "v1", "v2", "v3", "v4", "v5")]
    assert rows["facebook:v2"]["review"] and not rows["facebook:v2"]["flagged"]
    # Issue 11 point 14: a separator that occurs in no category name, the state in Japanese.
    assert rows["facebook:v2"]["review_categories"] == "差別・差別の助長／侮辱・誹謗中傷"
    assert rows["facebook:v2"]["decision"] == "非表示" and rows["facebook:v2"]["status_now"] == "非表示済み"
    assert not rows["facebook:f1"]["review"] and rows["facebook:f1"]["review_categories"] == ""
    html = render_html(report)
    assert "要確認（モデルのみの判定・確信度が低い）：4件" in html
    assert "要注意には数えず" in html
