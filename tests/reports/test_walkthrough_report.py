"""Issue 11, report points: a week in progress (途中経過), personal data in excerpts, one A4 page per section.

Each test reads the real outputs (report.json, comments.csv, the PDF through poppler, the charts' axes).
"""

from __future__ import annotations

import csv
import json
import re
import subprocess
from datetime import datetime
from pathlib import Path

import pytest
import redis

from classifiers.categories import CATEGORIES, Severity
from classifiers.verdict import Verdict
from service.hours import JST
from service.reports import charts
from service.reports.figures import ReportData, compute
from service.reports.generate import generate_report, write_report
from service.reports.load import load_report_data
from service.reports.mask import WITHHELD, excerpt
from service.reports.render_html import render_html
from service.reports.week import IsoWeek
from service.store import Store
from tests.reports.fixture_week import WEEK, at, build_week
from webhooks.events import CommentEvent

HEADINGS = (
    "1. コメントの受信状況",
    "2. 要注意コメント",
    "3. 対応状況",
    "4. 対応までの時間",
    "5. 自動判定の精度",
    "6. インシデント",
    "7. 過去8週の推移",
    "8. 職員の対応件数",
)
# A name and a street address the model flagged as privacy, in a form the detector does not frame.
NAME, STREET = "山田花子", "大嶺町東分"
PRIVATE = f"{NAME}って{STREET}の奥に住んでるやつでしょ"


_SEQ = iter(range(100, 10_000))


def _comment(
    r: redis.Redis, cid: str, received: float, categories: list[str], text: str, post: str = "P9"
) -> None:
    store = Store(r)
    clauses = list(dict.fromkeys(cl for c in categories for cl in CATEGORIES[c].clauses))
    verdict = Verdict(True, categories, {c: 0.9 for c in categories}, Severity.MEDIUM, clauses, "hide")
    event = CommentEvent(
        platform="facebook",
        account_id="page",
        comment_id=cid,
        verb="add",
        text=text,
        post_id=post,
        author_id="a" + cid,
        author_name="a" + cid,
        entry_time=received,
    )
    store.apply_event(f"{next(_SEQ)}-0", event, received_at=received, verdict=verdict)


def test_week_in_progress_counts_as_of_generation(r: redis.Redis, tmp_path: Path) -> None:
    """Point 1: a comment 6 minutes old waited 6 minutes, not until the week's end; the report says 途中経過."""
    build_week(r)
    made = datetime(2026, 11, 25, 16, 6, tzinfo=JST)  # c4 came at 16:00 and is escalated only at 16:30
    report = compute(load_report_data(r, WEEK, now=made), excerpt)
    assert report["in_progress"] is True
    for item in report["timeliness"]["longest"]:
        received = datetime.fromisoformat(item["received_at"])
        assert item["waited_seconds"] <= (made - received).total_seconds()
    # Open at 16:06: c4 (c5, c9, c3, c12 had not arrived yet), c13 from W46.
    assert report["decisions"]["pending_at_end"] == 2
    out = write_report(r, WEEK, tmp_path / "w", now=made)
    html = (out.directory / "report.html").read_text("utf-8")
    assert "途中経過" in html and "作成時点で未処理" in html and "週末時点で未処理" not in html
    with (out.directory / "summary.csv").open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.reader(fh))
    assert ["対応", "作成時点の未処理", "2"] in rows
    with (out.directory / "comments.csv").open(encoding="utf-8-sig", newline="") as fh:
        waits = {row["項目ID"]: row["待ち時間（開庁時間・時間）"] for row in csv.DictReader(fh)}
    assert waits["instagram:c4"] == "0.1"

    finished = compute(load_report_data(r, WEEK, now=datetime(2026, 11, 30, 9, tzinfo=JST)), excerpt)
    assert finished["in_progress"] is False


def test_week_not_begun_is_refused(r: redis.Redis, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="まだ始まっていない"):
        write_report(r, IsoWeek(2026, 49), tmp_path, now=datetime(2026, 11, 25, 9, tzinfo=JST))


