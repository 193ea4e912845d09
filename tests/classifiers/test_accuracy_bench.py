"""bench/accuracy.py reads both set formats and reports what the issue asks of it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _write(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def test_both_formats_precision_recall_and_worst_lists(tmp_path: Path) -> None:
    own = _write(
        tmp_path / "own.jsonl",
        [
            {"text": "死ねクズ", "labels": ["insult"]},
            {"text": "今日は雨でした", "labels": []},
            {"text": "イベントの申込はどこからですか", "labels": []},
        ],
    )
    real = _write(
        tmp_path / "real.jsonl",
        [
            {"id": "a", "text": "殺すぞお前", "flagged": True, "category": "threat"},
            {"id": "b", "text": "いい天気だね", "flagged": False, "category": ""},
            {"id": "c", "text": "ありがとうございました", "flagged": True, "category": ""},
        ],
    )
    support = _write(
        tmp_path / "support.jsonl",
        [
            {"text": "もう死にたい、誰か助けて", "labels": [], "support_kind": "suicide"},
            {"text": "眠すぎて死ぬ", "labels": [], "support_kind": ""},
        ],
    )
    out = subprocess.run(
        [sys.executable, str(REPO / "bench" / "accuracy.py"), str(own), str(real), str(support), "--json"],
        check=True,
        capture_output=True,
        text=True,
    )
    results = json.loads(out.stdout)
    assert results["own.jsonl"]["recall"] == 1.0 and results["own.jsonl"]["clean_flagged"] == 0
    assert {"clean_review_share", "false_flags", "misses", "f1"} <= set(results["own.jsonl"])
    assert results["real.jsonl"]["toxic"] == 2 and results["real.jsonl"]["recall"] == 0.5
    # The row labelled toxic that passes is listed as a miss, for reading.
    assert [m["text"] for m in results["real.jsonl"]["misses"]] == ["ありがとうございました"]
    assert results["support.jsonl"]["support"] == {
        "in_need": 1,
        "recall": 1.0,
        "others": 1,
        "false_marks": 0.0,
        "kind_agreement": 1.0,
    }


def test_a_missing_set_is_a_clear_error(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, str(REPO / "bench" / "accuracy.py"), str(tmp_path / "nope.jsonl")],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 2 and "no such file" in out.stderr
