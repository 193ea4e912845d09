"""What the detector phases share: the 1:1 width fold, the cue-phrase index and Match building.

The cue phrases live in ``data/detect_phrases.tsv`` (detector, group, weight, phrase); each detector
builds a ``PhraseIndex`` over its own rows. Kept out of any one phase so each phase stays one file that
imports only what it uses.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import ahocorasick

from classifiers.categories import Severity
from classifiers.phases.context import Context
from classifiers.phases.normalise import Normalised, normalise
from classifiers.verdict import Match

DATA_DIR = Path(__file__).resolve().parent.parent / "data"
PHRASES_PATH = DATA_DIR / "detect_phrases.tsv"

# Dashes people put in phone numbers and addresses (ー is the usual IME slip for a hyphen).
_DASHES = "‐‑‒–—―−ー－ｰ﹣"


class _WidthFold(dict[int, str]):
    """str.translate table: a character's NFKC when that is one character, else the character itself."""

    def __missing__(self, code: int) -> str:
        c = chr(code)
        n = unicodedata.normalize("NFKC", c)
        value = n if len(n) == 1 else c
        self[code] = value
        return value


_WIDTH = _WidthFold({ord(d): "-" for d in _DASHES})


def fold_width(text: str) -> str:
    """Full-width digits/letters/signs to ASCII and dashes to "-", keeping every offset (same length)."""
    if text.isascii():
        return text
    return text.translate(_WIDTH)


_SPACE_RE = re.compile(r"\s+")


@dataclass(frozen=True, slots=True)
class Phrase:
    detector: str
    group: str
    weight: float
    text: str  # as written in the data file


@dataclass(frozen=True, slots=True)
class Hit:
    start: int  # offsets in Normalised.text / .kana
    end: int
    phrase: Phrase


@cache
def _phrase_rows() -> tuple[Phrase, ...]:
    rows: list[Phrase] = []
    for line in PHRASES_PATH.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        detector, group, weight, text = line.split("\t")
        rows.append(Phrase(detector, group, float(weight), text))
    return tuple(rows)


def load_phrases(detector: str) -> list[Phrase]:
    return [p for p in _phrase_rows() if p.detector == detector]


class PhraseIndex:
    """Aho-Corasick over ``Normalised.kana``; phrases are normalised the same way, so spellings agree.

    Whitespace is ignored on both sides (normalisation keeps the space in "Meta サポート" because both
    words are longer than one letter), and hits are reported at their offsets in the unsqueezed kana.
    """

    def __init__(self, phrases: Iterable[Phrase]) -> None:
        by_key: dict[str, list[Phrase]] = {}
        for p in phrases:
            key = _SPACE_RE.sub("", normalise(p.text).kana)
            if key:
                by_key.setdefault(key, []).append(p)
        self._automaton = ahocorasick.Automaton()
        for key, group in by_key.items():
            self._automaton.add_word(key, (len(key), tuple(group)))
        self._automaton.make_automaton()

    def find(self, kana: str) -> list[Hit]:
        squeezed = _SPACE_RE.sub("", kana) if _SPACE_RE.search(kana) is not None else kana
        found = list(self._automaton.iter(squeezed))
        if not found:
            return []
        # Offsets back in the unsqueezed kana, worked out only when there is a hit to place (most comments
        # have none, and several detectors ask about the same comment).
        positions = [i for i, c in enumerate(kana) if not c.isspace()] if squeezed is not kana else None
        hits: list[Hit] = []
        for end, (length, group) in found:
            start, stop = end + 1 - length, end + 1
            if positions is not None:
                start, stop = positions[start], positions[stop - 1] + 1
            hits.extend(Hit(start, stop, p) for p in group)
        return hits


def group_score(hits: Sequence[Hit]) -> float:
    """Sum over groups of the strongest phrase in each: cues combine, one group alone stays weak."""
    best: dict[str, float] = {}
    for h in hits:
        best[h.phrase.group] = max(best.get(h.phrase.group, 0.0), h.phrase.weight)
    return sum(best.values())


def match_at(
    ctx: Context,
    norm: Normalised,
    start: int,
    end: int,
    rule_id: str,
    category: str,
    severity: Severity,
    score: float,
) -> Match:
    """A Match for ``[start, end)`` of the normalised text, reported at its span in the original."""
    s, e = norm.span(start, end)
    return Match(rule_id, category, s, e, ctx.original[s:e], severity, round(score, 3))
