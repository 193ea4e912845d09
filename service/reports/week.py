"""ISO weeks in JST: the unit of the weekly report ("2026-W47" = Monday 00:00 to the next Monday 00:00)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from service.hours import JST, as_jst

_WEEK_RE = re.compile(r"(\d{4})-W(\d{2})")


@dataclass(frozen=True, slots=True, order=True)
class IsoWeek:
    year: int
    week: int

    @classmethod
    def parse(cls, text: str) -> IsoWeek:
        """ "2026-W47" → IsoWeek; ValueError (Japanese message) for anything else or a week that does not exist."""
        m = _WEEK_RE.fullmatch(text.strip())
        if m is None:
            raise ValueError(f"週の指定「{text}」が正しくありません。2026-W47 の形で指定してください。")
        year, week = int(m.group(1)), int(m.group(2))
        try:
            date.fromisocalendar(year, week, 1)
        except ValueError:
            raise ValueError(f"{year}年に第{week}週はありません。") from None
        return cls(year, week)

    @classmethod
    def containing(cls, at: datetime) -> IsoWeek:
        iso = as_jst(at).date().isocalendar()
        return cls(iso.year, iso.week)

    @classmethod
    def last_full(cls, now: datetime) -> IsoWeek:
        """The latest Monday–Sunday week that has ended by `now` (JST)."""
        return cls.containing(now).previous()

    def __str__(self) -> str:
        return f"{self.year}-W{self.week:02d}"

    @property
    def monday(self) -> date:
        return date.fromisocalendar(self.year, self.week, 1)

    @property
    def start(self) -> datetime:
        return datetime.combine(self.monday, time(0), tzinfo=JST)

    @property
    def end(self) -> datetime:
        """Exclusive: the next Monday 00:00 JST."""
        return self.start + timedelta(days=7)

    @property
    def days(self) -> list[date]:
        return [self.monday + timedelta(days=i) for i in range(7)]

    def previous(self, n: int = 1) -> IsoWeek:
        iso = (self.monday - timedelta(weeks=n)).isocalendar()
        return IsoWeek(iso.year, iso.week)

    @property
    def label_ja(self) -> str:
        sunday = self.monday + timedelta(days=6)
        return f"{self.year}年第{self.week}週（{self.monday:%Y年%m月%d日}〜{sunday:%m月%d日}）"
