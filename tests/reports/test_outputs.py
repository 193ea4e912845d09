"""The report's files: HTML with the figures and valid embedded PNG charts, a PDF with Japanese text,
Excel-friendly CSV, JSON; and the README's sample page rendered from the PDF."""

from __future__ import annotations

import base64
import csv
import io
import json
import re
import shutil
import subprocess
from datetime import datetime
from pathlib import Path

import pytest
import redis
from PIL import Image

from service.hours import JST
from service.reports.generate import REPORT_FILES, generate_report, list_reports
from tests.reports.fixture_week import EMAIL, PHONE, WEEK, build_week

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=JST)
REPO = Path(__file__).resolve().parents[2]
SAMPLE_PNG = REPO / "docs" / "report-sample.png"
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


@pytest.fixture
def generated(r: redis.Redis, tmp_path: Path) -> Path:
    build_week(r)
    done = generate_report(r, WEEK, tmp_path, now=NOW)
    assert done.directory == tmp_path / "reports" / "2026-W48"
    return done.directory


@pytest.mark.slow
def test_every_form(generated: Path, r: redis.Redis) -> None:
    assert sorted(p.name for p in generated.iterdir()) == sorted(REPORT_FILES)
    report = json.loads((generated / "report.json").read_text("utf-8"))
    assert report["week"] == "2026-W48" and report["volume"]["received"] == 10

    html = (generated / "report.html").read_text("utf-8")
    for heading in HEADINGS:
        assert heading in html
    assert "2026年第48週" in html
    assert '<span class="kpi">受信コメント<b>10件</b></span>' in html
    assert '<td>2(7)ケ</td><td class="n">3</td><td class="n">37.5%</td>' in html
    assert "45分" in html and "2時間30分" in html  # median and 90th percentile
    assert html.count('class="page"') == 8  # one printed page per section
    assert PHONE not in html and EMAIL not in html
    pngs = re.findall(r'src="data:image/png;base64,([^"]+)"', html)
    assert len(pngs) == 4
    for data in pngs:
        image = Image.open(io.BytesIO(base64.b64decode(data)))
        image.verify()
        assert image.format == "PNG" and image.size[0] > 300

    pdf = generated / "report.pdf"
    assert pdf.read_bytes().startswith(b"%PDF-")
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
    pages = int(re.search(r"Pages:\s+(\d+)", info).group(1))  # type: ignore[union-attr]
    assert pages == len(HEADINGS)  # one A4 page per section
    assert "A4" in info
    fonts = subprocess.run(["pdffonts", str(pdf)], capture_output=True, text=True, check=True).stdout
    # Only the packaged font (declared as "ReportGothic"), embedded: no system font stood in for it.
    names = [line.split()[0] for line in fonts.splitlines()[2:]]
    assert names and all("ReportGothic" in n for n in names), fonts
    text = subprocess.run(
        ["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    for heading in HEADINGS:
        assert heading.split(" ", 1)[1] in text
    assert PHONE not in text

    for name in ("summary.csv", "comments.csv"):
        raw = (generated / name).read_bytes()
        assert raw.startswith(b"\xef\xbb\xbf")  # the BOM Excel needs to read UTF-8
    with (generated / "summary.csv").open(encoding="utf-8-sig", newline="") as fh:
        summary = list(csv.reader(fh))
    assert summary[0] == ["区分", "項目", "値"]
    assert ["受信", "受信コメント", "10"] in summary
    assert ["要注意・条項", "2(7)ケ", "3"] in summary
    assert ["対応時間", "中央値（開庁時間・秒）", "2700.0"] in summary
    with (generated / "comments.csv").open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    # Flagged this week (c1 c2 c3 c4 c5 c9 c11 c12), or decided this week (c10 from W47, c8 by hand).
    assert [row["項目ID"] for row in rows] == [
        "facebook:c10",
        "facebook:c2",
        "facebook:c1",
        "facebook:c11",
        "instagram:c4",
        "instagram:c8",
        "facebook:c9",
        "instagram:c12",
        "facebook:c5",
        "instagram:c3",
    ]
    c5 = rows[8]
    assert c5["分類"] == "差別・差別の助長／侮辱・誹謗中傷" and c5["条項"] == "2(7)オ 2(7)エ"
    assert (
        c5["対応"] == "非表示" and c5["対応者の役割"] == "職員" and c5["待ち時間（開庁時間・時間）"] == "0.17"
    )
    assert c5["抜粋（個人情報は伏せ字）"] == "'=出ていけ"  # never a formula in Excel
    assert rows[-1]["抜粋（個人情報は伏せ字）"] == "連絡は 〔メール〕 へ"
    assert rows[0]["受信日時"] == "2026-11-20T15:00:00+09:00" and rows[0]["要注意"] == "はい"

    assert [rep["week"] for rep in list_reports(r)] == ["2026-W48"]
    assert list_reports(r)[0]["received"] == "10"

    # The README's sample: the first page of the PDF.
    if shutil.which("pdftoppm") is None:
        pytest.fail("pdftoppm is not installed: run `bash scripts/install --test` (poppler-utils)")
    out = generated / "sample"
    subprocess.run(
        ["pdftoppm", "-png", "-r", "70", "-f", "1", "-l", "1", "-singlefile", str(pdf), str(out)], check=True
    )
    page = Image.open(out.with_suffix(".png"))
    assert page.size[1] > page.size[0]  # portrait A4
    SAMPLE_PNG.parent.mkdir(exist_ok=True)
    shutil.copyfile(out.with_suffix(".png"), SAMPLE_PNG)
