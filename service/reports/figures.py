"""Every figure of the weekly report, computed from plain data (no I/O): `compute(data) -> dict`.

Definitions (the README and the report's notes repeat them for readers):
- A comment belongs to the week it was *received* in (our webhook's time, JST). The council's own replies
  are counted apart and never as received comments.
- A *decision* is an audit-log entry. The first staff decision that settles an item (削除・非表示・問題なし,
  including their "requested" forms and a chief's approval) is its decision time; escalation (課長へ相談)
  is counted but does not stop the clock, because the comment is still visible and unsettled.
- *Pending at week end*: flagged, received before the week ended, and neither settled by staff nor removed
  on the platform by then.
- A report made before its week ended is 途中経過 (`in_progress`): every "at week end" figure and waiting time is
  as of the generation time instead, so no wait runs past the moment the report was made.
- Waiting times are counted in operating hours (policy 3(1)ウ), so a comment posted on Friday evening that is
  handled at 8:40 on Monday waited ten minutes.
- *要確認* (needs a look): a comment only the model suspected, short of the confidence that flags. It is
  counted apart from flagged comments: not in the flagged figures, the decisions, the waiting times or the
  misses (staff acting on it is not a miss: it was shown to them), but in its own figures — how many, which
  categories, and what staff did with those received in the week by its end. A comment that was 要確認 when
  staff decided on it stays one (the audit entry's from-status says so) even if an edit later cleared it.
- Percentiles use the nearest-rank method (the 90th percentile of 10 values is the 9th smallest), the median
  the mean of the two middle values for an even count.
"""

from __future__ import annotations

import json
import math
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from classifiers.categories import CATEGORIES, Severity
from classifiers.phases.support import SUPPORT_KINDS
from service.audit import AuditEntry
from service.hours import JST, EmergencyPeriod, OperatingHours
from service.incidents import FlareState
from service.moderation import STATUS_JA
from service.reports.week import IsoWeek
from service.store import REMOVED_ON_PLATFORM, REVIEW, Comment
from service.support.desk import OUTCOME_JA as SUPPORT_OUTCOME_JA
from service.support.desk import SupportItem

PLATFORMS: tuple[str, ...] = ("facebook", "instagram")
PLATFORM_JA = {"facebook": "Facebook", "instagram": "Instagram"}
# Between category names in comments.csv: 「・」 occurs inside names (差別・差別の助長), 「／」 in none.
CATEGORY_SEPARATOR = "／"
WEEKDAY_JA = "月火水木金土日"
# 2(7)ア–ケ in order, then the clauses other categories cite.
CLAUSES: tuple[str, ...] = (
    *(f"2(7){k}" for k in "アイウエオカキクケ"),
    "2(2)",
    "4(3)",
)
SEVERITIES: tuple[str, ...] = tuple(s.label for s in Severity if s is not Severity.NONE)

# Audit actions (service.moderation): a staff decision is written when staff click; a call to Meta it needs
# is written again (deleted, hidden, unhidden, action_failed) when Meta answers, with the same actor and a
# `detail.outcome`. Staff decisions that settle an item — the clock of policy 4(2) 速やかに stops at the
# first of these:
SETTLING_ACTIONS = frozenset(
    {"delete_requested", "hide_requested", "dismissed", "hidden", "approved", "deleted"}
)
# Every staff decision, for the staff-activity table and the per-comment CSV.
DECISION_ACTIONS = SETTLING_ACTIONS | {"escalated", "unhide_requested"}
# Decision kinds shown in the Decisions section, in display order.
OUTCOMES: tuple[str, ...] = (
    "deleted",
    "hidden",
    "dismissed",
    "escalated",
    "approved",
    "auto_hidden",
    "removed_on_platform",
    "action_failed",
)
OUTCOME_JA = {
    "deleted": "削除",
    "hidden": "非表示",
    "dismissed": "問題なし",
    "escalated": "課長へ相談",
    "approved": "課長承認",
    "auto_hidden": "自動非表示",
    "removed_on_platform": "投稿者・Metaにより削除",
    "action_failed": "処理失敗",
}
KIND_JA = {
    "delete": "削除",
    "hide": "非表示",
    "dismiss": "問題なし",
    "escalate": "課長へ相談",
    "unhide": "非表示解除",
}
ROLE_JA = {"staff": "職員", "chief": "課長", "admin": "管理者"}
# What staff can do with a 要確認 comment, in display order (service.moderation).
REVIEW_DECISIONS: tuple[str, ...] = ("dismiss", "hide", "delete", "escalate")
# Successful Graph calls: after one of these on a platform, its token works again.
_GRAPH_SUCCESS = frozenset({"deleted", "hidden", "auto_hidden", "unhidden"})
_FAILED_ACTIONS = frozenset({"action_failed", "auto_hide_failed"})
_TOKEN_CODES = frozenset({102, 190})
LONGEST_SHOWN = 5
TOP_POSTS_SHOWN = 5
TREND_WEEKS = 8


