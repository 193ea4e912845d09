"""What the pipeline returns: one verdict per comment, explained by its matches."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from json.encoder import encode_basestring
from typing import Any

from classifiers.categories import CATEGORIES, Severity

# Severity.label reads the enum member's name, a property: looked up once per member instead.
_LABELS = {s: s.label for s in Severity}
# json.dumps(..., ensure_ascii=False) without building its encoder on every call.
_encode = json.JSONEncoder(ensure_ascii=False).encode


@dataclass(frozen=True, slots=True)
class Match:
    """One piece of evidence. Offsets index the ORIGINAL text (Python str indices, end exclusive)."""

    rule_id: str  # e.g. "lex:insult:0012", "pii:phone", "link:deny:example.xyz", "model"
    category: str
    start: int
    end: int
    text: str  # original[start:end]
    severity: Severity = Severity.MEDIUM
    score: float = 1.0  # rules are 1.0; detectors may be lower

    def to_dict(self) -> dict[str, Any]:
        # Field by field: dataclasses.asdict deep-copies each value, which costs more than the rest of this.
        return {
            "rule_id": self.rule_id,
            "category": self.category,
            "start": self.start,
            "end": self.end,
            "text": self.text,
            "severity": _LABELS[self.severity],
            "score": self.score,
        }


# Not frozen: a frozen dataclass sets each of its fields through object.__setattr__, which costs more than
# the rest of composing a clean comment's verdict. Treat a Verdict as read-only all the same.
@dataclass(slots=True)
class Verdict:
    flagged: bool
    categories: list[str]  # sorted by score, highest first; only those over threshold
    scores: dict[str, float]  # every category name -> 0..1
    severity: Severity
    clauses: list[str]  # policy clauses of the flagged categories, e.g. ["2(7)エ"]
    action: str  # delete | hide | review | none
    matches: list[Match] = field(default_factory=list)
    model_tokens: list[str] = field(default_factory=list)  # the model's strongest tokens, best first
    # 要確認: only the model suspects these categories, short of the confidence that flags. Never flagged,
    # never auto-hidden; staff see them in a low-priority view and reports count them apart.
    review_categories: list[str] = field(default_factory=list)
    # 相談が必要: the writer, or someone they name, may be in danger or need welfare help now. Not a violation:
    # it never sets flagged and such a comment is never hidden automatically; staff see it in the 相談 view.
    needs_support: bool = False
    support_kind: str = ""  # suicide | abuse | disaster | missing | poverty | isolation; "" when none
    support_matches: list[Match] = field(default_factory=list)  # category = the kind; spans in the original

    @property
    def needs_review(self) -> bool:
        return not self.flagged and bool(self.review_categories)

    @property
    def categories_ja(self) -> list[str]:
        return [CATEGORIES[c].ja for c in self.categories]

    def to_dict(self) -> dict[str, Any]:
        return {
            "flagged": self.flagged,
            "categories": list(self.categories),
            "scores": {k: round(v, 4) for k, v in self.scores.items()},
            "severity": _LABELS[self.severity],
            "clauses": list(self.clauses),
            "action": self.action,
            "matches": [m.to_dict() for m in self.matches],
            "model_tokens": list(self.model_tokens),
            "needs_review": self.needs_review,
            "review_categories": list(self.review_categories),
            "needs_support": self.needs_support,
            "support_kind": self.support_kind,
            "support_matches": [m.to_dict() for m in self.support_matches],
        }

    def to_json(self) -> str:
        """``json.dumps(self.to_dict(), ensure_ascii=False)``, written directly: `shakyo-mod classify` prints
        one per comment, and building the dict then encoding it cost a tenth of classifying the comment."""
        return "".join(
            [
                '{"flagged": ',
                "true" if self.flagged else "false",
                ', "categories": [',
                ", ".join(map(encode_basestring, self.categories)),
                '], "scores": {',
                ", ".join([encode_basestring(k) + ": " + _score_json(v) for k, v in self.scores.items()]),
                '}, "severity": "',
                _LABELS[self.severity],
                '", "clauses": [',
                ", ".join(map(encode_basestring, self.clauses)),
                '], "action": ',
                encode_basestring(self.action),
                ', "matches": [',
                ", ".join([_encode(m.to_dict()) for m in self.matches]),
                '], "model_tokens": [',
                ", ".join(map(encode_basestring, self.model_tokens)),
                '], "needs_review": ',
                "true" if self.needs_review else "false",
                ', "review_categories": [',
                ", ".join(map(encode_basestring, self.review_categories)),
                '], "needs_support": ',
                "true" if self.needs_support else "false",
                ', "support_kind": ',
                encode_basestring(self.support_kind),
                ', "support_matches": [',
                ", ".join([_encode(m.to_dict()) for m in self.support_matches]),
                "]}",
            ]
        )

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Verdict:
        return cls(
            flagged=bool(d["flagged"]),
            categories=list(d["categories"]),
            scores={k: float(v) for k, v in d["scores"].items()},
            severity=Severity.parse(d["severity"]),
            clauses=list(d["clauses"]),
            action=d["action"],
            matches=[_match(m) for m in d.get("matches", [])],
            model_tokens=list(d.get("model_tokens", [])),
            review_categories=list(d.get("review_categories", [])),
            # Verdicts stored before 相談 detection existed load as not needing support.
            needs_support=bool(d.get("needs_support", False)),
            support_kind=str(d.get("support_kind", "")),
            support_matches=[_match(m) for m in d.get("support_matches", [])],
        )


def _match(d: dict[str, Any]) -> Match:
    return Match(**{**d, "severity": Severity.parse(d["severity"])})


def _score_json(value: float) -> str:
    """``round(value, 4)`` as JSON. A score in 0..1 is formatted to 4 places with trailing zeros dropped:
    the same digits (both round the exact binary value, half to even) and, a score being under 1e16 and 0 or
    at least 1e-4 once rounded, the same notation as its repr, in a third of the time."""
    if not 0.0 <= value <= 1.0:  # also NaN, which JSON spells NaN
        return _encode(round(value, 4))
    text = "%.4f" % value  # noqa: UP031 - "%" formats a float in 2/3 of an f-string's time
    text = text.rstrip("0")
    return text + "0" if text[-1] == "." else text
