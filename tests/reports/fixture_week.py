"""A known week, 2026-W48 (Mon 23 Nov, 勤労感謝の日, to Sun 29 Nov), written through the real store, audit
log, 緊急モード and flare-up APIs, with every time fixed. The expected figures in test_figures.py are worked
out by hand from the table below.

| item | platform/post | received (JST) | flagged | what happens |
| c1 | fb P1 | Tue 24 10:00 | insult/medium | delete requested Tue 10:30 (staff), Meta ok 10:30:05 |
| c2 | fb P1, reply | Mon 23 12:00 (holiday) | spam/low | dismissed Tue 09:30 (staff) |
| c3 | ig M1 | Sat 28 22:00 | privacy/high | auto-hidden Sat 22:00:10; pending at week end |
| c4 | ig M1 | Wed 25 16:00 | threat/high | escalated 16:30, chief approves delete Thu 26 09:00, Meta ok |
| c5 | fb P2 | Fri 27 17:00 | discrimination+insult/high | hide requested 17:10, Meta: token expired |
| c6 | fb P2 | Sun 29 11:00 | no | — |
| c7 | fb P1, own reply | Tue 24 11:00 | — | the council's own reply |
| c8 | ig M2, reply | Thu 26 10:00 | no | staff hide it by hand 10:15 (a miss), Meta ok 10:20 |
| c9 | fb P3 | Thu 26 13:00 | impersonation/high | pending at week end |
| c10 | fb P0 | Fri 20 15:00 (W47) | insult/medium | dismissed Tue 24 08:45 (staff) |
| c11 | fb P3 | Tue 24 20:00 | spam/low | dismissed Wed 25 08:40 (admin) |
| c12 | ig M2 | Fri 27 11:00 | obscene/medium | removed on Instagram Fri 12:00 |
| c13 | fb P0 | Thu 12 10:00 (W46) | insult/medium | never handled |
緊急モード Thu 26 12:00–18:00; a flare-up on fb P2 at Fri 27 17:05.
"""

from __future__ import annotations

import json
from datetime import datetime

import redis

from classifiers.categories import CATEGORIES, Severity
from classifiers.verdict import Verdict
from service.audit import AuditEntry, AuditLog
from service.hours import JST, EmergencyMode
from service.incidents import FlareDetector
from service.moderation import Moderation
from service.reports.week import IsoWeek
from service.store import Store
from service.worker import ensure_group
from webhooks.events import CommentEvent

WEEK = IsoWeek(2026, 48)
PHONE = "090-1234-5678"
EMAIL = "kogane.test@example.jp"
TOKEN_MESSAGE = "アクセストークンの有効期限が切れています。"


def at(day: int, hour: int, minute: int = 0, second: int = 0) -> float:
    return datetime(2026, 11, day, hour, minute, second, tzinfo=JST).timestamp()


def _verdict(categories: list[str], severity: Severity) -> Verdict:
    clauses = list(dict.fromkeys(cl for c in categories for cl in CATEGORIES[c].clauses))
    return Verdict(True, categories, {c: 0.9 for c in categories}, severity, clauses, "hide")


# item, platform, post, parent, received, verdict (None = clean), text, author, own
COMMENTS: list[tuple[str, str, str, str | None, float, Verdict | None, str, str, bool]] = [
    (
        "c1",
        "facebook",
        "P1",
        None,
        at(24, 10),
        _verdict(["insult"], Severity.MEDIUM),
        "ばかじゃないの",
        "a1",
        False,
    ),
    ("c2", "facebook", "P1", "c1", at(23, 12), _verdict(["spam"], Severity.LOW), "フォロバ100%", "a2", False),
    (
        "c3",
        "instagram",
        "M1",
        None,
        at(28, 22),
        _verdict(["privacy"], Severity.HIGH),
        f"連絡は {EMAIL} へ",
        "a3",
        False,
    ),
    (
        "c4",
        "instagram",
        "M1",
        None,
        at(25, 16),
        _verdict(["threat"], Severity.HIGH),
        "明日行くから覚悟しとけ",
        "a4",
        False,
    ),
    (
        "c5",
        "facebook",
        "P2",
        None,
        at(27, 17),
        _verdict(["discrimination", "insult"], Severity.HIGH),
        "=出ていけ",
        "a5",
        False,
    ),
    ("c6", "facebook", "P2", None, at(29, 11), None, "いつもありがとうございます", "a6", False),
    ("c7", "facebook", "P1", "c1", at(24, 11), None, "ご意見ありがとうございます", "shakyo", True),
    ("c8", "instagram", "M2", "c3", at(26, 10), None, "この人の家知ってるよ", "a8", False),
    (
        "c9",
        "facebook",
        "P3",
        None,
        at(26, 13),
        _verdict(["impersonation"], Severity.HIGH),
        f"美祢市社協公式です。当選のお知らせは{PHONE}まで",
        "美祢市社会福祉協議会(公式)",
        False,
    ),
    (
        "c10",
        "facebook",
        "P0",
        None,
        at(20, 15),
        _verdict(["insult"], Severity.MEDIUM),
        "なんやそれ",
        "a10",
        False,
    ),
    (
        "c11",
        "facebook",
        "P3",
        None,
        at(24, 20),
        _verdict(["spam"], Severity.LOW),
        "副業で月50万",
        "a11",
        False,
    ),
    (
        "c12",
        "instagram",
        "M2",
        None,
        at(27, 11),
        _verdict(["obscene"], Severity.MEDIUM),
        "えっちな話",
        "a12",
        False,
    ),
    (
        "c13",
        "facebook",
        "P0",
        None,
        at(12, 10),
        _verdict(["insult"], Severity.MEDIUM),
        "役立たず",
        "a13",
        False,
    ),
]