@dataclass(frozen=True, slots=True)
class ReportData:
    """What the report is computed from; `service.reports.load` fills it from Redis."""

    week: IsoWeek
    comments: list[Comment]  # received in the trend range, plus older flagged items (for the backlog)
    audit: list[AuditEntry]  # every entry before the week's end
    emergency: list[EmergencyPeriod] = field(default_factory=list)  # overlapping the week
    flares: list[FlareState] = field(default_factory=list)  # started in the week
    support: list[SupportItem] = field(default_factory=list)  # 相談 items detected in the week
    hours: OperatingHours = field(default_factory=OperatingHours)
    # When the reconciliation job found a comment no webhook had brought (service.reconcile), in the trend range.
    sync_missed: list[float] = field(default_factory=list)
    generated_at: datetime | None = None


class Masker(Protocol):
    """`service.reports.mask.excerpt`: `privacy` masks harder, and withholds text it cannot locate anything in."""

    def __call__(self, text: str, *, privacy: bool = False) -> str: ...


def _excerpt(mask: Masker, c: Comment) -> str:
    """A comment flagged (or, 要確認, suspected) for personal information gets the thorough mask."""
    return mask(c.text, privacy="privacy" in c.categories or "privacy" in _review_categories(c))


def iso(epoch: float | None) -> str | None:
    return None if epoch is None else datetime.fromtimestamp(epoch, JST).isoformat(timespec="seconds")


def share(part: int, whole: int) -> float:
    """A fraction rounded to 4 places; 0.0 when there is nothing to divide."""
    return round(part / whole, 4) if whole else 0.0


def nearest_rank(values: list[float], pct: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(pct / 100 * len(ordered)) - 1)]


