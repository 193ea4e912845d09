"""impersonation phase: an author name resembling the council's → impersonation (policy 4(3))."""

from __future__ import annotations

import pytest

from classifiers import moderate
from classifiers.config import DEFAULT_COUNCIL_NAMES
from classifiers.phases import impersonation, normalise, tokenise
from classifiers.phases.context import Context, Evidence


def _evidence(author: str | None, text: str = "いつもありがとうございます") -> list:
    ctx = Context(original=text, author=author)
    normalise.phase(ctx)
    tokenise.phase(ctx)
    ev = impersonation.phase(ctx)
    return ev.matches if ev is not None else []


IMPERSONATORS = [
    ("美祢市社会福祉協議会", 0.95),
    ("社会福祉法人 美祢市社会福祉協議会", 0.95),
    ("mineshakyo", 0.95),
    ("MINESHAKYO", 0.95),
    ("ｍｉｎｅｓｈａｋｙｏ", 0.95),
    ("mine.shakyo", 0.95),
    ("m1neshaky0", 0.95),
    ("美禰市社会福祉協議会", 0.95),
    ("mine_shakyo_official", 0.85),
    ("美祢市社協公式", 0.85),
    ("美祢市社協サポート", 0.85),
    ("【公式】美祢市社協", 0.85),
    ("mineshakyo.jp", 0.85),
    ("美祢社会福祉協議会", 0.95),  # without 市, as people often write it
    ("minesyakyo", 0.95),
    ("minesyakyou", 0.95),
    # Readings in kana and romaji, folded as above.
    ("みね社協", 0.95),
    ("ミネ社協", 0.95),
    ("美祢しゃきょう", 0.95),
    ("みねしゃきょう", 0.95),
    ("ミネシャキョー", 0.95),
    ("美祢市しゃきょう", 0.95),
    ("mine shakyo", 0.95),
    ("Mine Syakyo", 0.95),
    ("みね市社会福祉協議会", 0.95),
    ("みねししゃかいふくしきょうぎかい", 0.95),
    ("mineshi shakaifukushi kyogikai", 0.95),
    ("みね社協公式", 0.85),
    ("【公式】ミネシャキョウ", 0.85),
    ("minesyakyo_official", 0.85),
    ("美祢市社会福祉協議", 0.7),  # a configured spelling one character short
]


@pytest.mark.parametrize(("author", "score"), IMPERSONATORS)
def test_flags_names_resembling_the_council(author: str, score: float) -> None:
    (m,) = _evidence(author)
    assert m.rule_id == "imp:name" and m.category == "impersonation"
    assert m.score == score
    # Author evidence has no span in the comment text (documented in the module).
    assert (m.start, m.end, m.text) == (0, 0, "")


@pytest.mark.parametrize(
    "author",
    [
        "山口県社会福祉協議会",
        "長門市社会福祉協議会",
        "下関市社協",
        "美祢市役所",
        "山田太郎",
        "mine",
        "美祢",
        "社協ファン",
        "mineral_water",
        "",
        # Ordinary names that share a reading's sounds: only the configured spellings are compared loosely.
        "峰さん",
        "みねこ",
        "ミネ",
        "峰社長",
        "みねしゃちょう",
        "しゃきょう",
        "写経",
        "美祢太郎",
        "mine_chan",
    ],
)
def test_other_names_pass(author: str) -> None:
    assert _evidence(author) == []


def test_no_author_no_evidence() -> None:
    assert _evidence(None) == []


def test_names_come_from_the_configured_list() -> None:
    assert impersonation.resemblance("example_welfare_official", ("Example Welfare",)) == 0.85
    assert impersonation.resemblance("example_welfare_official", DEFAULT_COUNCIL_NAMES) == 0.0


def test_readings_of_a_configured_name() -> None:
    assert impersonation.readings("美祢社協") == [
        "美祢社協",
        "美祢しゃきょう",
        "みね社協",
        "みねしゃきょう",
        "mineshakyo",
        "mineshakyou",
        "minesyakyo",
        "minesyakyou",
    ]
    assert impersonation.readings("Example Welfare") == ["Example Welfare"]
    # A name from SHAKYO_COUNCIL_NAMES gets the readings of its parts too.
    assert impersonation.resemblance("みねふくし", ("美祢ふくし",)) == 0.95


# ---- a warning about impersonation is not impersonation -----------------------------------------------

WARNINGS = [
    (None, "社協をかたる偽アカウントに注意してください"),
    (None, "なりすましアカウントがあります、本物はこちらのページだけです"),
    ("山田花子", "美祢市社協の偽アカウントが出回っています。DMには返信しないでください"),
    ("山田花子", "偽の社協アカウントから友達申請が来ました。皆さん気をつけて"),
    # The author's name says it too, or the author is a member of staff under the council's name.
    ("美祢市社協の偽アカウントに注意", "社協をかたる偽アカウントに注意"),
    ("美祢市社協 なりすまし注意喚起", "いつもの社協のページ以外は偽物です。相手にしないでください"),
    ("美祢市社協 職員 山田", "なりすましアカウントがあります、本物はこちらのページだけです"),
]


def _phase(author: str | None, text: str) -> Evidence | None:
    ctx = Context(original=text, author=author)
    normalise.phase(ctx)
    tokenise.phase(ctx)
    return impersonation.phase(ctx)


@pytest.mark.parametrize(("author", "text"), WARNINGS)
def test_a_warning_about_impersonation_clears_it(author: str | None, text: str) -> None:
    ev = _phase(author, text)
    assert ev is not None and ev.matches == []
    # The model reads 偽アカウント and 本物 as the fraud warned about: it may not flag either category.
    assert ev.cleared == {"impersonation", "security"}


@pytest.mark.parametrize(("author", "text"), WARNINGS)
def test_a_warning_about_impersonation_is_not_flagged(author: str | None, text: str) -> None:
    verdict = moderate(text, author=author)
    assert "impersonation" not in verdict.categories and "security" not in verdict.categories


@pytest.mark.parametrize(
    ("author", "text"),
    [
        ("美祢市社協公式", "当選しました、DMで口座を教えてください"),
        # An impersonator who warns about fakes while asking for something is still one.
        ("美祢市社協公式", "偽アカウントに注意！当選した方はDMで口座を教えてください"),
        ("みね社協", "なりすましにご注意ください。本物はこちら https://mine-shakyo.example/"),
        ("美祢市社協", "旧アカウントは偽物です。こちらの新しいアカウントに移行しました"),
        ("美祢市社協", "他のアカウントは偽物に注意、私が本物です"),
        ("美祢市社協（偽物ではありません）", "いつもありがとうございます"),
    ],
)
def test_impersonators_still_flag(author: str, text: str) -> None:
    verdict = moderate(text, author=author)
    assert "impersonation" in verdict.categories
    assert any(m.rule_id == "imp:name" for m in verdict.matches)


def test_a_warning_with_a_link_or_a_scam_clears_nothing() -> None:
    assert _phase(None, "なりすましに注意！本物はこちら https://mine-shakyo.example/") is None
    assert _phase(None, "偽アカウントに注意、当選のお知らせはDMで") is None
