"""Corpus requirements, threshold choice, reproducible training and evaluation."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from classifiers.categories import CATEGORY_NAMES
from classifiers.model import TEXT_CATEGORIES, load
from classifiers.scorer import load_scorer, scorer_path
from classifiers.training import (
    CORPUS_PATH,
    PRECISION_FLOOR,
    _is_welfare,
    choose_thresholds,
    evaluate,
    read_rows,
    train,
)


@pytest.fixture(scope="module")
def corpus() -> list[dict]:
    return read_rows(CORPUS_PATH)


def test_corpus_requirements(corpus: list[dict]) -> None:
    texts = [r["text"] for r in corpus]
    assert len(corpus) >= 3000
    assert len(set(texts)) == len(texts)
    clean = [r for r in corpus if not r["labels"]]
    assert len(clean) >= 1500
    counts = Counter(label for r in corpus for label in r["labels"])
    for cat in CATEGORY_NAMES:
        if cat != "impersonation":
            assert counts[cat] >= 150, cat
    # The welfare vocabulary used kindly must be well represented among clean rows.
    assert sum(1 for r in clean if _is_welfare(r["text"])) >= 200
    for word in ("障害者", "生活保護", "部落差別", "在日外国人", "薬物乱用防止", "自殺予防", "認知症"):
        assert any(word in r["text"] for r in clean), word


def test_corpus_is_generated_from_sources() -> None:
    from classifiers.data.corpus_src.build import build

    rows = build()
    written = [json.loads(line) for line in CORPUS_PATH.read_text(encoding="utf-8").splitlines()]
    assert rows == written


def test_thresholds_respect_the_precision_floor() -> None:
    rng = np.random.default_rng(0)
    y = (rng.random((400, len(TEXT_CATEGORIES))) < 0.2).astype(np.int64)
    probs = np.clip(y * 0.6 + rng.random(y.shape) * 0.5, 0, 1)
    thresholds = choose_thresholds(y, probs)
    for j, cat in enumerate(TEXT_CATEGORIES):
        flagged = probs[:, j] >= thresholds[cat]
        precision = y[flagged, j].mean()
        assert precision >= PRECISION_FLOOR, cat
        assert flagged.sum() > 0


def _small_corpus(corpus: list[dict], path: Path) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in corpus[::4]), encoding="utf-8")
    return path


@pytest.mark.slow
def test_training_is_reproducible(
    corpus: list[dict], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1764000000")
    small = _small_corpus(corpus, tmp_path / "small.jsonl")
    a = train(out_dir=tmp_path / "a", corpus=small, folds=3)
    b = train(out_dir=tmp_path / "b", corpus=small, folds=3)
    assert a["cv"] == b["cv"]
    assert a["version"] == b["version"]
    assert (tmp_path / "a" / "MODEL_CARD.md").read_text() == (tmp_path / "b" / "MODEL_CARD.md").read_text()
    probe = [r["text"] for r in corpus[1::50]]
    ma, mb = load(tmp_path / "a" / "comment_model.skops"), load(tmp_path / "b" / "comment_model.skops")
    np.testing.assert_array_equal(ma.predict_proba(probe), mb.predict_proba(probe))
    assert ma.thresholds_ == a["thresholds"]
    # Training also writes the scorer moderation loads, compiled from that very skops file.
    model_file = tmp_path / "a" / "comment_model.skops"
    scorer = load_scorer(scorer_path(model_file), model_file)
    assert a["scorer_path"] == str(scorer_path(model_file))
    assert scorer.metadata["version"] == a["version"]
    assert np.max(np.abs(scorer.predict_proba(probe) - ma.predict_proba(probe))) < 1e-6
    card = (tmp_path / "a" / "MODEL_CARD.md").read_text()
    assert "out-of-fold" in card and "impersonation" in card


@pytest.mark.slow
def test_staff_decisions_give_before_and_after(corpus: list[dict], tmp_path: Path) -> None:
    small = _small_corpus(corpus, tmp_path / "small.jsonl")
    decisions = [{"text": "窓口のあのおばはん感じ悪すぎ消えてほしい", "labels": ["insult"]}]
    result = train(decisions=decisions, out_dir=tmp_path / "m", corpus=small, folds=3)
    assert set(result) >= {"before", "after", "cv", "thresholds", "version"}
    assert result["after"]["model"]["rows"] == result["before"]["model"]["rows"] + 1


def test_evaluate_reports_per_category_and_clean_flag_rate(tmp_path: Path) -> None:
    path = tmp_path / "eval.jsonl"
    rows = [
        {"text": "明日事務所に火つけてやるからな", "labels": ["threat"]},
        {"text": "ふれあいサロンの日程を教えてください", "labels": []},
        {"text": "いつもありがとうございます", "labels": []},
    ]
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    metrics = evaluate(path)
    assert metrics["rows"] == 3
    assert metrics["clean_rows"] == 2
    assert metrics["clean_flag_rate"] == 0.0
    assert metrics["per_category"]["threat"]["recall"] == 1.0
    assert {"micro", "macro", "any"} <= set(metrics)
