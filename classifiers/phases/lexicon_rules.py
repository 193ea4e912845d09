"""Phase 3: keyword rules from the lexicon, matched in one Aho-Corasick pass over ``Normalised.kana``.

A hit becomes a Match unless
- its entry is word-mode and the hit does not start and end on SudachiPy token boundaries (シネマ ≠ シネ),
- none of the entry's ``requires`` terms occurs in the comment (野菜/アイス only count when sold),
- an ``except`` term occurrence overlaps it (殺虫剤 around 殺, 死ねない around 死ね), or
- it lies inside an allow-listed welfare phrase for its category (部落差別をなくす, 薬物乱用防止).

A hit that the comment's stance says is no attack (``_stance.py``) is kept at ``MENTION_SCORE``, below the
flag line, so staff still see it when something else flags the comment:
- it lies inside a quotation the writer reports in order to oppose it (「国に帰れ」って言われたって泣いてた),
- it is an illegal, spam or security word in a comment that warns others off (闇バイトに気をつけて),
- it is a low or medium insult aimed at the writer themself (俺ほんとバカだわ), or
- it is a low insult among warmth (ばーか！誕生日おめでとう).

A low-severity insult, obscene or spam word that is aimed at nobody in particular (くそ眠い, あほなん？, エロい
プレー) is kept at ``WITNESS_SCORE``: not a flag by itself, but it names its category for compose, which then
flags when the model agrees at its own threshold. Everyday casual Japanese uses these words of itself and of
things; said to a second or third person (お前, こいつ, この人) they flag as before.

Clearing: when an allow phrase for a category is present, or a hit of it was kept as a mention, and no rule
of that category matched as an attack, the category goes into ``Evidence.cleared``. A welfare council's kind posts about 障害,
部落差別 or 薬物乱用防止 use exactly the vocabulary the model associates with those categories; the allow
phrase is positive evidence of the welfare sense, so the model's score alone must not flag them. Any real
rule hit of that category outside the phrase keeps the category open.
"""

from __future__ import annotations

from collections.abc import Sequence
from operator import itemgetter

from classifiers.categories import Severity
from classifiers.lexicon import ALLOW, ENTRY, TERM, CompiledLexicon, Entry, current
from classifiers.phases._stance import Stance
from classifiers.phases.context import Context, Evidence
from classifiers.phases.normalise import Normalised
from classifiers.phases.tokenise import Token, tokenise
from classifiers.verdict import Match

# Below compose's flag line (0.5): evidence for staff, never a flag on its own.
MENTION_SCORE = 0.3
WITNESS_SCORE = 0.45
# Categories whose low-severity words are everyday intensifiers or self-talk as often as attacks.
_WITNESS_CATEGORIES = frozenset({"insult", "obscene", "spam"})
# An automaton hit is (end, (length, payload, not only terms)).
_VALUE, _NOT_ONLY_TERMS = itemgetter(1), itemgetter(2)
# Categories whose words a warning names without using them (闇バイト, 簡単に稼げる, 認証コード).
_WARNED_ABOUT = frozenset({"illegal", "spam", "security"})


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
    found = list(lex.automaton.iter(kana))
    # Requires/except terms (して, 募集, 即日) are common; without an entry or allow phrase they mean nothing.
    if not any(map(_NOT_ONLY_TERMS, map(_VALUE, found))):
        return [], set()
    hits: list[tuple[int, int, Entry]] = []
    terms: dict[str, list[tuple[int, int]]] = {}
    allowed: list[tuple[int, int, frozenset[str]]] = []
    entries = lex.entries
    for last, (length, payload, _) in found:
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
    mentioned: set[str] = set()
    boundaries: dict[str, set[int]] = {}

    def aligned(start: int, end: int) -> bool:
        # A caller without the tokenise phase's tokens gets them here, and only when a check needs them.
        nonlocal tokens
        if not tokens:
            tokens = tokenise(norm.text)
        return _aligned(start, end, tokens, boundaries)

    stance: Stance | None = None  # found on the first hit that survives the checks below
    for start, end, entry in hits:
        if entry.mode == "word" and not aligned(start, end):
            continue
        if entry.requires and not any(k in terms for k in entry.requires):
            continue
        if any(s < end and start < e for k in entry.exceptions for s, e in terms.get(k, ())):
            continue
        if any(a_s <= start and end <= a_e and entry.category in cats for a_s, a_e, cats in allowed):
            continue
        if stance is None:
            stance = Stance(norm, aligned)
        attack = not _mention(entry, start, end, stance)
        witness = attack and _witness_only(entry, stance) and not _whole_comment(norm.text, start, end)
        o_start, o_end = norm.span(start, end)
        matches.append(
            Match(
                rule_id=f"lex:{entry.id}",
                category=entry.category,
                start=o_start,
                end=o_end,
                text=norm.original[o_start:o_end],
                severity=entry.severity,
                score=WITNESS_SCORE if witness else 1.0 if attack else MENTION_SCORE,
            )
        )
        if not witness:
            (matched_outside if attack else mentioned).add(entry.category)
    cleared = set(mentioned)
    for _, _, cats in allowed:
        cleared |= cats
    return _dedupe(matches), cleared - matched_outside


def _mention(entry: Entry, start: int, end: int, stance: Stance) -> bool:
    """Whether the hit of ``entry`` at ``[start, end)`` mentions its word rather than attacking with it."""
    if stance.reported(start, end):
        return True
    if entry.category in _WARNED_ABOUT and stance.warns():
        return True
    if entry.category != "insult":
        return False
    if entry.severity < Severity.HIGH and stance.self_directed(start):
        return True
    return entry.severity == Severity.LOW and stance.teasing()


def _witness_only(entry: Entry, stance: Stance) -> bool:
    """A low word of an everyday-intensifier category, with no second or third person it could be aimed at."""
    return entry.severity == Severity.LOW and entry.category in _WITNESS_CATEGORIES and not stance.names_someone()


def _whole_comment(text: str, start: int, end: int) -> bool:
    """The hit is most of the comment (ばーか, BAKA!!!): a reply that is only the word is aimed at someone."""
    rest = len(text) - (end - start)
    return rest <= end - start


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
