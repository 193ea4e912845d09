"""Merge every phase's evidence into one verdict (the last step of the pipeline)."""

from __future__ import annotations

import operator
from itertools import repeat

from classifiers.categories import CATEGORIES, CATEGORY_NAMES, Severity
from classifiers.phases.context import Context
from classifiers.verdict import Match, Verdict

# A detector match below this score is kept as evidence but does not flag on its own.
MATCH_FLAG_SCORE = 0.5
DEFAULT_THRESHOLD = 0.5
_ACTION_RANK = {"none": 0, "review": 1, "hide": 2, "delete": 3}
# Every category at 0, in CATEGORY_NAMES order: the scores of a verdict start as a copy of this.
_NO_SCORES = dict.fromkeys(CATEGORY_NAMES, 0.0)


def compose(ctx: Context) -> Verdict:
    evidence = ctx.evidence
    # Most traffic is clean: at most the model's evidence, with no match, nothing cleared and no score at
    # its threshold, needs none of the merging below (same result, a fraction of the cost).
    if not evidence:
        return Verdict(False, [], dict(_NO_SCORES), Severity.NONE, [], "none", [], [])
    disguised = ctx.normalised is not None and ctx.normalised.disguised
    if (
        not disguised
        and len(evidence) == 1
        and not evidence[0].matches
        and not evidence[0].cleared
        and not evidence[0].support_kind  # the support phase's evidence has no scores: it needs the merge
    ):
        ev = evidence[0]
        model_scores = ev.scores
        # The lowest cut-off that matters is 要確認's (the model's own where there is no policy); checked
        # over every category in one C-level pass (no Python loop per category).
        lowest = ev.review_thresholds or ev.thresholds
        cutoffs = map(lowest.get, model_scores, repeat(DEFAULT_THRESHOLD))
        if not any(map(operator.ge, model_scores.values(), cutoffs)):
            scores = dict(_NO_SCORES)
            scores.update(model_scores)  # probabilities are never below the 0 they replace
            return Verdict(False, [], scores, Severity.NONE, [], "none", [], list(ev.model_tokens))
    return _merge(ctx)


def _merge(ctx: Context) -> Verdict:
    matches: list[Match] = []
    model_scores: dict[str, float] = {}
    thresholds: dict[str, float] = {}
    alone: dict[str, float] = {}
    review: dict[str, float] = {}
    aimed: dict[str, float] = {}
    cleared: set[str] = set()
    model_tokens: list[str] = []
    support_kind = ""
    support_matches: list[Match] = []
    for ev in ctx.evidence:
        matches.extend(ev.matches)
        if ev.support_kind and not support_kind:
            support_kind, support_matches = ev.support_kind, ev.support_matches
        for cat, score in ev.scores.items():
            model_scores[cat] = max(model_scores.get(cat, 0.0), score)
        thresholds.update(ev.thresholds)
        alone.update(ev.alone_thresholds)
        review.update(ev.review_thresholds)
        aimed.update(ev.addressed_thresholds)
        cleared |= ev.cleared
        model_tokens.extend(ev.model_tokens)

    scores = {cat: model_scores.get(cat, 0.0) for cat in CATEGORY_NAMES}
    severity_by_cat: dict[str, Severity] = {}
    witnessed: set[str] = set()  # categories a rule or detector found something of, flagging or not
    for m in matches:
        scores[m.category] = max(scores[m.category], m.score)
        witnessed.add(m.category)
        if m.score >= MATCH_FLAG_SCORE:
            severity_by_cat[m.category] = max(severity_by_cat.get(m.category, Severity.NONE), m.severity)
    review_cats: list[str] = []
    # A disguised spelling (し ね, ぶ.ら.く) witnesses every category, as a rule hit witnesses its own.
    disguised = ctx.normalised is not None and ctx.normalised.disguised
    # So does a comment aimed at a person with a rough word (お前, こいつ).
    addressed = any(ev.addressed for ev in ctx.evidence)
    for cat, p in model_scores.items():
        if cat in cleared or cat in severity_by_cat:
            continue
        supported = thresholds.get(cat, DEFAULT_THRESHOLD)
        # The model alone is a weaker witness than a rule: it needs the policy's higher confidence.
        if disguised or cat in witnessed:
            cutoff = supported
        elif addressed:
            cutoff = aimed.get(cat, supported)
        else:
            cutoff = alone.get(cat, supported)
        if p >= cutoff:
            severity_by_cat[cat] = CATEGORIES[cat].default_severity
        elif p >= review.get(cat, cutoff):
            review_cats.append(cat)

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
        review_categories=[] if flagged_cats else sorted(review_cats, key=lambda c: (-scores[c], c)),
        needs_support=bool(support_kind),
        support_kind=support_kind,
        support_matches=support_matches,
    )
