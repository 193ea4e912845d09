"""impersonation phase: an author name resembling the council's → impersonation (policy 4(3))."""

from __future__ import annotations

import pytest

from classifiers.config import DEFAULT_COUNCIL_NAMES
from classifiers.phases import impersonation, normalise, tokenise
from classifiers.phases.context import Context


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
    ("美祢社会福祉協議会", 0.7),
    ("minesyakyo", 0.7),
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
    ],
)
def test_other_names_pass(author: str) -> None:
    assert _evidence(author) == []


def test_no_author_no_evidence() -> None:
    assert _evidence(None) == []


def test_names_come_from_the_configured_list() -> None:
    assert impersonation.resemblance("example_welfare_official", ("Example Welfare",)) == 0.85
    assert impersonation.resemblance("example_welfare_official", DEFAULT_COUNCIL_NAMES) == 0.0
