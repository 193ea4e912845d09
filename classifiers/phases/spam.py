"""Phase 7: advertising and spam → ``spam`` (2(7)ケ, the terms of use).

Get-rich offers (副業で月収100万), investment pitches (必ず儲かる, 元本保証, LINE追加で) and follow-bait
(フォロバ100, 相互フォロー, プロフ見て). Cue phrases in ``data/detect_phrases.tsv`` are grouped; a score is the
sum of each group's strongest cue, plus an amount of money when other cues promise it. So 投資 or
プロフィールのリンク alone (ordinary in a welfare council's comments) stays below the flag line while cues in
combination flag. Council talk about 寄付, 共同募金 or バザーの売上 has no cue at all, and a comment warning
about such offers (「必ず儲かる」は詐欺です) is halved like in the phishing phase.
"""

from __future__ import annotations

import re

from classifiers.categories import Severity
from classifiers.phases._detect import PhraseIndex, group_score, load_phrases, match_at
from classifiers.phases.context import Context, Evidence
from classifiers.phases.links import find_urls
from classifiers.phases.phishing import outermost
from classifiers.verdict import Match

CATEGORY = "spam"

_INDEX = PhraseIndex(load_phrases("spam"))
_WARNINGS = PhraseIndex(load_phrases("warning"))

# Money promised per period (月収100万, 日給3万, 1日で5万円) or earned (30万円稼いだ), in Normalised.text.
_AMOUNT_RE = re.compile(
    r"(?:月収|月給|日給|日収|年収|月に|月で|1日で|1日に)\d+(?:\.\d+)?(?:万|億)"
    r"|(?<![0-9.])\d+(?:万|億)円?(?:以上)?(?:稼|の副収入|の不労所得|の利益)"
)
_DIGIT_RE = re.compile(r"\d")  # every amount has a digit; most comments have none
_AMOUNT_WEIGHT = 0.3
_LINK_BONUS = 0.1
_WARNING_FACTOR = 0.5
_REPORT_FLOOR = 0.3


def detect(ctx: Context) -> list[Match]:
    norm = ctx.normalised
    if norm is None:
        return []
    hits = _INDEX.find(norm.kana)
    amounts = list(_AMOUNT_RE.finditer(norm.text)) if _DIGIT_RE.search(norm.text) else []
    if not hits and not amounts:
        return []
    # An amount of money alone is ordinary (月収10万で生活が苦しい); it only adds to other cues.
    score = group_score(hits) + (_AMOUNT_WEIGHT if amounts and hits else 0.0)
    if score >= 0.2 and find_urls(ctx.original):
        score += _LINK_BONUS
    if score >= _REPORT_FLOOR and _WARNINGS.find(norm.kana):
        score *= _WARNING_FACTOR
    if score < _REPORT_FLOOR:
        return []
    score = min(score, 0.95)
    # Spam is the mildest category (hide, not delete); only a pile of cues raises it above low.
    severity = Severity.MEDIUM if score >= 0.7 else Severity.LOW
    matches = [
        match_at(ctx, norm, h.start, h.end, f"spam:{h.phrase.group}", CATEGORY, severity, score)
        for h in outermost(hits)
    ]
    matches.extend(
        match_at(ctx, norm, m.start(), m.end(), "spam:amount", CATEGORY, severity, score) for m in amounts
    )
    return matches


def phase(ctx: Context) -> Evidence | None:
    matches = detect(ctx)
    return Evidence(matches=matches) if matches else None
