"""What phases share: the comment being judged, and the evidence each phase hands to compose."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from classifiers.verdict import Match

if TYPE_CHECKING:
    from collections.abc import Sequence

    from classifiers.phases.normalise import Normalised
    from classifiers.phases.tokenise import Token


@dataclass(slots=True)
class Evidence:
    """One phase's findings. compose() merges every phase's evidence into one Verdict."""

    matches: list[Match] = field(default_factory=list)
    scores: dict[str, float] = field(default_factory=dict)  # category -> 0..1 (the model's probabilities)
    model_tokens: list[str] = field(default_factory=list)
    # Categories a phase has positive reason to clear (e.g. welfare allow-list context for the model).
    cleared: set[str] = field(default_factory=set)
    thresholds: dict[str, float] = field(default_factory=dict)  # the model's per-category cut-offs
    # 相談が必要 (phases/support.py): the most urgent kind found and its cue matches. Never a category.
    support_kind: str = ""
    support_matches: list[Match] = field(default_factory=list)
    # The decision policy (classifiers/decision.py): the model alone flags at ``alone_thresholds``; from
    # ``review_thresholds`` up to that it is 要確認. Empty: ``thresholds`` for both (no 要確認).
    # The comment is aimed at a person with a rough word (お前, こいつ): the model's own thresholds apply.
    addressed: bool = False
    alone_thresholds: dict[str, float] = field(default_factory=dict)
    review_thresholds: dict[str, float] = field(default_factory=dict)
    addressed_thresholds: dict[str, float] = field(default_factory=dict)  # when ``addressed`` (policy)
    lowest_thresholds: dict[str, float] = field(default_factory=dict)  # the least of all the cut-offs above


@dataclass(slots=True)
class Context:
    original: str
    author: str | None = None  # display name / username, for impersonation
    normalised: Normalised | None = None  # set by the normalise phase
    # Set by the tokenise phase to a Morphemes, whose Token tuples are only built when a phase reads them.
    tokens: Sequence[Token] = ()
    evidence: list[Evidence] = field(default_factory=list)


class Phase(Protocol):
    """A phase reads the context (and may fill normalised/tokens) and returns its evidence."""

    def __call__(self, ctx: Context) -> Evidence | None: ...
