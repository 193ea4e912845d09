"""Every figure of the fixture week (tests/reports/fixture_week.py), checked exactly against hand-worked values."""

from __future__ import annotations

import json
from datetime import datetime

import pytest
import redis

from service.audit import AuditEntry, AuditLog
from service.hours import JST
from service.reports.figures import compute, median, nearest_rank, token_expired_periods
from service.reports.load import load_report_data
from service.reports.mask import excerpt, mask_personal_info
from service.reports.week import IsoWeek
from tests.reports.fixture_week import EMAIL, PHONE, TOKEN_MESSAGE, WEEK, at, build_week

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=JST)
OP_DAY = 31500  # 8:30–17:15


@pytest.fixture
def report(r: redis.Redis) -> dict:
    build_week(r)
    out = compute(load_report_data(r, WEEK, now=NOW), excerpt)
    assert json.loads(json.dumps(out, ensure_ascii=False)) == out  # JSON-ready as it is
    return out


def test_header(report: dict) -> None:
    assert report["week"] == "2026-W48"
    assert report["label"] == "2026年第48週（2026年11月23日〜11月29日）"
    assert report["start"] == "2026-11-23T00:00:00+09:00"
    assert report["end"] == "2026-11-30T00:00:00+09:00"
    assert report["generated_at"] == "2026-11-30T09:00:00+09:00"


def test_volume(report: dict) -> None:
    v = report["volume"]
    # c1 c2 c3 c4 c5 c6 c8 c9 c11 c12; c7 is our own reply, c10/c13 belong to earlier weeks.
    assert v["received"] == 10
    assert v["by_platform"] == {"facebook": 6, "instagram": 4}
    assert (v["top_level"], v["replies"]) == (8, 2)
    # c2 (holiday), c3 (Saturday night), c6 (Sunday), c11 (Tuesday 20:00); c5 at 17:00 is still open.
    assert v["outside_hours"] == 4
    assert v["own_replies"] == 1
    assert v["by_day"] == [
        {"date": "2026-11-23", "weekday": "月", "business_day": False, "facebook": 1, "instagram": 0},
        {"date": "2026-11-24", "weekday": "火", "business_day": True, "facebook": 2, "instagram": 0},
        {"date": "2026-11-25", "weekday": "水", "business_day": True, "facebook": 0, "instagram": 1},
        {"date": "2026-11-26", "weekday": "木", "business_day": True, "facebook": 1, "instagram": 1},
        {"date": "2026-11-27", "weekday": "金", "business_day": True, "facebook": 1, "instagram": 1},
        {"date": "2026-11-28", "weekday": "土", "business_day": False, "facebook": 0, "instagram": 1},
        {"date": "2026-11-29", "weekday": "日", "business_day": False, "facebook": 1, "instagram": 0},
    ]
    assert v["by_post"] == [
        {"platform": "facebook", "post_id": "P1", "comments": 2, "flagged": 2},
        {"platform": "facebook", "post_id": "P2", "comments": 2, "flagged": 1},
        {"platform": "facebook", "post_id": "P3", "comments": 2, "flagged": 2},
        {"platform": "instagram", "post_id": "M1", "comments": 2, "flagged": 2},
        {"platform": "instagram", "post_id": "M2", "comments": 2, "flagged": 1},
    ]


def test_flagged(report: dict) -> None:
    f = report["flagged"]
    assert (f["count"], f["share"]) == (8, 0.8)
    counts = {c["category"]: (c["count"], c["share"]) for c in f["by_category"]}
    assert counts == {
        "insult": (2, 0.25),
        "discrimination": (1, 0.125),
        "threat": (1, 0.125),
        "illegal": (0, 0.0),
        "privacy": (1, 0.125),
        "obscene": (1, 0.125),
        "harmful_link": (0, 0.0),
        "security": (0, 0.0),
        "spam": (2, 0.25),
        "misinformation": (0, 0.0),
        "impersonation": (1, 0.125),
    }
    clauses = {c["clause"]: c["count"] for c in f["by_clause"]}
    assert clauses == {
        "2(7)ア": 0,
        "2(7)イ": 1,
        "2(7)ウ": 0,
        "2(7)エ": 2,
        "2(7)オ": 1,
        "2(7)カ": 1,
        "2(7)キ": 0,
        "2(7)ク": 0,
        "2(7)ケ": 3,  # c2 and c11 (spam), c12 (obscene)
        "2(2)": 1,
        "4(3)": 1,
    }
    assert next(c for c in f["by_clause"] if c["clause"] == "2(7)ケ")["share"] == 0.375
    assert f["by_platform"] == {
        "facebook": {"count": 5, "share": 0.8333},
        "instagram": {"count": 3, "share": 0.75},
    }
    assert f["severity"] == {"low": 2, "medium": 2, "high": 4}
    assert f["top_posts"] == [
        {"platform": "facebook", "post_id": "P1", "flagged": 2},
        {"platform": "facebook", "post_id": "P3", "flagged": 2},
        {"platform": "instagram", "post_id": "M1", "flagged": 2},
        {"platform": "facebook", "post_id": "P2", "flagged": 1},
        {"platform": "instagram", "post_id": "M2", "flagged": 1},
    ]


