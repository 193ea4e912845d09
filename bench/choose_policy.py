"""Choose the decision policy (classifiers/decision.py) on real development data and our own sets.

Each comment of every set is run through the pipeline's phases once; what the rules and detectors decided
and what the model scored are kept, so any candidate policy is judged without classifying again. Per
category, the cut-off at which the model alone flags (``alone``) is searched by coordinate ascent over a
grid: the objective is the mean toxic-vs-clean F1 over the real set with toxic rows (rtplx_ja) and our
mixed sets, under hard limits on the share of clean comments flagged (everyday posts, wrime_dev; the real
set's non-toxic rows; our welfare sets) and floors on evasion recall. Then the one 要確認 bound
(``review``, the same for every category) is the lowest grid value that keeps everyday posts in 要確認
under their limit.

The real sets are only measured here, never trained on, and none of their text is written anywhere: the
policy file holds cut-offs and the figures measured with them.

Run: ``python bench/choose_policy.py [--write]`` (``--write`` saves models/decision_policy.json)
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from accuracy import OWN_SETS, REALDEV, prf, read_set  # noqa: E402

from classifiers import pipeline  # noqa: E402
from classifiers.compose import CRISIS_WORDS, MATCH_FLAG_SCORE, crisis_spans, outside_crisis  # noqa: E402
from classifiers.decision import DecisionPolicy, card_section, replace_card_section, save_policy  # noqa: E402
from classifiers.phases import model as model_phase  # noqa: E402
from classifiers.training import CARD_FILE  # noqa: E402

JST = timezone(timedelta(hours=9))
GRID = [round(0.5 + 0.01 * i, 2) for i in range(50)] + [0.995, 1.0]
# Limits (shares of clean rows flagged), kept below the goals so that unseen sets have a margin.
LIMITS = {
    "wrime_dev.jsonl": 0.008,
    "rtplx_ja.jsonl": 0.045,
    "eval_welfare.jsonl": 0.015,
    "eval_welfare_page.jsonl": 0.015,
}
REVIEW_LIMIT = ("wrime_dev.jsonl", 0.04)
EVERYDAY, EVERYDAY_COST = "wrime_dev.jsonl", 2.0
# Recall floors of the evasion sets (tests/classifiers/test_heldout.py asserts 0.95 and 0.92).
# The key of ``alone`` that holds the cut-off for comments aimed at a person (DecisionPolicy.addressed).
ADDRESSED = "(addressed)"
EVASION_FLOORS = {"eval_evasion.jsonl": 0.955, "eval_evasion2.jsonl": 0.925}
# Sets whose toxic-vs-clean F1 is the objective (the real one counts as much as our three together).
F1_SETS = {"rtplx_ja.jsonl": 3.0, "eval_crowd.jsonl": 1.0, "eval_realvoice.jsonl": 1.0, "eval_social.jsonl": 1.0}


@dataclass(slots=True)
class Judged:
    toxic: bool
    by_rules: bool  # a rule or detector flags it whatever the model says
    witnessed: frozenset[str]  # categories a rule or detector saw: the model's own thresholds apply there
    cleared: frozenset[str]  # categories the allow-list or a stance cue cleared
    probs: dict[str, float]  # the model's probabilities
    supported: dict[str, float]  # the model's own thresholds
    disguised: bool  # spelled to dodge filters: the model's own thresholds apply everywhere
    addressed: bool  # aimed at a person with a rough word: likewise
    crisis: bool  # the writer's own crisis: the model alone never calls it an insult or threat


def judge_rows(path: Path) -> list[Judged]:
    out: list[Judged] = []
    rows = read_set(path)
    for row, ctx in zip(rows, pipeline.run_phases((row.text, None) for row in rows), strict=True):
        probs: dict[str, float] = {}
        supported: dict[str, float] = {}
        for ev in ctx.evidence:
            probs.update(ev.scores)
            supported.update(ev.thresholds)
        crisis = crisis_spans(ctx.evidence)
        matches = outside_crisis([m for ev in ctx.evidence for m in ev.matches], crisis)
        out.append(
            Judged(
                toxic=row.toxic,
                by_rules=any(m.score >= MATCH_FLAG_SCORE for m in matches),
                witnessed=frozenset(m.category for m in matches),
                cleared=frozenset().union(*(ev.cleared for ev in ctx.evidence)),
                probs=probs,
                supported=supported,
                disguised=ctx.normalised is not None and ctx.normalised.disguised,
                addressed=any(ev.addressed for ev in ctx.evidence),
                crisis=bool(crisis),
            )
        )
    return out


def flagged(j: Judged, alone: dict[str, float]) -> bool:
    """As compose decides, for the policy whose model-alone cut-offs are ``alone`` (plus its ``ADDRESSED`` key)."""
    if j.by_rules:
        return True
    for c, p in j.probs.items():
        if c in j.cleared or (j.crisis and c in CRISIS_WORDS and c not in j.witnessed):
            continue
        if j.disguised or c in j.witnessed:
            cut = j.supported[c]
        elif j.addressed:
            cut = min(max(alone[ADDRESSED], j.supported[c]), alone[c])
        else:
            cut = alone[c]
        if p >= cut:
            return True
    return False


def as_searched(policy: DecisionPolicy) -> dict[str, float]:
    """A policy's model-alone cut-offs in the form ``flagged`` and the search use (with ``ADDRESSED``)."""
    return {**policy.alone, ADDRESSED: policy.addressed}


