"""Rule words that are mentioned, aimed at the writer or used in teasing: kept as evidence, not flagged."""

from __future__ import annotations

import pytest

from classifiers import moderate
from classifiers.phases.lexicon_rules import MENTION_SCORE, find_matches
from classifiers.phases.normalise import normalise
from classifiers.phases.tokenise import tokenise


def _lexicon(text: str) -> tuple[list[tuple[str, float]], set[str]]:
    norm = normalise(text)
    matches, cleared = find_matches(norm, tokenise(norm.text))
    return [(m.category, m.score) for m in matches], cleared


@pytest.mark.parametrize(
    ("text", "category"),
    [
        # Quoted abuse, reported in order to oppose it.
        ("近所の子が「ガイジ」って言われてたって聞いて悲しい", "discrimination"),
        ("「国に帰れ」と書かれた貼り紙、ひどいと思う", "discrimination"),
        ("「死ね」とか平気で書く人いるけど、言われた側は傷ついてるよ", "insult"),
        # A warning that names the scam without running it.
        ("「即日高収入」の求人は闇バイトです。応募しないでください", "illegal"),
        ("闇バイトの勧誘DMが来たら相談してね、気をつけて", "illegal"),
        # The writer calls themself names.
        ("僕ってほんとアホやな、財布忘れた", "insult"),
        ("わたしバカすぎて笑う", "insult"),
        # Teasing among warmth.
        ("ばかだなぁ、でも大好きだよ", "insult"),
    ],
)
def test_mentions_are_kept_below_the_flag_line(text: str, category: str) -> None:
    matches, cleared = _lexicon(text)
    assert (category, MENTION_SCORE) in matches
    assert all(score == MENTION_SCORE for cat, score in matches if cat == category)
    assert category in cleared
    assert category not in moderate(text).categories


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("「死ね」", "insult"),  # a quote alone is no report
        ("「国に帰れ」って言ってやった", "discrimination"),  # reported, but nothing opposes it
        ("お前「国に帰れ」ってマジで思うわ、外国人は出ていけ", "discrimination"),  # attack outside the quote
        ("闇バイト募集、高収入即日、DMください", "illegal"),  # no warning at all
        ("俺から言わせればお前はバカ", "insult"),  # another person is there
        ("私立の学校ってバカばっかり", "insult"),  # 私 inside 私立 is no first person
        ("俺が死ねって言ってんだよ", "insult"),  # a high insult is never softened
        ("ブスのくせに好きとか言うな", "insult"),  # medium insults are not teasing
    ],
)
def test_attacks_stay_flagged(text: str, category: str) -> None:
    matches, cleared = _lexicon(text)
    assert (category, 1.0) in matches
    assert category not in cleared
    assert category in moderate(text).categories