def median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def _seconds(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def _hours(value: float | None) -> float | None:
    return None if value is None else round(value / 3600, 2)


class _Index:
    """The audit log and comments arranged for the questions the report asks."""

    def __init__(self, data: ReportData) -> None:
        self.data = data
        self.comments: dict[str, Comment] = {c.item_id: c for c in data.comments}
        self.by_item: dict[str, list[AuditEntry]] = defaultdict(list)
        for e in sorted(data.audit, key=lambda e: e.at):
            if e.item_id:
                self.by_item[e.item_id].append(e)
        # 要確認 items: in the 要確認 status now, or decided on from it; never one that is flagged now.
        review = {c.item_id for c in data.comments if c.needs_review and not c.is_own}
        review |= {e.item_id for e in data.audit if e.item_id and e.from_status == REVIEW}
        self.review_ids = {i for i in review if not ((c := self.comments.get(i)) is not None and c.flagged)}

    def until(self, week: IsoWeek) -> float:
        """Where the week's figures stop: its end, or the generation time for a week still in progress, so
        nothing waits into the future (a report made on Wednesday counts a backlog as of Wednesday)."""
        end = week.end.timestamp()
        made = self.data.generated_at
        return end if made is None else min(end, made.timestamp())

    def settled(self, item: str) -> AuditEntry | None:
        """The first settling staff decision on the item, if any."""
        return next((e for e in self.by_item.get(item, ()) if is_decision(e, SETTLING_ACTIONS)), None)

    def removed_at(self, c: Comment) -> float | None:
        """When the comment disappeared from the platform by its author or Meta (not by our action)."""
        entry = next((e for e in self.by_item.get(c.item_id, ()) if e.action == REMOVED_ON_PLATFORM), None)
        if entry is not None:
            return entry.at
        # The store sets this status from a webhook without an audit entry; its last update is the time.
        return c.updated_at if c.status == REMOVED_ON_PLATFORM else None

    def open_at(self, c: Comment, at: float) -> bool:
        """Flagged, received before `at`, and neither settled nor removed on the platform by then."""
        if c.is_own or not c.flagged or c.received_at >= at:
            return False
        settled = self.settled(c.item_id)
        removed = self.removed_at(c)
        return (settled is None or settled.at >= at) and (removed is None or removed >= at)

    def received(self, start: float, end: float) -> list[Comment]:
        return [c for c in self.data.comments if start <= c.received_at < end and not c.is_own]

    def entries(self, start: float, end: float) -> list[AuditEntry]:
        return [e for e in self.data.audit if start <= e.at < end]


def is_decision(e: AuditEntry, actions: frozenset[str] = DECISION_ACTIONS) -> bool:
    """A person's decision, not the record of Meta's answer to one (those carry `detail.outcome`)."""
    return e.action in actions and e.role not in ("", "system") and "outcome" not in _detail(e)


def decision_kind(e: AuditEntry) -> str:
    """delete | hide | dismiss | escalate | unhide for a decision entry, including a chief's approval."""
    if e.action == "approved":
        return str(_detail(e).get("decision", ""))
    return {
        "delete_requested": "delete",
        "deleted": "delete",
        "hide_requested": "hide",
        "hidden": "hide",
        "dismissed": "dismiss",
        "escalated": "escalate",
        "unhide_requested": "unhide",
    }.get(e.action, "")


def _wait(hours: OperatingHours, received: float, until: float) -> float:
    return hours.operating_seconds_between(
        datetime.fromtimestamp(received, JST), datetime.fromtimestamp(until, JST)
    )


def _outcome_items(
    entries: Iterable[AuditEntry], index: _Index, start: float, end: float
) -> dict[str, set[str]]:
    """Distinct items per decision kind in [start, end)."""
    out: dict[str, set[str]] = {k: set() for k in OUTCOMES}
    for e in entries:
        if e.item_id in index.review_ids:
            continue  # counted apart (_review)
        if e.item_id and e.action in out:
            out[e.action].add(e.item_id)
        if e.action == "approved" and decision_kind(e) == "dismiss":
            out["dismissed"].add(e.item_id)  # a chief's 問題なし is written as the approval only
    # Removals the store recorded without an audit entry.
    for c in index.data.comments:
        removed = index.removed_at(c)
        if removed is not None and start <= removed < end and c.item_id not in index.review_ids:
            out["removed_on_platform"].add(c.item_id)
    return out


def key_figures(index: _Index, week: IsoWeek) -> dict[str, Any]:
    """The figures the 8-week trend repeats for every week."""
    start, end = week.start.timestamp(), index.until(week)
    received = index.received(start, end)
    flagged = [c for c in received if c.flagged]
    outcomes = _outcome_items(index.entries(start, end), index, start, end)
    waits = [w for _, w, _ in _settled_in(index, start, end)]
    return {
        "week": str(week),
        "received": len(received),
        "flagged": len(flagged),
        "flagged_share": share(len(flagged), len(received)),
        "review": sum(1 for c in received if c.item_id in index.review_ids),
        "deleted": len(outcomes["deleted"]),
        "hidden": len(outcomes["hidden"]),
        "dismissed": len(outcomes["dismissed"]),
        "pending_at_end": sum(1 for c in index.data.comments if index.open_at(c, end)),
        "median_seconds": _seconds(median(waits)),
        "p90_seconds": _seconds(nearest_rank(waits, 90)),
    }


def _settled_in(index: _Index, start: float, end: float) -> list[tuple[Comment, float, AuditEntry]]:
    """Flagged items whose first settling decision fell in [start, end), with their operating-hours wait."""
    out = []
    for c in index.data.comments:
        if c.is_own or not c.flagged:
            continue
        entry = index.settled(c.item_id)
        if entry is not None and start <= entry.at < end:
            out.append((c, _wait(index.data.hours, c.received_at, entry.at), entry))
    return out


def _volume(index: _Index, week: IsoWeek, received: list[Comment]) -> dict[str, Any]:
    hours = index.data.hours
    start, end = week.start.timestamp(), index.until(week)
    by_post: dict[tuple[str, str], list[Comment]] = defaultdict(list)
    for c in received:
        by_post[(c.platform, c.post_id or "")].append(c)
    by_day = []
    for d in week.days:
        day_comments = [c for c in received if datetime.fromtimestamp(c.received_at, JST).date() == d]
        by_day.append(
            {
                "date": d.isoformat(),
                "weekday": WEEKDAY_JA[d.weekday()],
                "business_day": hours.is_business_day(d),
                **{p: sum(1 for c in day_comments if c.platform == p) for p in PLATFORMS},
            }
        )
    return {
        "received": len(received),
        "by_platform": {p: sum(1 for c in received if c.platform == p) for p in PLATFORMS},
        "top_level": sum(1 for c in received if c.parent_id is None),
        "replies": sum(1 for c in received if c.parent_id is not None),
        "outside_hours": sum(
            1 for c in received if not hours.is_open(datetime.fromtimestamp(c.received_at, JST))
        ),
        "own_replies": sum(1 for c in index.data.comments if c.is_own and start <= c.received_at < end),
        "sync_missed": sum(1 for at in index.data.sync_missed if start <= at < end),
        "by_day": by_day,
        "by_post": [
            {
                "platform": platform,
                "post_id": post,
                "comments": len(items),
                "flagged": sum(1 for c in items if c.flagged),
            }
            for (platform, post), items in sorted(by_post.items(), key=lambda kv: (-len(kv[1]), kv[0]))
        ],
    }


def _flagged(received: list[Comment]) -> dict[str, Any]:
    flagged = [c for c in received if c.flagged]
    n = len(flagged)
    cat_counts = Counter(cat for c in flagged for cat in set(c.categories))
    clause_counts = Counter(
        clause for c in flagged for clause in {cl for cat in c.categories for cl in CATEGORIES[cat].clauses}
    )
    posts = Counter((c.platform, c.post_id or "") for c in flagged)
    return {
        "count": n,
        "share": share(n, len(received)),
        "by_category": [
            {"category": name, "ja": cat.ja, "count": cat_counts[name], "share": share(cat_counts[name], n)}
            for name, cat in CATEGORIES.items()
        ],
        "by_clause": [
            {"clause": cl, "count": clause_counts[cl], "share": share(clause_counts[cl], n)} for cl in CLAUSES
        ],
        "by_platform": {
            p: {
                "count": sum(1 for c in flagged if c.platform == p),
                "share": share(
                    sum(1 for c in flagged if c.platform == p), sum(1 for c in received if c.platform == p)
                ),
            }
            for p in PLATFORMS
        },
        "severity": {s: sum(1 for c in flagged if c.severity == s) for s in SEVERITIES},
        "top_posts": [
            {"platform": platform, "post_id": post, "flagged": count}
            for (platform, post), count in sorted(posts.items(), key=lambda kv: (-kv[1], kv[0]))[
                :TOP_POSTS_SHOWN
            ]
        ],
    }


def _review(index: _Index, week: IsoWeek, received: list[Comment]) -> dict[str, Any]:
    """要確認 comments received in the week, apart from the flagged ones: categories the model suspected, and
    what staff did with them by the week's end (each comment's first decision)."""
    end = index.until(week)
    items = [c for c in received if c.item_id in index.review_ids]
    suspected = Counter(cat for c in items for cat in set(_review_categories(c)))
    decided: Counter[str] = Counter()
    removed = 0
    for c in items:
        first = next((e for e in index.by_item.get(c.item_id, ()) if is_decision(e) and e.at < end), None)
        if first is not None:
            decided[decision_kind(first)] += 1
        elif (gone := index.removed_at(c)) is not None and gone < end:
            removed += 1
    acted = sum(decided.values())
    return {
        "count": len(items),
        "share": share(len(items), len(received)),
        "by_category": [
            {"category": name, "ja": cat.ja, "count": suspected[name]}
            for name, cat in CATEGORIES.items()
            if suspected[name]
        ],
        "acted": acted,
        "by_decision": {k: decided[k] for k in REVIEW_DECISIONS},
        "removed_on_platform": removed,
        "unreviewed_at_end": len(items) - acted - removed,
    }


def _review_categories(c: Comment) -> list[str]:
    """The categories the model suspected when the comment was 要確認 (still in its verdict unless edited)."""
    return [k for k in (c.verdict or {}).get("review_categories", []) if k in CATEGORIES]


def _failure_reason(e: AuditEntry) -> str:
    if e.note:
        return e.note
    detail = _detail(e)
    return str(detail.get("message_ja") or detail.get("outcome") or "理由不明")


def _detail(e: AuditEntry) -> dict[str, Any]:
    try:
        value = json.loads(e.detail) if e.detail else {}
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _decisions(index: _Index, week: IsoWeek, entries: list[AuditEntry]) -> dict[str, Any]:
    start, end = week.start.timestamp(), index.until(week)
    hours = index.data.hours
    outcomes = _outcome_items(entries, index, start, end)
    auto = [e for e in entries if e.action == "auto_hidden"]
    failures = [e for e in entries if e.action == "action_failed"]
    reasons = Counter(_failure_reason(e) for e in failures)
    return {
        **{k: len(v) for k, v in outcomes.items()},
        "pending_at_end": sum(1 for c in index.data.comments if index.open_at(c, end)),
        "auto_hidden_outside_hours": sum(
            1 for e in auto if not hours.is_open(datetime.fromtimestamp(e.at, JST))
        ),
        "auto_hidden_emergency": sum(1 for e in auto if hours.is_open(datetime.fromtimestamp(e.at, JST))),
        "failures": [
            {"reason": reason, "count": count}
            for reason, count in sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0]))
        ],
    }


