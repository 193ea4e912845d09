"""Phase 6: phishing aimed at the page's admins and readers → ``security`` (2(7)ウ).

Two shapes are common on Facebook and Instagram pages: "your page broke the community standards and will
be disabled within 24 hours; appeal here", and messages posing as Meta/Facebook support that ask for
login details or a 2-step code. Cue phrases (``data/detect_phrases.tsv``) fall into groups (violation,
loss, deadline, appeal, action, sender, credential, request); only groups in combination reach the flag
line, so a lone 確認 or 認証 never flags. A link in the comment adds to the score, and a comment that warns
about such scams (詐欺にご注意ください) is halved.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from classifiers.categories import Severity
from classifiers.phases._detect import Hit, PhraseIndex, group_score, load_phrases, match_at
from classifiers.phases.context import Context, Evidence
from classifiers.phases.links import find_urls
from classifiers.verdict import Match

CATEGORY = "security"

_INDEX = PhraseIndex(load_phrases("phishing"))
_WARNINGS = PhraseIndex(load_phrases("warning"))

# A credential word followed closely, in the same sentence, by a request verb is a request for it
# (パスワードを教えてください, 認証コードをこちらに入力してください).
_CREDENTIAL_REQUEST_GAP = 15
_SENTENCE_END = re.compile(r"[。！？!?\n]")
_CREDENTIAL_REQUEST_BONUS = 0.2
_LINK_BONUS = 0.15
_WARNING_FACTOR = 0.5
# Below this nothing is reported; between it and 0.5 the matches are review evidence only.
_REPORT_FLOOR = 0.3


def outermost(hits: Sequence[Hit]) -> list[Hit]:
    """Hits not contained in a longer hit (アカウントが停止 inside アカウントが停止されます is one cue)."""
    kept: list[Hit] = []
    reach = -1
    for h in sorted(hits, key=lambda h: (h.start, -h.end)):
        if h.end <= reach:
            continue
        kept.append(h)
        reach = h.end
    return kept


def severity_for(score: float) -> Severity:
    return Severity.HIGH if score >= 0.7 else Severity.MEDIUM if score >= 0.5 else Severity.LOW


def score_hits(ctx: Context, hits: Sequence[Hit]) -> float:
    """The combined score of ``hits`` (see the module docstring), before the report floor."""
    score = group_score(hits)
    credentials = [h for h in hits if h.phrase.group == "credential"]
    requests = [h for h in hits if h.phrase.group == "request"]
    kana = ctx.normalised.kana if ctx.normalised is not None else ""
    if any(
        0 <= r.start - c.end <= _CREDENTIAL_REQUEST_GAP and _SENTENCE_END.search(kana, c.end, r.start) is None
        for c in credentials
        for r in requests
    ):
        score += _CREDENTIAL_REQUEST_BONUS
    if score >= 0.2 and find_urls(ctx.original):
        score += _LINK_BONUS
    return score


def detect(ctx: Context) -> list[Match]:
    norm = ctx.normalised
    if norm is None:
        return []
    hits = _INDEX.find(norm.kana)
    if not hits:
        return []
    score = score_hits(ctx, hits)
    if score >= _REPORT_FLOOR and _WARNINGS.find(norm.kana):
        score *= _WARNING_FACTOR
    if score < _REPORT_FLOOR:
        return []
    score = min(score, 0.95)
    severity = severity_for(score)
    return [
        match_at(ctx, norm, h.start, h.end, f"phish:{h.phrase.group}", CATEGORY, severity, score)
        for h in outermost(hits)
    ]


def phase(ctx: Context) -> Evidence | None:
    matches = detect(ctx)
    return Evidence(matches=matches) if matches else None
