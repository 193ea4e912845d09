"""Operating hours (policy 3(1)ウ: 8:30–17:15, except in disasters) and 緊急モード.

All times are timezone-aware and computed in Asia/Tokyo. Business days are Monday to Friday, not a Japanese
public holiday (jpholiday) and not inside the year-end/new-year closure (12/29–1/3 by default).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import jpholiday
import redis

from classifiers.categories import Severity
from service.accounts import audit_by

JST = ZoneInfo("Asia/Tokyo")

EMERGENCY_KEY = "{shakyo}:emergency"
EMERGENCY_PERIODS_KEY = "{shakyo}:emergency:periods"


def as_jst(at: datetime) -> datetime:
    """The same instant in JST; naive datetimes are refused because their zone would be a guess."""
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("timezone-aware datetime required")
    return at.astimezone(JST)


def now_jst(now: datetime | None = None) -> datetime:
    """`now` in JST when given (tests and replays freeze time this way), else the clock."""
    return as_jst(now) if now is not None else datetime.now(JST)


@dataclass(frozen=True, slots=True)
class OperatingHours:
    start: time = time(8, 30)
    end: time = time(17, 15)
    weekdays: frozenset[int] = frozenset(range(5))  # date.weekday(): Monday=0
    # Inclusive (month, day) bounds; the range wraps over New Year when start > end.
    closure_start: tuple[int, int] | None = (12, 29)
    closure_end: tuple[int, int] | None = (1, 3)
    extra_closed: frozenset[date] = field(default_factory=frozenset)  # e.g. the council's own founding day

    def __post_init__(self) -> None:
        if self.start >= self.end:
            raise ValueError("operating hours must start before they end")
        if (self.closure_start is None) != (self.closure_end is None):
            raise ValueError("closure needs both a start and an end")

    def in_closure(self, d: date) -> bool:
        if self.closure_start is None or self.closure_end is None:
            return False
        md = (d.month, d.day)
        if self.closure_start <= self.closure_end:
            return self.closure_start <= md <= self.closure_end
        return md >= self.closure_start or md <= self.closure_end

    def is_business_day(self, d: date) -> bool:
        return (
            d.weekday() in self.weekdays
            and not _is_holiday(d)
            and not self.in_closure(d)
            and d not in self.extra_closed
        )

    def _window(self, d: date) -> tuple[datetime, datetime]:
        return datetime.combine(d, self.start, tzinfo=JST), datetime.combine(d, self.end, tzinfo=JST)

    def is_open(self, at: datetime) -> bool:
        """True during the operating hours of a business day (start inclusive, end exclusive)."""
        at = as_jst(at)
        if not self.is_business_day(at.date()):
            return False
        opens, closes = self._window(at.date())
        return opens <= at < closes

    def next_opening(self, at: datetime) -> datetime:
        """`at` itself (in JST) when already open, else the start of the next operating period."""
        at = as_jst(at)
        if self.is_open(at):
            return at
        d = at.date()
        if at >= self._window(d)[0]:
            d += timedelta(days=1)
        # The closure plus adjoining holidays and weekends never spans more than a few weeks.
        for _ in range(366):
            if self.is_business_day(d):
                return self._window(d)[0]
            d += timedelta(days=1)
        raise ValueError("no business day within a year: check the operating-hours settings")

    def operating_seconds_between(self, a: datetime, b: datetime) -> float:
        """Seconds of [a, b) that fall inside operating hours; 0 when b is not after a."""
        a, b = as_jst(a), as_jst(b)
        if b <= a:
            return 0.0
        total = 0.0
        d = a.date()
        while d <= b.date():
            if self.is_business_day(d):
                opens, closes = self._window(d)
                overlap = (min(b, closes) - max(a, opens)).total_seconds()
                if overlap > 0:
                    total += overlap
            d += timedelta(days=1)
        return total


DEFAULT_HOURS = OperatingHours()


@functools.lru_cache(maxsize=4096)
def _is_holiday(d: date) -> bool:
    # jpholiday recomputes the year's holidays per call; reports ask about the same days many times.
    return jpholiday.is_holiday(d)


def should_auto_hide(
    severity: Severity | int,
    at: datetime,
    emergency_on: bool,
    *,
    hours: OperatingHours = DEFAULT_HOURS,
    min_severity: Severity = Severity.HIGH,
    needs_support: bool = False,
) -> bool:
    """Hide before review when nobody will look soon: outside operating hours, or at any time in 緊急モード.

    Only comments at or above `min_severity` qualify; the rest wait in the queue for staff. A comment that needs
    support (相談が必要) never does, at any hour or in 緊急モード: hiding a cry for help from its writer and their
    friends is the one harm worse than the words; only a person may hide or delete it.
    """
    if needs_support or severity < min_severity:
        return False
    return emergency_on or not hours.is_open(at)


@dataclass(frozen=True, slots=True)
class EmergencyState:
    since: datetime
    by: str
    reason: str


@dataclass(frozen=True, slots=True)
class EmergencyPeriod:
    start: datetime
    end: datetime | None  # None while still on
    started_by: str
    reason: str
    ended_by: str = ""

    def to_dict(self) -> dict[str, str | None]:
        return {
            "start": self.start.isoformat(),
            "end": self.end.isoformat() if self.end else None,
            "started_by": self.started_by,
            "reason": self.reason,
            "ended_by": self.ended_by,
        }


class EmergencyModeError(Exception):
    def __init__(self, message_ja: str) -> None:
        super().__init__(message_ja)
        self.message_ja = message_ja


class EmergencyMode:
    """緊急モード (disasters): on/off with who, when and why; every finished period is kept for reports."""

    def __init__(self, r: redis.Redis) -> None:
        self._r = r

    def state(self) -> EmergencyState | None:
        data = self._r.hgetall(EMERGENCY_KEY)
        return _decode_state(data) if data else None

    def is_on(self) -> bool:
        return bool(self._r.exists(EMERGENCY_KEY))

    def enable(self, by: str, reason: str, *, at: datetime | None = None) -> EmergencyState:
        """Turn on; when already on, the running state is returned unchanged (its start time counts)."""
        reason = reason.strip()
        if not reason:
            raise EmergencyModeError("緊急モードにする理由（例：大雨による災害対応）を入力してください。")
        when = now_jst(at)

        def start(pipe: redis.client.Pipeline) -> EmergencyState:
            running = pipe.hgetall(EMERGENCY_KEY)
            if running:
                return _decode_state(running)
            pipe.multi()
            pipe.hset(EMERGENCY_KEY, mapping={"since": repr(when.timestamp()), "by": by, "reason": reason})
            audit_by(self._r, pipe, by, "emergency_on", when, note=reason)
            return EmergencyState(since=when, by=by, reason=reason)

        return self._r.transaction(start, EMERGENCY_KEY, value_from_callable=True)

    def disable(self, by: str, *, at: datetime | None = None) -> EmergencyPeriod | None:
        """Turn off and record the finished period; None when it was already off."""
        when = now_jst(at)

        def end_period(pipe: redis.client.Pipeline) -> EmergencyPeriod | None:
            data = pipe.hgetall(EMERGENCY_KEY)
            if not data:
                return None
            start = float(data["since"])
            period = EmergencyPeriod(
                start=datetime.fromtimestamp(start, JST),
                end=max(when, datetime.fromtimestamp(start, JST)),
                started_by=data["by"],
                reason=data["reason"],
                ended_by=by,
            )
            pipe.multi()
            pipe.delete(EMERGENCY_KEY)
            pipe.zadd(EMERGENCY_PERIODS_KEY, {json.dumps(period.to_dict(), ensure_ascii=False): start})
            audit_by(self._r, pipe, by, "emergency_off", when, note=data["reason"])
            return period

        return self._r.transaction(end_period, EMERGENCY_KEY, value_from_callable=True)

    def periods(self, since: datetime, until: datetime) -> list[EmergencyPeriod]:
        """Periods overlapping [since, until), oldest first, including the running one (end=None)."""
        lo, hi = as_jst(since).timestamp(), as_jst(until).timestamp()
        out = [
            p
            for p in _decode_periods(self._r.zrangebyscore(EMERGENCY_PERIODS_KEY, "-inf", f"({hi}"))
            if p.end is None or p.end.timestamp() > lo
        ]
        state = self.state()
        if state is not None and state.since.timestamp() < hi:
            out.append(EmergencyPeriod(start=state.since, end=None, started_by=state.by, reason=state.reason))
        return out


def _decode_state(data: dict[str, str]) -> EmergencyState:
    return EmergencyState(
        since=datetime.fromtimestamp(float(data["since"]), JST), by=data["by"], reason=data["reason"]
    )


def _decode_periods(raw: Iterable[str]) -> list[EmergencyPeriod]:
    out = []
    for item in raw:
        d = json.loads(item)
        out.append(
            EmergencyPeriod(
                start=datetime.fromisoformat(d["start"]),
                end=datetime.fromisoformat(d["end"]) if d["end"] else None,
                started_by=d["started_by"],
                reason=d["reason"],
                ended_by=d["ended_by"],
            )
        )
    return out