def _timeliness(index: _Index, week: IsoWeek, mask: Masker) -> dict[str, Any]:
    start, end = week.start.timestamp(), index.until(week)
    settled = _settled_in(index, start, end)
    waits = [w for _, w, _ in settled]
    candidates: list[tuple[float, Comment, bool, float | None]] = [(w, c, True, e.at) for c, w, e in settled]
    candidates += [
        (_wait(index.data.hours, c.received_at, end), c, False, None)
        for c in index.data.comments
        if index.open_at(c, end)
    ]
    candidates.sort(key=lambda t: (-t[0], t[1].received_at, t[1].item_id))
    med, p90 = median(waits), nearest_rank(waits, 90)
    return {
        "decided": len(settled),
        "median_seconds": _seconds(med),
        "p90_seconds": _seconds(p90),
        "median_hours": _hours(med),
        "p90_hours": _hours(p90),
        "longest": [
            {
                "item_id": c.item_id,
                "platform": c.platform,
                "received_at": iso(c.received_at),
                "decided_at": iso(decided_at),
                "waited_seconds": _seconds(w),
                "waited_hours": _hours(w),
                "state": "決定済み" if done else "未処理",
                "categories": [CATEGORIES[k].ja for k in c.categories if k in CATEGORIES],
                "excerpt": _excerpt(mask, c),
            }
            for w, c, done, decided_at in candidates[:LONGEST_SHOWN]
        ],
    }