def suspected(j: Judged, alone: dict[str, float], bound: float) -> bool:
    """要確認 as compose decides it for a comment that is not flagged: a category at the bound or above."""
    return any(p >= min(bound, alone[c]) for c, p in j.probs.items() if c not in j.cleared)


def figures(sets: dict[str, list[Judged]], alone: dict[str, float]) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for name, rows in sets.items():
        hits = [(j.toxic, flagged(j, alone)) for j in rows]  # each row judged once per candidate policy
        tp = sum(1 for toxic, on in hits if toxic and on)
        fp = sum(1 for toxic, on in hits if not toxic and on)
        toxic = sum(1 for t, _ in hits if t)
        clean = len(rows) - toxic
        p, r, f1 = prf(tp, fp, toxic - tp)
        out[name] = {
            "toxic": toxic,
            "clean": clean,
            "f1": round(f1, 4),
            "precision": round(p, 4),
            "recall": round(r, 4),
            "clean_flagged": round(fp / clean, 4) if clean else 0.0,
        }
    return out


def with_review(sets: dict[str, list[Judged]], alone: dict[str, float], bound: float) -> dict[str, dict[str, float]]:
    """The figures plus each set's share of clean rows put in 要確認 under the 要確認 bound ``bound``."""
    fig = figures(sets, alone)
    for name, rows in sets.items():
        clean = [j for j in rows if not j.toxic]
        fig[name]["clean_review"] = round(review_share(clean, alone, bound), 4)
    return fig


def shortfall(fig: dict[str, dict[str, float]]) -> float:
    """How far the figures are outside the limits (0 when within every one)."""
    over = sum(max(0.0, fig[n]["clean_flagged"] - limit) for n, limit in LIMITS.items() if n in fig)
    under = sum(max(0.0, floor - fig[n]["recall"]) for n, floor in EVASION_FLOORS.items() if n in fig)
    return over + under


def objective(fig: dict[str, dict[str, float]]) -> float:
    """Weighted mean F1, minus a penalty that puts every policy within the limits above every one outside."""
    weights = {n: w for n, w in F1_SETS.items() if n in fig}
    f1 = sum(fig[n]["f1"] * w for n, w in weights.items()) / sum(weights.values())
    # Within the limits an everyday post flagged still costs something: a tie goes to the stricter policy.
    everyday = fig[EVERYDAY]["clean_flagged"] if EVERYDAY in fig else 0.0
    return f1 - 100.0 * shortfall(fig) - EVERYDAY_COST * everyday


def search(sets: dict[str, list[Judged]], categories: Sequence[str]) -> dict[str, float]:
    """Coordinate ascent from "the model never flags alone" (the rules' own figures)."""
    alone = dict.fromkeys([*categories, ADDRESSED], 1.0)
    best = objective(figures(sets, alone))
    for _ in range(4):
        improved = False
        for cat in [*categories, ADDRESSED]:
            for value in GRID:
                trial = {**alone, cat: value}
                score = objective(figures(sets, trial))
                if score > best + 1e-9:
                    best, alone, improved = score, trial, True
        if not improved:
            break
    return alone


def review_share(rows: list[Judged], alone: dict[str, float], bound: float) -> float:
    marked = sum(1 for j in rows if not flagged(j, alone) and suspected(j, alone, bound))
    return marked / len(rows) if rows else 0.0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--write", action="store_true", help="save models/decision_policy.json")
    args = parser.parse_args(argv)
    paths = sorted(REALDEV.glob("*.jsonl")) + sorted(OWN_SETS.glob("eval_*.jsonl"))
    if not any(p.parent == REALDEV for p in paths):
        raise SystemExit(f"no real development sets in {REALDEV}: the policy is chosen with them")
    with model_phase.use_scorer(model_phase._judge().scorer):  # the model's own thresholds, no policy
        sets = {p.name: judge_rows(p) for p in paths}
    judge = model_phase._judge()
    categories = list(judge.scorer.categories)
    alone = search(sets, categories)
    name, limit = REVIEW_LIMIT
    review = next((b for b in GRID if review_share(sets[name], alone, b) <= limit), 1.0)
    fig = with_review(sets, alone, review)
    if shortfall(fig):
        print(f"warning: no policy keeps every limit (shortfall {shortfall(fig):.4f})", file=sys.stderr)
    policy = DecisionPolicy(
        version=datetime.now(JST).strftime("%Y.%m.%d"),
        model_version=judge.scorer.metadata.get("version", ""),
        alone={c: alone[c] for c in categories},
        review={c: min(review, alone[c]) for c in categories},
        addressed=alone[ADDRESSED],
        chosen_on={
            "sets": {n: {"rows": len(rows), **fig[n]} for n, rows in sets.items()},
            "limits": LIMITS,
            "review_share": {name: round(review_share(sets[name], alone, review), 4)},
        },
    )
    print(json.dumps(policy.to_dict(), ensure_ascii=False, indent=2))
    if args.write:
        model_path = model_phase.model_path()
        print(f"written: {save_policy(policy, model_path)}")
        card = model_path.with_name(CARD_FILE)
        if card.exists():
            section = card_section(policy, policy.model_version)
            card.write_text(replace_card_section(card.read_text(encoding="utf-8"), section), encoding="utf-8")
            print(f"updated: {card}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
