"""The report's charts as PNG bytes (matplotlib, Agg; no pyplot, so the web process keeps no global figures).

Labels are Japanese, so the charts use IPAexGothic shipped inside the matplotlib-fontja package: the PNGs
read the same on any machine, with or without Japanese system fonts.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import matplotlib
import matplotlib_fontja
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from service.reports.figures import OUTCOME_JA, OUTCOMES, PLATFORM_JA, PLATFORMS

FONT_PATH = Path(matplotlib_fontja.get_font_ttf_path())
FONT_NAME = "IPAexGothic"
_COLOURS = {"facebook": "#1f5fa8", "instagram": "#c2477a"}
_DPI = 110
_RC = {"font.family": FONT_NAME, "font.size": 9, "axes.spines.top": False, "axes.spines.right": False}


def _figure(draw: Callable[[Axes], None], size: tuple[float, float] = (6.4, 2.8)) -> Figure:
    with matplotlib.rc_context(_RC):
        fig = Figure(figsize=size, dpi=_DPI)
        FigureCanvasAgg(fig)
        draw(fig.add_subplot())
        fig.tight_layout()
    return fig


def _png(fig: Figure) -> bytes:
    with matplotlib.rc_context(_RC):
        buf = io.BytesIO()
        fig.savefig(buf, format="png")
    return buf.getvalue()


def _counts_axis(ax: Axes, values: list[int], *, horizontal: bool = False) -> None:
    """Whole counts from 0; with nothing to count, a 0–1 axis and 「該当なし」 (matplotlib would otherwise
    centre an all-zero bar on a −0.04…0.04 axis, which reads like a measurement)."""
    axis = ax.xaxis if horizontal else ax.yaxis
    axis.get_major_locator().set_params(integer=True)
    if horizontal:
        ax.set_xlim(left=0, right=max(values, default=0) * 1.1 or 1)
    else:
        ax.set_ylim(bottom=0, top=max(values, default=0) * 1.1 or 1)
    if not any(values):
        ax.text(
            0.5, 0.5, "該当なし", transform=ax.transAxes, ha="center", va="center", fontsize=12, color="#555"
        )


def volume_by_day_figure(report: dict[str, Any]) -> Figure:
    days = report["volume"]["by_day"]
    labels = [
        f"{d['date'][5:].replace('-', '/')}\n({d['weekday']}{'' if d['business_day'] else '・休'})"
        for d in days
    ]

    def draw(ax: Axes) -> None:
        bottom = [0] * len(days)
        for p in PLATFORMS:
            values = [d[p] for d in days]
            ax.bar(labels, values, bottom=bottom, label=PLATFORM_JA[p], color=_COLOURS[p])
            bottom = [b + v for b, v in zip(bottom, values, strict=True)]
        ax.set_ylabel("件数")
        ax.set_title("日別の受信コメント数（休＝閉庁日）")
        if any(bottom):
            ax.legend(frameon=False)
        _counts_axis(ax, bottom)

    return _figure(draw)


def flagged_by_category_figure(report: dict[str, Any]) -> Figure:
    rows = [c for c in report["flagged"]["by_category"] if c["count"]]

    def draw(ax: Axes) -> None:
        ax.barh([c["ja"] for c in reversed(rows)], [c["count"] for c in reversed(rows)], color="#d08c2c")
        ax.set_xlabel("件数")
        ax.set_title("分類別の要注意コメント数")
        if not rows:
            ax.set_yticks([])
        _counts_axis(ax, [c["count"] for c in rows], horizontal=True)

    # Short bars: with all eleven categories the section must still fit its one A4 page.
    return _figure(draw, (6.4, 1.0 + 0.16 * max(len(rows), 2)))


def decisions_figure(report: dict[str, Any]) -> Figure:
    d = report["decisions"]
    kinds = [*OUTCOMES, "pending_at_end"]
    at_end = "作成時点の未処理" if report.get("in_progress") else "週末時点の未処理"
    names = [OUTCOME_JA.get(k, at_end) for k in kinds]

    def draw(ax: Axes) -> None:
        ax.barh(list(reversed(names)), [d[k] for k in reversed(kinds)], color="#4a8a5c")
        ax.set_xlabel("件数")
        ax.set_title("対応の内訳")
        _counts_axis(ax, [d[k] for k in kinds], horizontal=True)

    return _figure(draw, (6.4, 3.0))


def trend_figure(report: dict[str, Any]) -> Figure:
    """Counts on the left; the median wait on the right in 分, or 時間 once it passes two hours, the units the
    tables print (45分, 3時間10分)."""
    weeks = report["trend"]
    labels = [w["week"][2:] for w in weeks]
    medians = [w["median_seconds"] for w in weeks]
    longest = max((m for m in medians if m is not None), default=0.0)
    unit, per = ("時間", 3600) if longest >= 7200 else ("分", 60)

    def draw(ax: Axes) -> None:
        ax.plot(labels, [w["received"] for w in weeks], marker="o", label="受信", color="#1f5fa8")
        ax.plot(labels, [w["flagged"] for w in weeks], marker="s", label="要注意", color="#d08c2c")
        ax.set_ylabel("件数")
        _counts_axis(ax, [max(w["received"], w["flagged"]) for w in weeks])
        right = ax.twinx()
        right.plot(
            labels,
            [float("nan") if m is None else m / per for m in medians],
            linestyle="--",
            marker="^",
            color="#7a4a9c",
            label=f"対応時間の中央値（開庁時間・{unit}）",
        )
        right.set_ylabel(unit)
        right.set_ylim(bottom=0, top=longest / per * 1.2 or 1.0)
        lines = ax.get_legend_handles_labels()
        more = right.get_legend_handles_labels()
        ax.legend(lines[0] + more[0], lines[1] + more[1], frameon=False, loc="upper left", fontsize=8)
        ax.set_title("過去8週の推移")

    return _figure(draw)


# name → figure builder, in the template's order; tests read the axes through the same builders.
FIGURES: dict[str, Callable[[dict[str, Any]], Figure]] = {
    "volume": volume_by_day_figure,
    "categories": flagged_by_category_figure,
    "decisions": decisions_figure,
    "trend": trend_figure,
}


def all_charts(report: dict[str, Any]) -> dict[str, bytes]:
    """name → PNG, for the HTML template."""
    return {name: _png(build(report)) for name, build in FIGURES.items()}