def _quality(index: _Index, week: IsoWeek, entries: list[AuditEntry], mask: Masker) -> dict[str, Any]:
    start, end = week.start.timestamp(), index.until(week)
    settled = _settled_in(index, start, end)
    decided: Counter[str] = Counter()
    dismissed: Counter[str] = Counter()
    for c, _, entry in settled:
        for cat in set(c.categories):
            decided[cat] += 1
            dismissed[cat] += decision_kind(entry) == "dismiss"
    total_dismissed = sum(1 for _, _, e in settled if decision_kind(e) == "dismiss")
    missed_ids = {e.item_id for e in entries if is_decision(e) and decision_kind(e) in ("delete", "hide")}
    missed = sorted(
        (
            c
            for i in missed_ids
            if (c := index.comments.get(i)) is not None
            and not c.flagged
            and not c.is_own
            and i not in index.review_ids
        ),
        key=lambda c: (c.received_at, c.item_id),
    )
    return {
        "decided": len(settled),
        "dismissed": total_dismissed,
        "dismissed_share": share(total_dismissed, len(settled)),
        "by_category": [
            {
                "category": name,
                "ja": cat.ja,
                "decided": decided[name],
                "dismissed": dismissed[name],
                "dismissed_share": share(dismissed[name], decided[name]),
            }
            for name, cat in CATEGORIES.items()
            if decided[name]
        ],
        "missed": len(missed),
        "missed_items": [
            {"item_id": c.item_id, "received_at": iso(c.received_at), "excerpt": _excerpt(mask, c)}
            for c in missed
        ],
    }


