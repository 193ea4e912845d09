"""compose(): the clean-comment fast path gives exactly the verdict the full merge gives."""

from __future__ import annotations

from classifiers.categories import CATEGORY_NAMES, Severity
from classifiers.compose import _merge, compose
from classifiers.phases.context import Context, Evidence
from classifiers.pipeline import run_phases
from classifiers.verdict import Match, Verdict

COMMENTS = [
    "今日の講座、とても楽しかったです。ありがとうございました",
    "来週のサロンは何時からですか？",
    "",
    "死ね",
    "お前ほんとバカだな",
    "電話は090-1234-5678です",
    "副業で月収100万！LINE追加で",
    "障害者福祉の相談窓口はどこですか",
    "部落差別をなくす講演会に参加しました",
]


def test_fast_path_equals_full_merge() -> None:
    for ctx in run_phases((text, None) for text in COMMENTS):
        assert compose(ctx) == _merge(ctx), ctx.original


def test_no_evidence_is_a_clean_verdict_with_every_category() -> None:
    verdict = compose(Context(original="x"))
    assert verdict == Verdict(False, [], dict.fromkeys(CATEGORY_NAMES, 0.0), Severity.NONE, [], "none")
    assert list(verdict.scores) == list(CATEGORY_NAMES)


def test_a_model_score_at_its_threshold_still_flags() -> None:
    ctx = Context(original="x")
    ctx.evidence.append(Evidence(scores={"insult": 0.8}, thresholds={"insult": 0.8}))
    verdict = compose(ctx)
    assert verdict.flagged and verdict.categories == ["insult"]
    assert verdict == _merge(ctx)


def test_a_weak_match_takes_the_full_merge() -> None:
    ctx = Context(original="ab")
    ctx.evidence.append(Evidence(matches=[Match("spam:x", "spam", 0, 2, "ab", Severity.LOW, 0.3)]))
    verdict = compose(ctx)
    assert not verdict.flagged
    assert verdict.scores["spam"] == 0.3 and len(verdict.matches) == 1
