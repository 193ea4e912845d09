"""Merge every phase's evidence into one verdict (the last step of the pipeline)."""

from __future__ import annotations

import operator
from itertools import compress, repeat

from classifiers.categories import CATEGORIES, CATEGORY_NAMES, Severity
from classifiers.phases.context import Context, Evidence
from classifiers.verdict import Match, Verdict

# A detector match below this score is kept as evidence but does not flag on its own.
MATCH_FLAG_SCORE = 0.5
DEFAULT_THRESHOLD = 0.5
_ACTION_RANK = {"none": 0, "review": 1, "hide": 2, "delete": 3}
_NONE = Severity.NONE  # looked up once: an enum member read through its class costs about a microsecond
# Every category at 0, in CATEGORY_NAMES order: the scores of a verdict start as a copy of this.
_NO_SCORES = dict.fromkeys(CATEGORY_NAMES, 0.0)


def compose(ctx: Context) -> Verdict:
    evidence = ctx.evidence
    # Most traffic is clean: at most the model's evidence, with no match, nothing cleared and no score at
    # its threshold, needs none of the merging below (same result, a fraction of the cost).
    if not evidence:
        return Verdict(False, [], dict(_NO_SCORES), _NONE, [], "none", [], [])
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
        lowest = ev.lowest_thresholds or ev.thresholds
        cutoffs = map(lowest.get, model_scores, repeat(DEFAULT_THRESHOLD))
        if not any(map(operator.ge, model_scores.values(), cutoffs)):
            scores = dict(_NO_SCORES)
            scores.update(model_scores)  # probabilities are never below the 0 they replace
            return Verdict(False, [], scores, _NONE, [], "none", [], list(ev.model_tokens))
    return _merge(ctx)


# The categories whose words a person in crisis uses of themself.
CRISIS_WORDS = frozenset({"insult", "threat"})


def crisis_spans(evidence: list[Evidence]) -> list[tuple[int, int]]:
    """Where the writer speaks of their own crisis (死んでお詫びするしかない, 消えたい): the support cue's spans.
    None when the comment is aimed at a person with a rough word (お前が死んでお詫びしろ): then they attack."""
    if any(ev.addressed for ev in evidence):
        return []
    return [(m.start, m.end) for ev in evidence for m in ev.support_matches]


def outside_crisis(matches: list[Match], spans: list[tuple[int, int]]) -> list[Match]:
    """``matches`` without the insult or threat words inside the writer's own crisis (no attack on anyone)."""
    if not spans:
        return matches
    return [
        m
        for m in matches
        if m.category not in CRISIS_WORDS or not any(s < m.end and m.start < e for s, e in spans)
    ]


def _merge(ctx: Context) -> Verdict:
    matches: list[Match] = []
    model: Evidence | None = None  # the model phase's evidence (probabilities and cut-offs)
    cleared: set[str] = set()
    model_tokens: list[str] = []
    support_kind = ""
    support_matches: list[Match] = []
    for ev in ctx.evidence:
        if ev.matches:
            matches.extend(ev.matches)
        if ev.scores:
            model = ev
        if ev.cleared:
            cleared |= ev.cleared
        if ev.model_tokens:
            model_tokens.extend(ev.model_tokens)
        if ev.support_kind and not support_kind:
            support_kind, support_matches = ev.support_kind, ev.support_matches
    addressed = any(ev.addressed for ev in ctx.evidence)

    # A writer in crisis uses the words of abuse about themself: where an insult or threat lies inside the
    # crisis cue's own span, or only the model reads one in it, it is no attack on anyone. Abuse elsewhere in
    # the same comment still flags (a comment can be both).
    crisis = crisis_spans(ctx.evidence)
    matches = outside_crisis(matches, crisis)
    scores = dict(_NO_SCORES)
    severity_by_cat: dict[str, Severity] = {}
    witnessed: set[str] = set()  # categories a rule or detector found something of, flagging or not
    review_cats: list[str] = []
    if model is not None:
        scores.update(model.scores)
    for m in matches:
        cat = m.category
        if m.score > scores[cat]:
            scores[cat] = m.score
        witnessed.add(cat)
        if m.score >= MATCH_FLAG_SCORE and m.severity > severity_by_cat.get(cat, _NONE):
            severity_by_cat[cat] = m.severity
    if model is not None:
        supported_at = model.thresholds
        # The model alone is a weaker witness than a rule: it needs the policy's higher confidence. A
        # disguised spelling (し ね, ぶ.ら.く) witnesses every category, as a rule hit witnesses its own; a
        # comment aimed at a person with a rough word (お前, こいつ) has the policy's cut-off for that.
        disguised = ctx.normalised is not None and ctx.normalised.disguised
        alone_at = model.alone_thresholds or supported_at
        aimed_at = model.addressed_thresholds or supported_at
        review_at = model.review_thresholds
        probs = model.scores
        # Only the categories at or over their lowest cut-off can flag or be 要確認 (usually none).
        lowest = model.lowest_thresholds or supported_at
        for cat in compress(probs, map(operator.ge, probs.values(), map(lowest.get, probs, repeat(0.0)))):
            if cat in cleared or cat in severity_by_cat:
                continue
            p = probs[cat]
            if disguised or cat in witnessed:
                cutoff = supported_at.get(cat, DEFAULT_THRESHOLD)
            else:
                cutoff = (aimed_at if addressed else alone_at).get(cat, DEFAULT_THRESHOLD)
            if crisis and cat in CRISIS_WORDS and cat not in witnessed:
                cutoff = 2.0  # the model alone never calls a crisis abuse; staff still see it as 要確認
            if p >= cutoff:
                severity_by_cat[cat] = CATEGORIES[cat].default_severity
            elif p >= review_at.get(cat, cutoff):
                review_cats.append(cat)

    flagged_cats = sorted(severity_by_cat, key=lambda c: (-scores[c], c))
    severity = max(severity_by_cat.values(), default=_NONE)
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