def token_expired_periods(audit: list[AuditEntry]) -> list[dict[str, Any]]:
    """Spans when a platform's token was refused: from a failed action that Meta answered with an expired or
    revoked token (code 102/190, outcome "token_expired") to the next successful action on that platform."""
    periods: list[dict[str, Any]] = []
    open_since: dict[str, float] = {}
    for e in sorted(audit, key=lambda e: e.at):
        platform = e.item_id.partition(":")[0]
        if platform not in PLATFORMS:
            continue
        detail = _detail(e)
        expired = e.action in _FAILED_ACTIONS and (
            detail.get("outcome") == "token_expired" or detail.get("code") in _TOKEN_CODES
        )
        if expired:
            open_since.setdefault(platform, e.at)
        elif e.action in _GRAPH_SUCCESS and platform in open_since:
            periods.append({"platform": platform, "start": open_since.pop(platform), "end": e.at})
    periods += [{"platform": p, "start": s, "end": None} for p, s in open_since.items()]
    return sorted(periods, key=lambda p: (p["start"], p["platform"]))


def _incidents(index: _Index, week: IsoWeek, received: list[Comment], mask: Masker) -> dict[str, Any]:
    start, end = week.start.timestamp(), index.until(week)
    tokens = [
        p
        for p in token_expired_periods(index.data.audit)
        if p["start"] < end and (p["end"] is None or p["end"] > start)
    ]
    return {
        "impersonation": [
            {
                "item_id": c.item_id,
                "platform": c.platform,
                "author": c.author_name or "",
                "received_at": iso(c.received_at),
                "status": c.status,
                "excerpt": _excerpt(mask, c),
            }
            for c in sorted(received, key=lambda c: (c.received_at, c.item_id))
            if "impersonation" in c.categories
        ],
        "flares": [
            {
                "platform": f.platform,
                "post_id": f.post_id,
                "started_at": f.started_at.isoformat(timespec="seconds"),
                "comments": f.comment_count,
                "acknowledged_by": f.acknowledged_by,
                "acknowledged_at": f.acknowledged_at.isoformat(timespec="seconds")
                if f.acknowledged_at
                else None,
            }
            for f in sorted(index.data.flares, key=lambda f: f.started_at)
        ],
        "emergency": [
            {
                "start": p.start.isoformat(timespec="seconds"),
                "end": p.end.isoformat(timespec="seconds") if p.end else None,
                "reason": p.reason,
                "started_by": p.started_by,
                "ended_by": p.ended_by,
            }
            for p in sorted(index.data.emergency, key=lambda p: p.start)
        ],
        "token_expired": [
            {"platform": p["platform"], "start": iso(p["start"]), "end": iso(p["end"])} for p in tokens
        ],
    }


def _staff(entries: list[AuditEntry]) -> dict[str, Any]:
    by_role: dict[str, Counter[str]] = {}
    for e in entries:
        if not is_decision(e):
            continue
        by_role.setdefault(e.role, Counter())[e.action] += 1
    order = {role: i for i, role in enumerate(ROLE_JA)}
    return {
        "by_role": [
            {
                "role": role,
                "ja": ROLE_JA.get(role, role),
                "total": sum(counts.values()),
                "actions": dict(counts),
            }
            for role, counts in sorted(by_role.items(), key=lambda kv: (order.get(kv[0], 99), kv[0]))
        ]
    }


