"""spam phase: get-rich, investment and follow-bait → spam, by combination of cues."""

from __future__ import annotations

import pytest

from classifiers.phases import normalise, spam, tokenise
from classifiers.phases.context import Context
from classifiers.verdict import Match


def _matches(text: str) -> list[Match]:
    ctx = Context(original=text)
    normalise.phase(ctx)
    tokenise.phase(ctx)
    ev = spam.phase(ctx)
    matches = ev.matches if ev is not None else []
    for m in matches:
        assert m.category == "spam"
        assert 0 <= m.start < m.end <= len(text)
        assert m.text == text[m.start : m.end]
    return matches


def _score(text: str) -> float:
    return max((m.score for m in _matches(text)), default=0.0)


SPAM = [
    "副業で月収100万達成！",
    "在宅で簡単に稼げる方法教えます",
    "誰でも稼げる",
    "投資で必ず儲かる！元本保証、LINE追加で",
    "仮想通貨で資産運用しませんか？詳しくはDMください",
    "フォロバ100%",
    "相互フォロー希望です！プロフ見てね",
    "FXで月に30万稼いでます",
    "スマホ1台で不労所得！ 詳細はプロフのリンクから",
    "ｆｏｌｌｏｗ4ｆｏｌｌｏｗ",
]


@pytest.mark.parametrize("text", SPAM)
def test_flags_spam(text: str) -> None:
    assert _score(text) >= 0.5, _matches(text)


BENIGN = [
    "ボランティア募集、詳しくはプロフィールのリンクから",
    "寄付のお願い",
    "赤い羽根共同募金にご協力ください",
    "バザーの売上は3万円でした",
    "地域への投資が大切だと思います",
    "月3万円の年金で暮らしています",
    "月収10万で生活が苦しいです。相談に乗ってください",
    "「必ず儲かる」「元本保証」という勧誘は詐欺です。ご注意ください",
    "副業の相談窓口はありますか",
    "フォローしました！これからも楽しみにしています",
    "詳しくは社協のホームページをご覧ください",
]


@pytest.mark.parametrize("text", BENIGN)
def test_benign_text_is_not_flagged(text: str) -> None:
    assert _score(text) < 0.5, _matches(text)


def test_single_weak_cue_leaves_no_evidence() -> None:
    assert _matches("投資") == []
    assert _matches("プロフィールのリンクから") == []


def test_cues_combine() -> None:
    assert _score("副業") < 0.5
    assert _score("副業で月収100万") >= 0.5
    assert _score("副業で月収100万、LINE追加で") > _score("副業で月収100万")


def test_amount_alone_leaves_no_evidence() -> None:
    assert _matches("月収100万") == []


def test_amount_is_highlighted() -> None:
    text = "副業で月収100万達成！"
    assert {m.text for m in _matches(text)} >= {"副業", "月収100万"}
