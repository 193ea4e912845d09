"""The report as one self-contained HTML file (charts embedded as PNG data URLs), printable on A4."""

from __future__ import annotations

import base64
from datetime import datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape

from classifiers.categories import Severity
from classifiers.phases.support import SUPPORT_KINDS
from service.hours import JST
from service.moderation import STATUS_JA
from service.reports import charts
from service.reports.figures import KIND_JA, OUTCOME_JA, OUTCOMES, PLATFORM_JA, PLATFORMS, SEVERITIES
from service.support.desk import OUTCOME_JA as SUPPORT_OUTCOME_JA

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
# Column order of the staff-activity table.
STAFF_ACTIONS: tuple[str, ...] = (
    "delete_requested",
    "hide_requested",
    "hidden",
    "dismissed",
    "escalated",
    "approved",
    "unhide_requested",
)
ACTION_JA = {
    **OUTCOME_JA,
    "delete_requested": "削除",
    "hide_requested": "非表示",
    "hidden": "非表示（自動非表示の確定）",
    "approved": "課長判断",
    "unhide_requested": "非表示解除",
}


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def _duration(seconds: float | None) -> str:
    """Operating-hours durations for people: "45分", "3時間10分"."""
    if seconds is None:
        return "—"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes}分"
    return f"{minutes // 60}時間{minutes % 60:02d}分"


def _jst(value: str | None) -> str:
    return "" if not value else datetime.fromisoformat(value).astimezone(JST).strftime("%m/%d %H:%M")


def _jst_long(value: str | None) -> str:
    return "" if not value else datetime.fromisoformat(value).astimezone(JST).strftime("%Y年%m月%d日 %H:%M")


def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]), trim_blocks=True
    )
    env.filters.update(pct=_pct, duration=_duration, jst=_jst, jst_long=_jst_long)
    return env


def render_html(report: dict[str, Any], *, font_url: str | None = None) -> str:
    """The HTML text. `font_url` adds an @font-face (the PDF renderer passes the packaged font's file URL)."""
    pngs = charts.all_charts(report)
    return (
        environment()
        .get_template("report/report.html")
        .render(
            r=report,
            charts={name: base64.b64encode(png).decode("ascii") for name, png in pngs.items()},
            font_url=font_url,
            platforms=PLATFORMS,
            platform_ja=PLATFORM_JA,
            severities=SEVERITIES,
            severity_ja={s: Severity.parse(s).ja for s in SEVERITIES},
            outcomes=OUTCOMES,
            outcome_ja=OUTCOME_JA,
            staff_actions=STAFF_ACTIONS,
            action_ja=ACTION_JA,
            status_ja=STATUS_JA,
            support_kinds=SUPPORT_KINDS,
            support_outcomes=SUPPORT_OUTCOME_JA,
            kind_ja=KIND_JA,
        )
    )