def compute(data: ReportData, mask: Masker) -> dict[str, Any]:
    """Every figure of the report for `data.week`, JSON-ready. `mask` hides personal information in excerpts."""
    week = data.week
    index = _Index(data)
    start, end = week.start.timestamp(), index.until(week)
    received = index.received(start, end)
    entries = index.entries(start, end)
    return {
        "week": str(week),
        "label": week.label_ja,
        "start": week.start.isoformat(),
        "end": week.end.isoformat(),
        "generated_at": data.generated_at.astimezone(JST).isoformat(timespec="seconds")
        if data.generated_at
        else None,
        # 途中経過: generated before the week ended; "at week end" figures are as of generation instead.
        "in_progress": end < week.end.timestamp(),
        "volume": _volume(index, week, received),
        "flagged": _flagged(received),
        "review": _review(index, week, received),
        "decisions": _decisions(index, week, entries),
        "timeliness": _timeliness(index, week, mask),
        "quality": _quality(index, week, entries, mask),
        "incidents": _incidents(index, week, received, mask),
        "trend": [key_figures(index, week.previous(n)) for n in range(TREND_WEEKS - 1, -1, -1)],
        "staff": _staff(entries),
        "support": _support(data.support, end),
    }


def _support(items: list[SupportItem], week_end: float) -> dict[str, Any]:
    """相談が必要なコメント: counts by kind and outcome, and how soon staff first responded. No comment text."""
    waits = [i.first_response_at - i.detected_at for i in items if i.first_response_at is not None]
    waits = [max(0.0, w) / 60 for w in waits]
    return {
        "total": len(items),
        "by_kind": {kind: sum(1 for i in items if i.kind == kind) for kind in SUPPORT_KINDS},
        "by_outcome": {o: sum(1 for i in items if i.outcome == o) for o in SUPPORT_OUTCOME_JA},
        "unanswered_at_week_end": sum(
            1 for i in items if i.first_response_at is None or i.first_response_at >= week_end
        ),
        "first_response_minutes_median": round(m, 1) if (m := median(waits)) is not None else None,
        "first_response_minutes_max": round(max(waits), 1) if waits else None,
    }


def _decision_label(e: AuditEntry) -> str:
    label = KIND_JA.get(decision_kind(e), e.action)
    return f"{label}（課長承認）" if e.action == "approved" else label


def comment_rows(data: ReportData, mask: Masker) -> list[dict[str, Any]]:
    """One row per moderated comment of the week: flagged or 要確認 when received this week, or decided on this
    week."""
    week = data.week
    index = _Index(data)
    start, end = week.start.timestamp(), index.until(week)
    decided_ids = {e.item_id for e in index.entries(start, end) if e.item_id and is_decision(e)}
    rows = []
    for c in sorted(data.comments, key=lambda c: (c.received_at, c.item_id)):
        noticed = c.flagged or c.item_id in index.review_ids
        if c.is_own or not ((noticed and start <= c.received_at < end) or c.item_id in decided_ids):
            continue
        settled = index.settled(c.item_id)
        decided = settled if settled is not None and settled.at < end else None
        wait_until = decided.at if decided is not None else end
        rows.append(
            {
                "item_id": c.item_id,
                "platform": PLATFORM_JA.get(c.platform, c.platform),
                "post_id": c.post_id or "",
                "received_at": iso(c.received_at),
                "reply": c.parent_id is not None,
                "flagged": c.flagged,
                "review": c.item_id in index.review_ids,
                "categories": CATEGORY_SEPARATOR.join(
                    CATEGORIES[k].ja for k in c.categories if k in CATEGORIES
                ),
                "review_categories": CATEGORY_SEPARATOR.join(CATEGORIES[k].ja for k in _review_categories(c))
                if c.item_id in index.review_ids
                else "",
                "clauses": " ".join(
                    dict.fromkeys(cl for k in c.categories if k in CATEGORIES for cl in CATEGORIES[k].clauses)
                ),
                "severity": Severity.parse(c.severity).ja,
                "decision": _decision_label(decided) if decided else "",
                "decided_at": iso(decided.at) if decided else "",
                "decided_by_role": ROLE_JA.get(decided.role, decided.role) if decided else "",
                "waited_hours": _hours(_wait(data.hours, c.received_at, wait_until)),
                "status_now": STATUS_JA.get(c.status, c.status),
                "excerpt": _excerpt(mask, c),
            }
        )
    return rows
