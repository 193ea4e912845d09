"""The shipped classifier on held-out sets it was never trained on (tests/data/eval_*.jsonl).

- eval_social.jsonl: comments in real social-media voice (news comments, X, Instagram, Facebook), about
  38 % toxic. The goal is judged on toxic-vs-clean F1 ("any" category): a flagged comment goes to staff
  review either way, and which of two overlapping categories a comment belongs to (a disability slur
  used as an insult: insult or discrimination?) is where annotators themselves disagree. Micro F1 over
  the categories is asserted too, as is a floor for each of the categories that make up most real
  toxic traffic.
- eval_evasion.jsonl: toxic comments spelled to dodge filters; recall counts any flagged category.
- eval_welfare.jsonl: kind, questioning or critical comments a welfare council's page gets, heavy on
  sensitive vocabulary; at most 1 in 50 may be flagged.
- eval_realvoice.jsonl: 499 comments (40 % toxic) written later by a separate author who never saw the
  corpus or the other sets, in the voice of crowd-annotated data: insults without swear words, net slang,
  self-deprecation, teasing, anger at things rather than people, quoted abuse reported in order to oppose
  it. Its misses were read when the stance cues (phases/_stance.py) were designed, so it flatters them.
- eval_crowd.jsonl: 450 comments (45 % toxic) by a third author who saw neither the corpus nor the other sets,
  in the voice of a crowd-annotated scrape (X replies, YouTube, news comment sections; a quarter of them 40-140
  characters). Scored before anything was tuned (toxic-vs-clean F1 0.918, then 0.931 with the wider corpus);
  its false positives were read once afterwards, for stance cues and welfare allow phrases.
- eval_evasion2.jsonl: 340 toxic comments with evasions inside whole sentences (ｸﾞｽﾞ, ○ね, ﾄｸﾃｲ完了, 5美), by a
  separate author. Scored first at recall 0.89; its misses were then read to add kana spellings and masks to
  the lexicon, so it is a development set now.
- eval_welfare_page.jsonl: 467 more comments a welfare council's page gets (elderly users typing in hiragana,
  山口弁, long personal stories, warnings that quote abuse or scams), by another separate author; all must
  pass. Scored first at 9 of 467 flagged (1.9 %); those nine were read to widen the stance cues, the welfare
  allow phrases and three lexicon exceptions.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from classifiers.model import TEXT_CATEGORIES
from classifiers.phases.normalise import normalise
from classifiers.pipeline import moderate
from classifiers.training import CORPUS_PATH, HELDOUT_DIR, read_rows, score_sets

REPO = Path(__file__).resolve().parents[2]
SOCIAL = HELDOUT_DIR / "eval_social.jsonl"
EVASION = HELDOUT_DIR / "eval_evasion.jsonl"
WELFARE = HELDOUT_DIR / "eval_welfare.jsonl"
REALVOICE = HELDOUT_DIR / "eval_realvoice.jsonl"
CROWD = HELDOUT_DIR / "eval_crowd.jsonl"
WELFARE_PAGE = HELDOUT_DIR / "eval_welfare_page.jsonl"
EVASION2 = HELDOUT_DIR / "eval_evasion2.jsonl"
# Categories that make up the bulk of real toxic comments, each with a regression floor below what the
# shipped model reaches (insult 0.83, discrimination 0.85, threat 0.98, illegal 0.90, obscene 0.89).
CATEGORY_FLOORS = {"insult": 0.78, "discrimination": 0.78, "threat": 0.85, "illegal": 0.80, "obscene": 0.80}


def _judge(path: Path) -> tuple[list[dict[str, Any]], list[list[str]]]:
    rows = read_rows(path)
    return rows, [[c for c in moderate(r["text"]).categories if c in TEXT_CATEGORIES] for r in rows]


@pytest.fixture(scope="module")
def social() -> dict[str, Any]:
    rows, predicted = _judge(SOCIAL)
    return score_sets([r["labels"] for r in rows], predicted, TEXT_CATEGORIES)


def test_sets_have_the_agreed_size_and_balance() -> None:
    social_rows, evasion_rows, welfare_rows = read_rows(SOCIAL), read_rows(EVASION), read_rows(WELFARE)
    assert len(social_rows) >= 400 and len(evasion_rows) >= 200 and len(welfare_rows) >= 300
    toxic_share = sum(1 for r in social_rows if r["labels"]) / len(social_rows)
    assert 0.30 <= toxic_share <= 0.40
    assert {c for r in social_rows for c in r["labels"]} == set(TEXT_CATEGORIES)
    assert all(r["labels"] for r in evasion_rows)
    assert not any(r["labels"] for r in welfare_rows)


def test_held_out_texts_are_not_in_the_training_corpus() -> None:
    # Compared after normalisation so a re-spelled copy counts as a copy too.
    corpus = {normalise(r["text"]).kana for r in read_rows(CORPUS_PATH)}
    for path in sorted(HELDOUT_DIR.glob("eval_*.jsonl")):
        leaked = [r["text"] for r in read_rows(path) if normalise(r["text"]).kana in corpus]
        assert not leaked, (path.name, leaked[:5])


def test_social_toxic_vs_clean_f1(social: dict[str, Any]) -> None:
    assert social["any"]["f1"] >= 0.70, social["any"]
    assert social["micro"]["f1"] >= 0.70, social["micro"]


@pytest.mark.parametrize(("category", "floor"), sorted(CATEGORY_FLOORS.items()))
def test_social_main_categories(social: dict[str, Any], category: str, floor: float) -> None:
    assert social["per_category"][category]["f1"] >= floor, social["per_category"][category]


@pytest.mark.parametrize(("path", "floor"), [(EVASION, 0.95), (EVASION2, 0.92)], ids=["evasion", "evasion2"])
def test_evasion_recall(path: Path, floor: float) -> None:
    rows, predicted = _judge(path)
    missed = [r["text"] for r, p in zip(rows, predicted, strict=True) if not p]
    assert 1 - len(missed) / len(rows) >= floor, missed


@pytest.mark.parametrize("path", [REALVOICE, CROWD], ids=lambda p: p.name)
def test_real_voice_toxic_vs_clean(path: Path) -> None:
    rows, predicted = _judge(path)
    scores = score_sets([r["labels"] for r in rows], predicted, TEXT_CATEGORIES)
    assert scores["any"]["f1"] >= 0.85, scores["any"]
    assert scores["clean_flag_rate"] <= 0.07, scores["clean_flag_rate"]


@pytest.mark.parametrize("path", [WELFARE, WELFARE_PAGE], ids=lambda p: p.name)
def test_welfare_flag_rate(path: Path) -> None:
    rows, predicted = _judge(path)
    flagged = [(r["text"], p) for r, p in zip(rows, predicted, strict=True) if p]
    assert len(flagged) / len(rows) <= 0.02, flagged


@pytest.mark.parametrize(
    ("original", "kana"),
    [
        ("し☆ね", "しね"),  # decorative symbol between letters
        ("き♡も♡い", "きもい"),
        ("し😊ね", "しね"),  # emoji between letters
        ("バァァカ", "ばか"),  # small vowel repeating the vowel before it
        ("しぃね", "しね"),
        ("きっっっも", "きっも"),  # doubled small tsu
        ("コ口ス", "ころす"),  # kanji 口 read as katakana ロ after katakana
        ("ク◯野郎", "く〇野郎"),  # letter masks fold to one form the lexicon spells out
    ],
)
def test_evasion_folds(original: str, kana: str) -> None:
    assert normalise(original).kana == kana


@pytest.mark.parametrize(
    "original", ["ファンです", "ティーカップ", "人口", "口コミ", "入口へ", "ありがとう😊また"]
)
def test_folds_leave_ordinary_spelling(original: str) -> None:
    n = normalise(original)
    assert n.text == original and len(n.kana) == len(n.text)


def test_model_card_reports_the_held_out_sets() -> None:
    card = (REPO / "models" / "MODEL_CARD.md").read_text(encoding="utf-8")
    assert "## Held-out sets" in card
    for path in (SOCIAL, EVASION, WELFARE, REALVOICE, CROWD, WELFARE_PAGE, EVASION2):
        assert f"| {path.name} |" in card


def test_sets_are_valid_jsonl() -> None:
    for path in (SOCIAL, EVASION, WELFARE, REALVOICE, CROWD, WELFARE_PAGE, EVASION2):
        for line in path.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            assert set(row) == {"text", "labels"} and row["text"].strip()
