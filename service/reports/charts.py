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


def _png(draw: Callable[[Axes], None], size: tuple[float, float] = (6.4, 2.8)) -> bytes:
    with matplotlib.rc_context(_RC):
        fig = Figure(figsize=size, dpi=_DPI)
        FigureCanvasAgg(fig)
        draw(fig.add_subplot())
        fig.tight_layout()
        buf = io.BytesIO()
        fig.savefig(buf, format="png")
    return buf.getvalue()


def volume_by_day(report: dict[str, Any]) -> bytes:
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
        ax.legend(frameon=False)
        ax.yaxis.get_major_locator().set_params(integer=True)

    return _png(draw)


def flagged_by_category(report: dict[str, Any]) -> bytes:
    rows = [c for c in report["flagged"]["by_category"] if c["count"]] or report["flagged"]["by_category"][:1]

    def draw(ax: Axes) -> None:
        names = [c["ja"] for c in reversed(rows)]
        ax.barh(names, [c["count"] for c in reversed(rows)], color="#d08c2c")
        ax.set_xlabel("件数")
        ax.set_title("分類別の要注意コメント数")
        ax.xaxis.get_major_locator().set_params(integer=True)

    return _png(draw, (6.4, 1.1 + 0.24 * len(rows)))


def decisions(report: dict[str, Any]) -> bytes:
    d = report["decisions"]
    kinds = [*OUTCOMES, "pending_at_end"]
    names = [OUTCOME_JA.get(k, "週末時点の未処理") for k in kinds]

    def draw(ax: Axes) -> None:
        ax.barh(list(reversed(names)), [d[k] for k in reversed(kinds)], color="#4a8a5c")
        ax.set_xlabel("件数")
        ax.set_title("対応の内訳")
        ax.xaxis.get_major_locator().set_params(integer=True)

    return _png(draw, (6.4, 3.0))


def trend(report: dict[str, Any]) -> bytes:
    weeks = report["trend"]
    labels = [w["week"][2:] for w in weeks]

    def draw(ax: Axes) -> None:
        ax.plot(labels, [w["received"] for w in weeks], marker="o", label="受信", color="#1f5fa8")
        ax.plot(labels, [w["flagged"] for w in weeks], marker="s", label="要注意", color="#d08c2c")
        ax.set_ylabel("件数")
        ax.yaxis.get_major_locator().set_params(integer=True)
        right = ax.twinx()
        hours = [None if w["median_seconds"] is None else w["median_seconds"] / 3600 for w in weeks]
        right.plot(
            labels,
            [float("nan") if h is None else h for h in hours],
            linestyle="--",
            marker="^",
            color="#7a4a9c",
            label="対応時間の中央値（開庁時間）",
        )
        right.set_ylabel("時間")
        right.set_ylim(bottom=0, top=max([h for h in hours if h is not None], default=1.0) * 1.2 or 1.0)
        lines = ax.get_legend_handles_labels()
        more = right.get_legend_handles_labels()
        ax.legend(lines[0] + more[0], lines[1] + more[1], frameon=False, loc="upper left", fontsize=8)
        ax.set_title("過去8週の推移")

    return _png(draw)


def all_charts(report: dict[str, Any]) -> dict[str, bytes]:
    """name → PNG, for the HTML template."""
    return {
        "volume": volume_by_day(report),
        "categories": flagged_by_category(report),
        "decisions": decisions(report),
        "trend": trend(report),
    }
