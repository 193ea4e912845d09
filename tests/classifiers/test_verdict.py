"""Verdict.to_json: `shakyo-mod classify` prints it instead of json.dumps(to_dict()), so it must equal that."""

from __future__ import annotations

import json
import math

from hypothesis import given
from hypothesis import strategies as st

from classifiers import moderate
from classifiers.categories import CATEGORY_NAMES, Severity
from classifiers.verdict import Match, Verdict


def _dumps(verdict: Verdict) -> str:
    return json.dumps(verdict.to_dict(), ensure_ascii=False)


def test_to_json_of_real_verdicts() -> None:
    texts = [
        "今日の行事は楽しかったです",
        "お前ほんとバカだな",
        "電話は090-1234-5678、住所は美祢市大嶺町東分123です",
        "もう消えたい。死にたい",
        'Metaサポート: ページが停止されます https://meta-check.xyz "今すぐ"\n確認',
        "受け子募集 日当5万 テレグラムで連絡ください",
        "",
    ]
    verdicts = [moderate(t) for t in texts] + [moderate("DMください", author="美祢市社会福祉協議会")]
    assert any(v.matches for v in verdicts) and any(v.support_matches for v in verdicts)
    for verdict in verdicts:
        assert verdict.to_json() == _dumps(verdict)


# Scores as they come (0..1, on the edges of rounding to 4 places) and ones that never should (JSON's NaN).
_SCORES = st.one_of(
    st.floats(0.0, 1.0),
    st.sampled_from([0.0, -0.0, 1.0, 0.5, 5e-05, 4.9999e-05, 0.99995, 0.00015, 1e-300, -1e-9, 1.5, 1e20]),
    st.sampled_from([math.nan, math.inf, -math.inf]),
    st.floats(allow_nan=True, allow_infinity=True),
)
_TEXT = st.text(max_size=12)  # any code point: quotes, backslashes, controls, lone surrogates
_MATCHES = st.lists(
    st.builds(
        Match,
        rule_id=_TEXT,
        category=st.sampled_from(CATEGORY_NAMES),
        start=st.integers(0, 500),
        end=st.integers(0, 500),
        text=_TEXT,
        severity=st.sampled_from(Severity),
        score=_SCORES,
    ),
    max_size=3,
)


@given(
    flagged=st.booleans(),
    scores=st.dictionaries(st.sampled_from([*CATEGORY_NAMES, 'a"b\\c']), _SCORES),
    words=st.lists(_TEXT, max_size=3),
    severity=st.sampled_from(Severity),
    matches=_MATCHES,
    support_matches=_MATCHES,
    needs_support=st.booleans(),
)
def test_to_json_equals_json_dumps_of_to_dict(
    flagged: bool,
    scores: dict[str, float],
    words: list[str],
    severity: Severity,
    matches: list[Match],
    support_matches: list[Match],
    needs_support: bool,
) -> None:
    verdict = Verdict(
        flagged=flagged,
        categories=words,
        scores=scores,
        severity=severity,
        clauses=words[::-1],
        action=words[0] if words else "none",
        matches=matches,
        model_tokens=words,
        review_categories=words[1:],
        needs_support=needs_support,
        support_kind=words[-1] if words else "",
        support_matches=support_matches,
    )
    assert verdict.to_json() == _dumps(verdict)