def test_decisions(report: dict) -> None:
    assert report["decisions"] == {
        "deleted": 2,  # c1, c4 (Meta confirmed)
        "hidden": 1,  # c8
        "dismissed": 3,  # c2, c10, c11
        "escalated": 1,
        "approved": 1,
        "auto_hidden": 1,
        "removed_on_platform": 1,
        "action_failed": 1,
        "pending_at_end": 3,  # c3 (auto-hidden only), c9, and c13 from W46
        "auto_hidden_outside_hours": 1,
        "auto_hidden_emergency": 0,
        "failures": [{"reason": TOKEN_MESSAGE, "count": 1}],
    }


def test_timeliness(report: dict) -> None:
    t = report["timeliness"]
    # Operating-hours waits: c1 30 min, c2 1 h (the holiday does not count), c4 to the approval 1 h 45 min,
    # c5 10 min, c10 2 h 30 min (Friday 15:00 to Tuesday 8:45), c11 10 min.
    assert t["decided"] == 6
    assert t["median_seconds"] == 2700.0  # (1800 + 3600) / 2
    assert t["p90_seconds"] == 9000.0  # nearest rank: the 6th of 6
    assert (t["median_hours"], t["p90_hours"]) == (0.75, 2.5)
    c13_wait = (17.25 - 10) * 3600 + OP_DAY + 5 * OP_DAY + 4 * OP_DAY  # W46 Thu+Fri, W47, W48 without Monday
    assert [(i["item_id"], i["waited_seconds"], i["state"]) for i in t["longest"]] == [
        ("facebook:c13", c13_wait, "未処理"),
        ("facebook:c9", 4.25 * 3600 + OP_DAY, "未処理"),
        ("facebook:c10", 9000.0, "決定済み"),
        ("instagram:c4", 6300.0, "決定済み"),
        ("facebook:c2", 3600.0, "決定済み"),
    ]
    c9 = t["longest"][1]
    assert c9["received_at"] == "2026-11-26T13:00:00+09:00" and c9["decided_at"] is None
    assert c9["categories"] == ["なりすまし"]
    assert PHONE not in c9["excerpt"] and "〔電話番号〕" in c9["excerpt"]
    assert t["longest"][2]["decided_at"] == "2026-11-24T08:45:00+09:00"


def test_quality(report: dict) -> None:
    q = report["quality"]
    assert (q["decided"], q["dismissed"], q["dismissed_share"]) == (6, 3, 0.5)
    assert q["by_category"] == [
        {
            "category": "insult",
            "ja": "侮辱・誹謗中傷",
            "decided": 3,
            "dismissed": 1,
            "dismissed_share": 0.3333,
        },
        {
            "category": "discrimination",
            "ja": "差別・差別の助長",
            "decided": 1,
            "dismissed": 0,
            "dismissed_share": 0.0,
        },
        {
            "category": "threat",
            "ja": "暴力・脅迫・犯行予告",
            "decided": 1,
            "dismissed": 0,
            "dismissed_share": 0.0,
        },
        {"category": "spam", "ja": "宣伝・スパム", "decided": 2, "dismissed": 2, "dismissed_share": 1.0},
    ]
    assert q["missed"] == 1
    assert q["missed_items"] == [
        {
            "item_id": "instagram:c8",
            "received_at": "2026-11-26T10:00:00+09:00",
            "excerpt": "この人の家知ってるよ",
        }
    ]


def test_incidents(report: dict) -> None:
    i = report["incidents"]
    assert [(x["item_id"], x["author"], x["status"]) for x in i["impersonation"]] == [
        ("facebook:c9", "美祢市社会福祉協議会(公式)", "pending")
    ]
    assert PHONE not in json.dumps(report, ensure_ascii=False)
    assert i["flares"] == [
        {
            "platform": "facebook",
            "post_id": "P2",
            "started_at": "2026-11-27T17:05:00+09:00",
            "comments": 2,
            "acknowledged_by": "",
            "acknowledged_at": None,
        }
    ]
    assert i["emergency"] == [
        {
            "start": "2026-11-26T12:00:00+09:00",
            "end": "2026-11-26T18:00:00+09:00",
            "reason": "大雨による災害対応",
            "started_by": "admin",
            "ended_by": "admin",
        }
    ]
    assert i["token_expired"] == [{"platform": "facebook", "start": "2026-11-27T17:10:03+09:00", "end": None}]