def test_model_only_privacy_is_masked_or_withheld(r: redis.Redis, tmp_path: Path) -> None:
    """Point 2: nothing of a privacy comment's name or street reaches the CSV or the HTML."""
    build_week(r)
    _comment(r, "p1", at(26, 9), ["privacy"], PRIVATE)
    _comment(r, "p2", at(26, 9, 5), ["privacy", "insult"], "あいつの家、みんなで晒してやろうぜ")
    done = generate_report(r, WEEK, tmp_path, now=datetime(2026, 11, 30, 9, tzinfo=JST))
    with (done.directory / "comments.csv").open(encoding="utf-8-sig", newline="") as fh:
        rows = {row["項目ID"]: row["抜粋（個人情報は伏せ字）"] for row in csv.DictReader(fh)}
    assert NAME not in rows["facebook:p1"] and STREET not in rows["facebook:p1"]
    assert "〔氏名〕" in rows["facebook:p1"] and "〔住所〕" in rows["facebook:p1"]
    assert rows["facebook:p2"] == WITHHELD
    for name in ("report.html", "report.json"):
        text = (done.directory / name).read_text("utf-8")
        assert NAME not in text and STREET not in text
    # A comment not flagged for privacy keeps its ordinary words.
    assert excerpt("田中さんありがとう") == "田中さんありがとう"


def _pages(pdf: Path) -> list[str]:
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True)
    return text.stdout.split("\f")[:-1]


@pytest.mark.slow
def test_one_page_per_section_busy_and_empty(r: redis.Redis, tmp_path: Path) -> None:
    """Point 3: a busy week (every category flagged) and an empty week each print as exactly one A4 page per
    section, each page opening with its own heading; empty data says 該当なし."""
    build_week(r)
    for n, category in enumerate(CATEGORIES):
        for k in range(2):
            _comment(r, f"b{n}-{k}", at(24 + k, 9, n), [category], f"テストコメント{n}-{k}", post=f"P{n}")
    made = datetime(2026, 11, 30, 9, tzinfo=JST)
    for week, name in ((WEEK, "busy"), (IsoWeek(2026, 10), "empty")):
        done = write_report(r, week, tmp_path / name, now=made)
        pages = _pages(done.directory / "report.pdf")
        assert len(pages) == len(HEADINGS), [p[:200] for p in pages]
        for page, heading in zip(pages, HEADINGS, strict=True):
            assert heading.split(" ", 1)[1] in page
    empty = (tmp_path / "empty" / "report.html").read_text("utf-8")
    assert "該当なし" in empty
    report = json.loads((tmp_path / "empty" / "report.json").read_text("utf-8"))
    assert report["volume"]["received"] == 0


def test_charts_axes_are_truthful() -> None:
    """Point 3: an empty week's count axes start at 0 and say 該当なし (no −0.04…0.04); the trend's time axis
    is in the tables' units (3分, not 0.05 hours)."""
    empty = compute(
        ReportData(
            week=IsoWeek(2026, 10), comments=[], audit=[], generated_at=datetime(2026, 3, 9, tzinfo=JST)
        ),
        excerpt,
    )
    for name, horizontal in (("volume", False), ("categories", True), ("decisions", True)):
        ax = charts.FIGURES[name](empty).axes[0]
        low, high = ax.get_xlim() if horizontal else ax.get_ylim()
        assert low == 0 and high >= 1, name
        assert "該当なし" in [t.get_text() for t in ax.texts], name
    trend = dict(empty, trend=[dict(w, median_seconds=180.0) for w in empty["trend"]])
    right = charts.FIGURES["trend"](trend).axes[1]
    assert right.get_ylabel() == "分" and right.get_ylim()[1] >= 3
    slow = dict(empty, trend=[dict(w, median_seconds=5 * 3600.0) for w in empty["trend"]])
    assert charts.FIGURES["trend"](slow).axes[1].get_ylabel() == "時間"
    assert "該当なし" in render_html(empty)


def test_pdf_page_text_has_no_stray_page(r: redis.Redis, tmp_path: Path) -> None:
    """The fixture week: no page holds only a footnote (the walk-through's blank page 3)."""
    build_week(r)
    done = write_report(r, WEEK, tmp_path, now=datetime(2026, 11, 30, 9, tzinfo=JST))
    for page in _pages(done.directory / "report.pdf"):
        assert re.search(r"\d\. ", page), page[:300]
