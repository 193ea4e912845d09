"""Normalisation: folding, evasion undoing, the offset map, and never crashing on any Unicode."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from classifiers.phases.context import Context
from classifiers.phases.normalise import Normalised, evasion_variants, normalise, phase


@pytest.mark.parametrize(
    ("original", "text", "kana"),
    [
        ("ＢＡＫＡ", "baka", "baka"),  # full width and case
        ("ﾊﾞｶ", "バカ", "ばか"),  # half-width katakana with a voiced mark composes
        ("ｼﾈ", "シネ", "しね"),
        ("ばーーーか", "ばか", "ばか"),  # long-vowel stretch
        ("ばーか", "ばか", "ばか"),  # one mark after hiragana is a stretch
        ("コーヒー", "コーヒー", "こーひー"),  # one mark after katakana is spelling
        ("しねねねね", "しね", "しね"),  # runs of three or more collapse
        ("しねしねしね", "しねしねしね", "しねしねしね"),  # a repeated word is left alone
        ("し ね", "しね", "しね"),
        ("し.ね", "しね", "しね"),
        ("し・ね", "しね", "しね"),
        ("し_ね", "しね", "しね"),
        ("し\u200bね", "しね", "しね"),
        ("し\ufeffね", "しね", "しね"),
        ("し\u0338ね", "しね", "しね"),  # combining mark dropped
        ("こ ろ す", "ころす", "ころす"),
        ("b a k a", "baka", "baka"),
        ("氏ね", "死ね", "死ね"),
        ("ﾀﾋね", "死ね", "死ね"),
        ("タヒんでくれ", "死んでくれ", "死んでくれ"),
        ("4ね", "死ね", "死ね"),
        ("市ね", "死ね", "死ね"),
    ],
)
def test_folds_evasions(original: str, text: str, kana: str) -> None:
    n = normalise(original)
    assert (n.text, n.kana) == (text, kana)


@pytest.mark.parametrize(
    "original",
    [
        "田中氏ねえ",  # 氏 as an honorific after a name
        "美祢市ね、いいところ",  # 市 as part of the city name
        "14ね",  # 4 inside a number
        "しね しね",  # two spaced words are not glued
        "I am a fool",  # English keeps its spaces
        "090 1234 5678",  # numbers keep theirs
    ],
)
def test_leaves_ordinary_text(original: str) -> None:
    n = normalise(original)
    assert "死" not in n.text
    assert (" " in n.text) == (" " in original)


def test_kana_has_text_length_and_folds_katakana() -> None:
    n = normalise("シネマとカタカナ、ヴァイオリン")
    assert len(n.kana) == len(n.text)
    assert n.kana == "しねまとかたかな、ゔぁいおりん"


def test_span_covers_inserted_separators() -> None:
    original = "お前 し.ね\u200bよ"
    n = normalise(original)
    start = n.kana.index("しね")
    s, e = n.span(start, start + 2)
    assert original[s:e] == "し.ね"
    s, e = n.span(start, start + 3)
    assert original[s:e] == "し.ね\u200bよ"


def test_span_of_substitution_and_composition() -> None:
    original = "おいﾀﾋね"
    n = normalise(original)
    i = n.text.index("死ね")
    assert n.span(i, i + 2) == (2, 5)
    n = normalise("ﾊﾞｶだ")
    assert n.span(0, 2) == (0, 3)


def test_identity_map_for_clean_text() -> None:
    original = "今日の講演会とても良かったです。"
    n = normalise(original)
    assert n.text == original
    assert n.span(3, 6) == (3, 6)
    assert n.span(5, 5) == (5, 5)


def test_emoji_are_kept() -> None:
    n = normalise("ありがとう😊👍")
    assert "😊" in n.text and "👍" in n.text


def test_phase_sets_normalised() -> None:
    ctx = Context(original="ＢＡＫＡ")
    assert phase(ctx) is None
    assert isinstance(ctx.normalised, Normalised)
    assert ctx.normalised.text == "baka"


@pytest.mark.parametrize(
    "word", ["死ね", "しね", "ばか", "バカ", "ころす", "ガイジ", "baka", "お前死ね", "キモい"]
)
def test_evasion_variants_fold_back(word: str) -> None:
    rng = random.Random(7)
    target = normalise(word).kana
    for _ in range(5):
        variants = evasion_variants(word, rng)
        assert variants and word not in variants
        for v in variants:
            assert target in normalise(v).kana, (word, v)


def test_evasion_variants_include_known_forms() -> None:
    seen: set[str] = set()
    rng = random.Random(1)
    for _ in range(40):
        seen.update(evasion_variants("死ね", rng))
    assert {"死ﾈ", "氏ね", "ﾀﾋね", "タヒね", "4ね", "市ね"} <= seen
    assert any(
        "\u200b" in v or "\u200c" in v or "\u2060" in v or "\ufeff" in v or "\u200d" in v for v in seen
    )
    assert evasion_variants("", rng) == []


@settings(max_examples=400, deadline=None)
@given(st.text())
def test_never_crashes_and_spans_stay_inside(original: str) -> None:
    n = normalise(original)
    assert len(n.kana) == len(n.text)
    length = len(n.text)
    for start, end in ((0, length), (0, length // 2), (length // 3, length), (length, length)):
        s, e = n.span(start, end)
        assert 0 <= s <= e <= len(original)
    for i in range(length):
        s, e = n.span(i, i + 1)
        assert 0 <= s < e <= len(original)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from("しねばかー 　.・_\u200b\u200dｼﾈﾞ氏4タヒ市ー〜~ab1")))
def test_spans_are_monotonic_on_evasion_alphabet(original: str) -> None:
    n = normalise(original)
    prev_end = 0
    for i in range(len(n.text)):
        s, e = n.span(i, i + 1)
        assert s >= 0 and e <= len(original) and s < e
        assert e >= prev_end
        prev_end = e
