"""Merge every phase's evidence into one verdict (the last step of the pipeline)."""

from __future__ import annotations

from classifiers.categories import CATEGORIES, CATEGORY_NAMES, Severity
from classifiers.phases.context import Context
from classifiers.verdict import Match, Verdict

# A detector match below this score is kept as evidence but does not flag on its own.
MATCH_FLAG_SCORE = 0.5
DEFAULT_THRESHOLD = 0.5
_ACTION_RANK = {"none": 0, "review": 1, "hide": 2, "delete": 3}


def compose(ctx: Context) -> Verdict:
    matches: list[Match] = []
    model_scores: dict[str, float] = {}
    thresholds: dict[str, float] = {}
    cleared: set[str] = set()
    model_tokens: list[str] = []
    for ev in ctx.evidence:
        matches.extend(ev.matches)
        for cat, score in ev.scores.items():
            model_scores[cat] = max(model_scores.get(cat, 0.0), score)
        thresholds.update(ev.thresholds)
        cleared |= ev.cleared
        model_tokens.extend(ev.model_tokens)

    scores = {cat: model_scores.get(cat, 0.0) for cat in CATEGORY_NAMES}
    severity_by_cat: dict[str, Severity] = {}
    for m in matches:
        scores[m.category] = max(scores[m.category], m.score)
        if m.score >= MATCH_FLAG_SCORE:
            severity_by_cat[m.category] = max(severity_by_cat.get(m.category, Severity.NONE), m.severity)
    for cat, p in model_scores.items():
        if cat in cleared or cat in severity_by_cat:
            continue
        if p >= thresholds.get(cat, DEFAULT_THRESHOLD):
            severity_by_cat[cat] = CATEGORIES[cat].default_severity

    flagged_cats = sorted(severity_by_cat, key=lambda c: (-scores[c], c))
    severity = max(severity_by_cat.values(), default=Severity.NONE)
    action = "none"
    for cat in flagged_cats:
        candidate = CATEGORIES[cat].default_action
        if _ACTION_RANK[candidate] > _ACTION_RANK[action]:
            action = candidate
    clauses: list[str] = []
    for cat in flagged_cats:
        clauses.extend(c for c in CATEGORIES[cat].clauses if c not in clauses)
    return Verdict(
        flagged=bool(flagged_cats),
        categories=flagged_cats,
        scores=scores,
        severity=severity,
        clauses=clauses,
        action=action,
        matches=sorted(matches, key=lambda m: (m.start, m.end, m.rule_id)),
        model_tokens=model_tokens,
    )
