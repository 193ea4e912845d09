from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest
import redis
from argon2 import PasswordHasher

from classifiers.categories import Severity
from service.accounts import AccountStore, Role
from service.audit import AuditLog
from service.hours import (
    DEFAULT_HOURS,
    JST,
    EmergencyMode,
    EmergencyModeError,
    OperatingHours,
    should_auto_hide,
)

H = DEFAULT_HOURS


def jst(y: int, mo: int, d: int, h: int = 0, mi: int = 0, s: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, s, tzinfo=JST)


# 2026-11-24 is a Tuesday; 11-21/22 a weekend; 11-23 (Mon) 勤労感謝の日; 11-03 (Tue) 文化の日.


def test_weekday_inside_and_outside_hours() -> None:
    assert H.is_open(jst(2026, 11, 24, 10, 0))
    assert H.is_open(jst(2026, 11, 24, 8, 30))  # opening minute is inside
    assert H.is_open(jst(2026, 11, 24, 17, 14, 59))
    assert not H.is_open(jst(2026, 11, 24, 17, 15))  # closing time is outside
    assert not H.is_open(jst(2026, 11, 24, 8, 29, 59))
    assert not H.is_open(jst(2026, 11, 24, 22, 0))


def test_other_time_zones_are_converted_to_jst() -> None:
    # 01:00 UTC is 10:00 in Japan; 10:00 UTC is 19:00 in Japan.
    assert H.is_open(datetime(2026, 11, 24, 1, 0, tzinfo=UTC))
    assert not H.is_open(datetime(2026, 11, 24, 10, 0, tzinfo=UTC))


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError):
        H.is_open(datetime(2026, 11, 24, 10, 0))


def test_weekend_and_public_holidays_are_closed() -> None:
    assert not H.is_open(jst(2026, 11, 21, 10, 0))  # Saturday
    assert not H.is_open(jst(2026, 11, 22, 10, 0))  # Sunday
    assert not H.is_open(jst(2026, 11, 23, 10, 0))  # 勤労感謝の日 (Monday)
    assert not H.is_open(jst(2026, 11, 3, 10, 0))  # 文化の日 (Tuesday)
    assert H.is_open(jst(2026, 11, 4, 10, 0))


def test_year_end_closure_and_its_setting() -> None:
    assert H.is_open(jst(2026, 12, 28, 10, 0))
    for day in (jst(2026, 12, 29, 10), jst(2026, 12, 30, 10), jst(2027, 1, 2, 10)):
        assert not H.is_open(day)
    # 2027-01-04 is a Monday after the closure.
    assert H.is_open(jst(2027, 1, 4, 10, 0))
    no_closure = OperatingHours(closure_start=None, closure_end=None)
    assert no_closure.is_open(jst(2026, 12, 29, 10, 0))  # a plain Tuesday without the closure
    short = OperatingHours(closure_start=(12, 30), closure_end=(1, 2))
    assert short.is_open(jst(2026, 12, 29, 10, 0))
    assert not short.is_open(jst(2026, 12, 30, 10, 0))


def test_configurable_start_and_end() -> None:
    nine_to_five = OperatingHours(start=time(9, 0), end=time(17, 0))
    assert not nine_to_five.is_open(jst(2026, 11, 24, 8, 45))
    assert nine_to_five.is_open(jst(2026, 11, 24, 9, 0))
    assert not nine_to_five.is_open(jst(2026, 11, 24, 17, 5))
    with pytest.raises(ValueError):
        OperatingHours(start=time(18, 0), end=time(9, 0))


def test_next_opening() -> None:
    assert H.next_opening(jst(2026, 11, 24, 10, 0)) == jst(2026, 11, 24, 10, 0)  # already open
    assert H.next_opening(jst(2026, 11, 24, 7, 0)) == jst(2026, 11, 24, 8, 30)  # later the same day
    assert H.next_opening(jst(2026, 11, 24, 18, 0)) == jst(2026, 11, 25, 8, 30)
    # Friday evening → the weekend and the Monday holiday are skipped.
    assert H.next_opening(jst(2026, 11, 20, 18, 0)) == jst(2026, 11, 24, 8, 30)
    assert H.next_opening(jst(2026, 11, 3, 9, 0)) == jst(2026, 11, 4, 8, 30)
    assert H.next_opening(jst(2026, 12, 28, 17, 15)) == jst(2027, 1, 4, 8, 30)
    opening = H.next_opening(datetime(2026, 11, 24, 12, 0, tzinfo=UTC))  # 21:00 JST
    assert opening == jst(2026, 11, 25, 8, 30) and opening.tzinfo is JST


