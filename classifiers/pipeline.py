"""The ordered phases of comment moderation (after Coral's comment pipeline).

A new detector is a new file in classifiers/phases/ and one line in PHASES.

Several comments are judged phase by phase (every comment through normalise, then every comment through
tokenise, ...): each phase's code and data (the Sudachi dictionary's pages above all) stay in the CPU's
caches across the batch instead of being evicted by the next ten phases, which makes a batch of 100 about
a fifth cheaper per comment than judging them one by one. The verdicts are the same either way.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from classifiers.compose import compose
from classifiers.phases import (
    address,
    impersonation,
    lexicon_rules,
    links,
    model,
    normalise,
    personal_info,
    phishing,
    spam,
    support,
    tokenise,
)
from classifiers.phases.context import Context, Phase
from classifiers.verdict import Verdict

PHASES: Sequence[Phase] = (
    normalise.phase,  # NFKC, folding, evasions -> Normalised with an offset map
    tokenise.phase,  # SudachiPy tokens over the normalised text
    lexicon_rules.phase,  # Aho-Corasick keyword rules + welfare allow-list + site file
    support.phase,  # 相談が必要: crisis cues -> needs_support / support_kind (never a flag)
    personal_info.phase,  # phone, e-mail, address, My Number -> privacy
    links.phase,  # URLs, shorteners, punycode, deny/allow lists -> harmful_link / security
    phishing.phase,  # "page will be disabled", fake Meta support -> security
    spam.phase,  # get-rich, investment, follow-bait -> spam
    impersonation.phase,  # author names posing as the council -> impersonation
    address.phase,  # aimed at a person with a rough word (お前, こいつ): the model's own thresholds apply
    model.phase,  # scikit-learn multi-label model -> scores per category
)


def moderate(text: str, *, author: str | None = None) -> Verdict:
    """Classify one comment. Pure over text; safe to call from many threads."""
    return moderate_many([(text, author)])[0]


def moderate_many(comments: Iterable[tuple[str, str | None]]) -> list[Verdict]:
    """Classify (text, author) pairs, in order: the verdicts ``moderate`` gives each, for less CPU."""
    return [compose(ctx) for ctx in run_phases(comments)]


def run_phases(comments: Iterable[tuple[str, str | None]]) -> list[Context]:
    """Every phase over (text, author) pairs, phase by phase: each comment's context with its evidence, before
    compose merges it (threshold tools read the evidence itself)."""
    contexts = [Context(original=text, author=author) for text, author in comments]
    for phase in PHASES:
        for ctx in contexts:
            ev = phase(ctx)
            if ev is not None:
                ctx.evidence.append(ev)
    return contexts
