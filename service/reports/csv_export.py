"""CSV files that Excel opens correctly: UTF-8 with a BOM (utf-8-sig), CRLF line ends, a header row."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from service.reports.figures import KIND_JA, OUTCOME_JA, OUTCOMES, PLATFORM_JA, PLATFORMS

COMMENT_COLUMNS: tuple[tuple[str, str], ...] = (
    ("item_id", "項目ID"),
    ("platform", "媒体"),
    ("post_id", "投稿ID"),
    ("received_at", "受信日時"),
    ("reply", "返信"),
    ("flagged", "要注意"),
    ("review", "要確認（モデルのみ）"),
    ("categories", "分類"),
    ("review_categories", "要確認の分類"),
    ("clauses", "条項"),
    ("severity", "重大度"),
    ("decision", "対応"),
    ("decided_at", "対応日時"),
    ("decided_by_role", "対応者の役割"),
    ("waited_hours", "待ち時間（開庁時間・時間）"),
    ("status_now", "現在の状態"),
    ("excerpt", "抜粋（個人情報は伏せ字）"),
)


def summary_rows(report: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(section, item, value) for the key figures of every section."""
    v, f, d, t, q = (report[k] for k in ("volume", "flagged", "decisions", "timeliness", "quality"))
    rows: list[tuple[str, str, str]] = [("週", "対象期間", report["label"])]
    # "週末時点" figures of a week still in progress are as of the generation time (figures.py).
    at_end = "作成時点" if report.get("in_progress") else "週末時点"
    if report.get("in_progress"):
        rows.append(("週", "途中経過", f"作成時点 {report['generated_at']} の値"))
    rows.append(("受信", "受信コメント", str(v["received"])))
    rows += [("受信", PLATFORM_JA[p], str(v["by_platform"][p])) for p in PLATFORMS]
    rows += [
        ("受信", "直接のコメント", str(v["top_level"])),
        ("受信", "返信", str(v["replies"])),
        ("受信", "開庁時間外", str(v["outside_hours"])),
        ("要注意", "要注意コメント", str(f["count"])),
        ("要注意", "受信に占める割合", str(f["share"])),
    ]
    rows += [("要注意・分類", c["ja"], str(c["count"])) for c in f["by_category"]]
    rows += [("要注意・条項", c["clause"], str(c["count"])) for c in f["by_clause"]]
    rows += [("要注意・重大度", s, str(n)) for s, n in f["severity"].items()]
    if "review" in report:  # reports stored before 要確認 existed have no such figures
        rv = report["review"]
        rows += [
            ("要確認", "要確認コメント（要注意には含めない）", str(rv["count"])),
            ("要確認", "受信に占める割合", str(rv["share"])),
        ]
        rows += [("要確認・分類", c["ja"], str(c["count"])) for c in rv["by_category"]]
        rows += [("要確認・職員の対応", KIND_JA[k], str(n)) for k, n in rv["by_decision"].items()]
        rows += [
            ("要確認", "職員が対応", str(rv["acted"])),
            ("要確認", "投稿者・Metaにより削除", str(rv["removed_on_platform"])),
            ("要確認", f"{at_end}で未確認", str(rv["unreviewed_at_end"])),
        ]
    rows += [("対応", OUTCOME_JA[k], str(d[k])) for k in OUTCOMES]
    rows.append(("対応", f"{at_end}の未処理", str(d["pending_at_end"])))
    rows += [
        ("対応時間", "対応件数", str(t["decided"])),
        (
            "対応時間",
            "中央値（開庁時間・秒）",
            "" if t["median_seconds"] is None else str(t["median_seconds"]),
        ),
        (
            "対応時間",
            "90パーセンタイル（開庁時間・秒）",
            "" if t["p90_seconds"] is None else str(t["p90_seconds"]),
        ),
        ("精度", "問題なしの割合", str(q["dismissed_share"])),
        ("精度", "見逃し", str(q["missed"])),
    ]
    rows += [
        ("インシデント", name, str(len(report["incidents"][key])))
        for key, name in (
            ("impersonation", "なりすまし"),
            ("flares", "炎上の可能性"),
            ("emergency", "緊急モード"),
            ("token_expired", "トークン期限切れ"),
        )
    ]
    rows += [("職員", r["ja"], str(r["total"])) for r in report["staff"]["by_role"]]
    return rows


def write_summary(report: dict[str, Any], path: Path) -> None:
    with path.open("w", encoding="utf-8-sig", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(("区分", "項目", "値"))
        writer.writerows(summary_rows(report))


def write_comments(rows: list[dict[str, Any]], path: Path) -> None:
    with path.open("w", encoding="utf-8-sig", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(label for _, label in COMMENT_COLUMNS)
        for row in rows:
            writer.writerow(_cell(row[key]) for key, _ in COMMENT_COLUMNS)


def _cell(value: Any) -> str:
    if isinstance(value, bool):
        return "はい" if value else "いいえ"
    text = "" if value is None else str(value)
    # A cell starting with = + - @ would run as a formula in Excel; comment excerpts are user-written.
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text