def test_operating_seconds_between() -> None:
    assert H.operating_seconds_between(jst(2026, 11, 24, 0), jst(2026, 11, 25, 0)) == 8 * 3600 + 45 * 60
    # 16:15 → 17:15 on Tuesday, then 8:30 → 9:30 on Wednesday.
    assert H.operating_seconds_between(jst(2026, 11, 24, 16, 15), jst(2026, 11, 25, 9, 30)) == 7200
    # Friday 17:00 → Tuesday 9:00: 15 minutes on Friday and 30 on Tuesday; the weekend and the holiday count nothing.
    assert H.operating_seconds_between(jst(2026, 11, 20, 17, 0), jst(2026, 11, 24, 9, 0)) == 45 * 60
    assert H.operating_seconds_between(jst(2026, 11, 24, 20), jst(2026, 11, 24, 23)) == 0
    assert H.operating_seconds_between(jst(2026, 11, 25, 10), jst(2026, 11, 24, 10)) == 0
    week = H.operating_seconds_between(jst(2026, 11, 23), jst(2026, 11, 30))  # Mon holiday + Tue–Fri
    assert week == 4 * (8 * 3600 + 45 * 60)


def test_should_auto_hide() -> None:
    in_hours, evening, holiday = jst(2026, 11, 24, 10), jst(2026, 11, 24, 20), jst(2026, 11, 23, 10)
    assert not should_auto_hide(Severity.HIGH, in_hours, False)
    assert should_auto_hide(Severity.HIGH, evening, False)
    assert should_auto_hide(Severity.HIGH, holiday, False)
    assert not should_auto_hide(Severity.MEDIUM, evening, False)
    assert should_auto_hide(Severity.HIGH, in_hours, True)  # 緊急モード: any time
    assert not should_auto_hide(Severity.MEDIUM, in_hours, True)
    assert should_auto_hide(Severity.MEDIUM, evening, False, min_severity=Severity.MEDIUM)


@pytest.fixture
def emergency(r: redis.Redis) -> EmergencyMode:
    accounts = AccountStore(r, hasher=PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    accounts.create("kacho", "Tsubaki-no-hana-2026", Role.CHIEF, display_name="美祢 花子")
    return EmergencyMode(r)


def test_emergency_mode_on_and_off(emergency: EmergencyMode, r: redis.Redis) -> None:
    assert not emergency.is_on() and emergency.state() is None
    with pytest.raises(EmergencyModeError) as err:
        emergency.enable("kacho", "  ")
    assert "理由" in err.value.message_ja
    assert not emergency.is_on()

    started = emergency.enable("kacho", "大雨による災害対応", at=jst(2026, 7, 1, 6, 0))
    assert emergency.is_on()
    assert started.by == "kacho" and started.since == jst(2026, 7, 1, 6, 0)
    # Turning it on again keeps the first start and reason.
    again = emergency.enable("someone", "別の理由", at=jst(2026, 7, 1, 9, 0))
    assert again == started

    period = emergency.disable("kacho", at=jst(2026, 7, 3, 18, 0))
    assert period is not None and period.end == jst(2026, 7, 3, 18, 0) and period.ended_by == "kacho"
    assert not emergency.is_on()
    assert emergency.disable("kacho") is None

    actions = [
        (e.action, e.actor, e.role, e.note) for e in AuditLog(r).entries() if e.action.startswith("emergency")
    ]
    assert actions == [
        ("emergency_on", "kacho", "chief", "大雨による災害対応"),
        ("emergency_off", "kacho", "chief", "大雨による災害対応"),
    ]


def test_emergency_periods_for_reports(emergency: EmergencyMode) -> None:
    emergency.enable("kacho", "台風", at=jst(2026, 9, 1, 8))
    emergency.disable("kacho", at=jst(2026, 9, 2, 8))
    emergency.enable("kacho", "地震", at=jst(2026, 9, 10, 8))
    emergency.disable("kacho", at=jst(2026, 9, 10, 20))
    emergency.enable("kacho", "大雨", at=jst(2026, 9, 20, 8))  # still on

    week = emergency.periods(jst(2026, 9, 7), jst(2026, 9, 14))
    assert [p.reason for p in week] == ["地震"]
    # A period that began before the range but ended inside it overlaps.
    assert [p.reason for p in emergency.periods(jst(2026, 9, 2), jst(2026, 9, 3))] == ["台風"]
    assert emergency.periods(jst(2026, 9, 3), jst(2026, 9, 9)) == []
    month = emergency.periods(jst(2026, 9, 1), jst(2026, 10, 1))
    assert [(p.reason, p.end is None) for p in month] == [("台風", False), ("地震", False), ("大雨", True)]
    assert month[1].end - month[1].start == timedelta(hours=12)
    assert emergency.periods(jst(2026, 8, 1), jst(2026, 8, 31)) == []