def test_trend(report: dict) -> None:
    trend = report["trend"]
    assert [w["week"] for w in trend] == [f"2026-W{n}" for n in range(41, 49)]
    empty = {
        "received": 0,
        "flagged": 0,
        "flagged_share": 0.0,
        "review": 0,  # 要確認, counted apart (tests/reports/test_review_figures.py)
        "deleted": 0,
        "hidden": 0,
        "dismissed": 0,
        "pending_at_end": 0,
        "median_seconds": None,
        "p90_seconds": None,
    }
    for w in trend[:5]:
        assert {k: v for k, v in w.items() if k != "week"} == empty
    assert trend[5] == {
        **empty,
        "week": "2026-W46",
        "received": 1,
        "flagged": 1,
        "flagged_share": 1.0,
        "pending_at_end": 1,
    }
    assert trend[6] == {
        **empty,
        "week": "2026-W47",
        "received": 1,
        "flagged": 1,
        "flagged_share": 1.0,
        "pending_at_end": 2,
    }
    assert trend[7] == {
        "week": "2026-W48",
        "received": 10,
        "flagged": 8,
        "flagged_share": 0.8,
        "review": 0,
        "deleted": 2,
        "hidden": 1,
        "dismissed": 3,
        "pending_at_end": 3,
        "median_seconds": 2700.0,
        "p90_seconds": 9000.0,
    }


def test_staff_activity(report: dict) -> None:
    # Meta's answers (deleted, hidden, action_failed with detail.outcome) are not counted as decisions.
    assert report["staff"] == {
        "by_role": [
            {
                "role": "staff",
                "ja": "職員",
                "total": 6,
                "actions": {"delete_requested": 1, "dismissed": 2, "escalated": 1, "hide_requested": 2},
            },
            {"role": "chief", "ja": "課長", "total": 1, "actions": {"approved": 1}},
            {"role": "admin", "ja": "管理者", "total": 1, "actions": {"dismissed": 1}},
        ]
    }


def test_a_later_decision_leaves_the_week_unchanged(r: redis.Redis) -> None:
    """Figures of a past week do not move when staff act after it ended (c9 decided the next Monday)."""
    build_week(r)
    AuditLog(r).append(
        AuditEntry(at=at(30, 9), actor="yamada", role="staff", action="dismissed", item_id="facebook:c9")
    )
    again = compute(load_report_data(r, WEEK, now=NOW), excerpt)
    assert again["decisions"]["pending_at_end"] == 3
    assert again["timeliness"]["decided"] == 6
    # W49 is still in progress: its figures run to the generation time, after the 09:00 decision.
    nxt = compute(load_report_data(r, IsoWeek(2026, 49), now=datetime(2026, 11, 30, 10, tzinfo=JST)), excerpt)
    assert nxt["timeliness"]["decided"] == 1 and nxt["decisions"]["pending_at_end"] == 2


def test_percentiles() -> None:
    assert median([]) is None and nearest_rank([], 90) is None
    assert median([3.0, 1.0, 2.0]) == 2.0
    assert nearest_rank([float(i) for i in range(1, 11)], 90) == 9.0
    assert nearest_rank([float(i) for i in range(1, 12)], 90) == 10.0
    assert nearest_rank([5.0], 90) == 5.0


def test_token_period_ends_at_the_next_success_on_that_platform() -> None:
    def e(t: float, action: str, item: str, detail: str = "") -> AuditEntry:
        return AuditEntry(at=t, actor="system", role="system", action=action, item_id=item, detail=detail)

    expired = '{"outcome": "token_expired", "code": 190}'
    periods = token_expired_periods(
        [
            e(10, "action_failed", "facebook:1", expired),
            e(15, "action_failed", "facebook:2", expired),  # still the same period
            e(20, "hidden", "instagram:3"),  # the other platform's token says nothing about this one
            e(30, "deleted", "facebook:4"),
            e(40, "auto_hide_failed", "instagram:5", '{"outcome": "token_expired", "code": 102}'),
            e(50, "action_failed", "facebook:6", '{"outcome": "failed", "code": 2}'),
        ]
    )
    assert periods == [
        {"platform": "facebook", "start": 10, "end": 30},
        {"platform": "instagram", "start": 40, "end": None},
    ]


def test_masking() -> None:
    assert mask_personal_info(f"電話は{PHONE}です") == "電話は〔電話番号〕です"
    assert mask_personal_info(f"連絡は {EMAIL} へ") == "連絡は 〔メール〕 へ"
    assert "1234" not in mask_personal_info("山口県美祢市大嶺町東分1234-5に住んでいます")
    assert mask_personal_info("今日の講座、楽しかったです") == "今日の講座、楽しかったです"
    long = "あ" * 90 + PHONE
    assert excerpt(long).endswith("…") and len(excerpt(long)) == 80 and "090" not in excerpt(long)


def test_weeks() -> None:
    assert IsoWeek.parse("2026-W48").start == datetime(2026, 11, 23, tzinfo=JST)
    assert IsoWeek.parse("2026-W01").monday.isoformat() == "2025-12-29"
    assert str(IsoWeek(2027, 1).previous()) == "2026-W53"
    assert IsoWeek.last_full(datetime(2026, 11, 30, 0, 0, tzinfo=JST)) == IsoWeek(2026, 48)
    assert IsoWeek.last_full(datetime(2026, 11, 29, 23, 59, tzinfo=JST)) == IsoWeek(2026, 47)
    for bad in ("2026-48", "2026-W54", "2025-W53", "W48"):
        with pytest.raises(ValueError, match=r"週|ありません"):
            IsoWeek.parse(bad)
