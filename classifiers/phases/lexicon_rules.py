"""Phase 3: keyword rules from the lexicon, matched in one Aho-Corasick pass over ``Normalised.kana``.

A hit becomes a Match unless
- its entry is word-mode and the hit does not start and end on SudachiPy token boundaries (シネマ ≠ シネ),
- none of the entry's ``requires`` terms occurs in the comment (野菜/アイス only count when sold),
- an ``except`` term occurrence overlaps it (殺虫剤 around 殺, 死ねない around 死ね), or
- it lies inside an allow-listed welfare phrase for its category (部落差別をなくす, 薬物乱用防止).

Clearing: when an allow phrase for a category is present and no rule of that category matched outside
allowed spans, the category goes into ``Evidence.cleared``. A welfare council's kind posts about 障害,
部落差別 or 薬物乱用防止 use exactly the vocabulary the model associates with those categories; the allow
phrase is positive evidence of the welfare sense, so the model's score alone must not flag them. Any real
rule hit of that category outside the phrase keeps the category open.
"""

from __future__ import annotations

from collections.abc import Sequence

from classifiers.lexicon import ALLOW, ENTRY, TERM, CompiledLexicon, Entry, current
from classifiers.phases.context import Context, Evidence
from classifiers.phases.normalise import Normalised
from classifiers.phases.tokenise import Token, tokenise
from classifiers.verdict import Match


def _aligned(start: int, end: int, tokens: Sequence[Token], cache: dict[str, set[int]]) -> bool:
    if not cache:
        cache["starts"] = {t.start for t in tokens}
        cache["ends"] = {t.end for t in tokens}
    return start in cache["starts"] and end in cache["ends"]


def find_matches(
    norm: Normalised, tokens: Sequence[Token], lexicon: CompiledLexicon | None = None
) -> tuple[list[Match], set[str]]:
    """Return the lexicon matches (spans in the original) and the categories the allow-list clears."""
    lex = lexicon if lexicon is not None else current()
    kana = norm.kana
    if not kana:
        return [], set()
    hits: list[tuple[int, int, Entry]] = []
    terms: dict[str, list[tuple[int, int]]] = {}
    allowed: list[tuple[int, int, frozenset[str]]] = []
    entries = lex.entries
    for last, (length, payload) in lex.automaton.iter(kana):
        end = last + 1
        start = end - length
        for kind, ref in payload:
            if kind == ENTRY:
                hits.append((start, end, entries[ref]))  # type: ignore[index]
            elif kind == TERM:
                terms.setdefault(ref, []).append((start, end))  # type: ignore[arg-type]
            elif kind == ALLOW:
                allowed.append((start, end, lex.allow[ref].categories))  # type: ignore[index]

    matches: list[Match] = []
    matched_outside: set[str] = set()
    boundaries: dict[str, set[int]] = {}
    if hits and not tokens and any(e.mode == "word" for _, _, e in hits):
        tokens = tokenise(norm.text)
    for start, end, entry in hits:
        if entry.mode == "word" and not _aligned(start, end, tokens, boundaries):
            continue
        if entry.requires and not any(k in terms for k in entry.requires):
            continue
        if any(s < end and start < e for k in entry.exceptions for s, e in terms.get(k, ())):
            continue
        if any(a_s <= start and end <= a_e and entry.category in cats for a_s, a_e, cats in allowed):
            continue
        o_start, o_end = norm.span(start, end)
        matches.append(
            Match(
                rule_id=f"lex:{entry.id}",
                category=entry.category,
                start=o_start,
                end=o_end,
                text=norm.original[o_start:o_end],
                severity=entry.severity,
                score=1.0,
            )
        )
        matched_outside.add(entry.category)
    cleared: set[str] = set()
    for _, _, cats in allowed:
        cleared |= cats
    return _dedupe(matches), cleared - matched_outside


def _dedupe(matches: list[Match]) -> list[Match]:
    """One match per (rule, span): the automaton reports an entry once per key it is stored under."""
    seen: set[tuple[str, int, int]] = set()
    out: list[Match] = []
    for m in matches:
        k = (m.rule_id, m.start, m.end)
        if k not in seen:
            seen.add(k)
            out.append(m)
    return out


def phase(ctx: Context) -> Evidence | None:
    if ctx.normalised is None:
        raise RuntimeError("lexicon phase needs the normalise phase first")
    matches, cleared = find_matches(ctx.normalised, ctx.tokens)
    if not matches and not cleared:
        return None
    return Evidence(matches=matches, cleared=cleared)