def item(comment_id: str) -> str:
    platform = next(c[1] for c in COMMENTS if c[0] == comment_id)
    return f"{platform}:{comment_id}"


def _entry(
    when: float,
    actor: str,
    role: str,
    action: str,
    comment_id: str,
    *,
    note: str = "",
    detail: dict | None = None,
) -> AuditEntry:
    return AuditEntry(
        at=when,
        actor=actor,
        role=role,
        action=action,
        item_id=item(comment_id),
        note=note,
        detail=json.dumps(detail or {}),
    )


def build_week(r: redis.Redis) -> None:
    ensure_group(r)
    store = Store(r)
    for n, (cid, platform, post, parent, received, verdict, text, author, own) in enumerate(COMMENTS, 1):
        event = CommentEvent(
            platform=platform,  # type: ignore[arg-type]
            account_id="page" if platform == "facebook" else "ig",
            comment_id=cid,
            verb="add",
            text=text,
            post_id=post,
            parent_id=parent,
            author_id=author,
            author_name=author,
            entry_time=received,
            is_own=own,
        )
        store.apply_event(f"{n}-0", event, received_at=received, verdict=verdict)

    audit = AuditLog(r)
    moderation = Moderation(r)
    done = {"outcome": "done", "code": None, "attempts": 1}
    # c1: delete requested by staff, confirmed by Meta.
    audit.append(
        _entry(at(24, 10, 30), "yamada", "staff", "delete_requested", "c1", detail={"decision": "delete"})
    )
    audit.append(_entry(at(24, 10, 30, 5), "yamada", "staff", "deleted", "c1", detail=done))
    store.set_status(item("c1"), "deleted")
    # c2, c10, c11: dismissed through the real status machine.
    moderation.decide(item("c2"), "dismiss", actor="yamada", role="staff", now=at(24, 9, 30))
    moderation.decide(item("c10"), "dismiss", actor="yamada", role="staff", now=at(24, 8, 45))
    moderation.decide(item("c11"), "dismiss", actor="admin", role="admin", now=at(25, 8, 40))
    # c3: hidden automatically at night.
    audit.append(_entry(at(28, 22), "system", "system", "auto_hide_requested", "c3"))
    audit.append(_entry(at(28, 22, 0, 10), "system", "system", "auto_hidden", "c3", detail=done))
    # c4: escalated, approved (delete) by the chief, confirmed by Meta.
    moderation.decide(item("c4"), "escalate", actor="yamada", role="staff", now=at(25, 16, 30))
    audit.append(_entry(at(26, 9), "kacho", "chief", "approved", "c4", detail={"decision": "delete"}))
    audit.append(_entry(at(26, 9, 0, 5), "kacho", "chief", "deleted", "c4", detail=done))
    store.set_status(item("c4"), "deleted")
    # c5: hide requested; Meta refuses the expired token.
    audit.append(
        _entry(at(27, 17, 10), "yamada", "staff", "hide_requested", "c5", detail={"decision": "hide"})
    )
    audit.append(
        _entry(
            at(27, 17, 10, 3),
            "yamada",
            "staff",
            "action_failed",
            "c5",
            note=TOKEN_MESSAGE,
            detail={"outcome": "token_expired", "code": 190, "attempts": 1},
        )
    )
    store.set_status(item("c5"), "action_failed")
    # c8: not flagged, but staff hide it.
    audit.append(
        _entry(at(26, 10, 15), "yamada", "staff", "hide_requested", "c8", detail={"decision": "hide"})
    )
    audit.append(_entry(at(26, 10, 20), "yamada", "staff", "hidden", "c8", detail=done))
    store.set_status(item("c8"), "hidden")
    # c12: gone from Instagram before anyone looked.
    audit.append(
        _entry(
            at(27, 12), "system", "system", "removed_on_platform", "c12", detail={"outcome": "already_gone"}
        )
    )
    store.set_status(item("c12"), "removed_on_platform")

    emergency = EmergencyMode(r)
    emergency.enable("admin", "大雨による災害対応", at=datetime.fromtimestamp(at(26, 12), JST))
    emergency.disable("admin", at=datetime.fromtimestamp(at(26, 18), JST))
    flares = FlareDetector(r, threshold=2, window_seconds=3600)
    flares.record("facebook", "P2", "x1", datetime.fromtimestamp(at(27, 17), JST))
    flares.record("facebook", "P2", "c5", datetime.fromtimestamp(at(27, 17, 5), JST))
