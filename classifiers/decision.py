"""The decision policy: how much the model must be trusted before its suspicion alone flags a comment.

The model is a weaker witness than a lexicon entry or a detector: it learned from text written for the
project, and real comments differ. So a category the model alone suspects is flagged only at a high
probability (``alone``); between ``review`` and that it becomes 要確認 (shown to staff in a low-priority
view, never hidden automatically, counted apart in reports). Where a lexicon entry or a detector also found
something of that category, the model's own cross-validated threshold applies.

The figures are chosen on real development data (text written and labelled outside the project) together
with the project's held-out sets, by ``python bench/choose_policy.py``, and kept in
``models/decision_policy.json`` beside the model they were chosen for: training never reads the real sets,
so ``train`` reproduces the model without them, and this file carries what they taught.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

POLICY_FILE = "decision_policy.json"


@dataclass(frozen=True, slots=True)
class DecisionPolicy:
    version: str = ""
    model_version: str = ""  # the model the figures were chosen for
    alone: dict[str, float] = field(default_factory=dict)  # category -> flag cut-off for the model alone
    review: dict[str, float] = field(default_factory=dict)  # category -> lower bound of 要確認
    # The model's cut-off (at least its own threshold) when the comment is aimed at a person with a rough
    # word (お前, こいつ): translated lyrics and banter use those words too, so it may sit above the threshold.
    addressed: float = 0.0
    chosen_on: dict[str, Any] = field(default_factory=dict)  # what was measured when choosing (for the card)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> DecisionPolicy:
        alone = {str(k): float(v) for k, v in d.get("alone", {}).items()}
        review = {str(k): float(v) for k, v in d.get("review", {}).items()}
        for name, cuts in (("alone", alone), ("review", review)):
            bad = [k for k, v in cuts.items() if not 0.0 < v <= 1.0]
            if bad:
                raise ValueError(f"{name}: cut-offs must be in (0, 1]: {', '.join(bad)}")
        return cls(
            version=str(d.get("version", "")),
            model_version=str(d.get("model_version", "")),
            alone=alone,
            review=review,
            addressed=float(d.get("addressed", 0.0)),
            chosen_on=dict(d.get("chosen_on", {})),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "model_version": self.model_version,
            "alone": dict(sorted(self.alone.items())),
            "review": dict(sorted(self.review.items())),
            "addressed": self.addressed,
            "chosen_on": self.chosen_on,
        }

    def cutoffs(self, categories: tuple[str, ...], supported: dict[str, float]) -> tuple[dict[str, float], ...]:
        """(flag-alone, review, addressed) cut-offs for every category; ``supported`` (the model's own
        thresholds) stands in where the policy names no figure, so a model without a policy behaves as
        before."""
        alone = {c: self.alone.get(c, supported[c]) for c in categories}
        review = {c: min(self.review.get(c, alone[c]), alone[c]) for c in categories}
        addressed = {c: min(max(self.addressed, supported[c]), alone[c]) for c in categories}
        return alone, review, addressed


CARD_BEGIN = "<!-- decision policy: written by bench/choose_policy.py --write -->"
CARD_END = "<!-- end of decision policy -->"


def card_section(policy: DecisionPolicy, model_version: str) -> str:
    """The model card's first section: the real development sets' figures under this policy, then ours."""
    lines = [CARD_BEGIN, "", "## Accuracy on real text first / 実データでの精度", ""]
    sets = policy.chosen_on.get("sets", {})
    if policy.model_version != model_version or not sets:
        lines += [
            "No decision policy has been chosen for this model yet: run `python bench/choose_policy.py --write`",
            "with the real development sets beside the project (`../shared/realdev/`).",
            "",
            CARD_END,
        ]
        return "\n".join(lines)
    lines += [
        f"Decision policy `{policy.version}` (`models/decision_policy.json`), chosen by `bench/choose_policy.py`",
        "for this model. Real development sets are text written and labelled outside the project; they are",
        "measured, never trained on. Our own sets (`tests/data/eval_*.jsonl`) were written by the team.",
        "Re-measure any time with `python bench/accuracy.py`.",
        "",
        "| set | kind | rows | precision | recall | F1 | clean rows flagged | clean rows 要確認 |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    real = [n for n in sets if not n.startswith("eval_")]
    for name in [*real, *(n for n in sets if n not in real)]:
        m = sets[name]
        kind = "real (dev)" if name in real else "own"
        toxic = m.get("toxic", 0)
        prf = f"{m['precision']:.3f} | {m['recall']:.3f} | {m['f1']:.3f}" if toxic and m.get("clean") else (
            f"— | {m['recall']:.3f} | —" if toxic else "— | — | —"
        )
        clean = f"{m['clean_flagged']:.1%}" if m.get("clean") else "—"
        review = f"{m.get('clean_review', 0.0):.1%}" if m.get("clean") else "—"
        lines.append(f"| {name} | {kind} | {m['rows']} | {prf} | {clean} | {review} |")
    cut = ", ".join(f"{c} {v:.2f}" for c, v in sorted(policy.alone.items()))
    lines += [
        "",
        f"- The model alone flags at: {cut}.",
        f"- 要確認 from {min(policy.review.values(), default=0):.2f}; with rough address (お前, こいつ) the model's",
        f"  cut-off is {policy.addressed:.2f} (at least its own threshold); a rule hit of the category or a",
        "  disguised spelling lets it flag at its own cross-validated threshold (below).",
        "",
        CARD_END,
    ]
    return "\n".join(lines)


def replace_card_section(card: str, section: str) -> str:
    """``card`` with its decision-policy section replaced by ``section`` (inserted after the title if absent)."""
    if CARD_BEGIN in card and CARD_END in card:
        head, rest = card.split(CARD_BEGIN, 1)
        return head + section + rest.split(CARD_END, 1)[1]
    title, _, body = card.partition("\n")
    return f"{title}\n\n{section}\n{body}"


def policy_path(model_path: Path) -> Path:
    return model_path.with_name(POLICY_FILE)


def load_policy(model_path: Path) -> DecisionPolicy:
    """The policy beside ``model_path``; none (the model's own thresholds, no 要確認) when there is no file."""
    path = policy_path(model_path)
    if not path.exists():
        return DecisionPolicy()
    return DecisionPolicy.from_dict(json.loads(path.read_text(encoding="utf-8")))


def save_policy(policy: DecisionPolicy, model_path: Path) -> Path:
    path = policy_path(model_path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(policy.to_dict(), ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    tmp.replace(path)
    return path
