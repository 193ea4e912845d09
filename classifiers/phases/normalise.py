"""Phase 1: fold a comment into one canonical spelling, keeping a map back to the original.

Evasions are the norm on Japanese social media (氏ね, ﾀﾋね, し ね, 4ね, ｼﾈ, ばーーか, ＢＡＫＡ, し.ね, zero-width
characters), so every later phase reads ``Normalised.text``/``kana`` instead of the raw comment; the offset
map lets each reported span point at exactly what the user wrote.

Cost matters (the whole pipeline must stay within a few times SudachiPy's own cost), so the common case is
one ``str.translate`` plus a few precompiled regex scans; the per-character path only runs for comments
that actually contain something to remove or combine.
"""

from __future__ import annotations

import itertools
import random
import re
import unicodedata
from collections.abc import Iterable

from classifiers.phases.context import Context, Evidence

# Marks a character that needs more than a 1:1 fold (drop, combine or expand) in the fast translate pass.
_SENTINEL = "\x00"

# Invisible characters people slip between letters; always removed.
_INVISIBLE = frozenset("\u200b\u200c\u200d\u2060\ufeff\u00ad\u180e\u2061\u2062\u2063\u2064\u034f")

# Characters that may be removed when they separate single letters (し ね, し.ね, し・ね, し_ね, b-a-k-a,
# し☆ね, き♡も, し😊ね): punctuation, decorative symbols and emoji. Masks that stand FOR a letter (ク〇野郎,
# ま◯こ) are not separators; they fold to 〇 below and the lexicon spells those forms out.
_SEPARATORS = " \t\r\n\u00a0.・,、。_\\-‐‑‒–—―/|*+'\"`^:;=·•∙☆★✩✪✫✬✭✮✯✰✦✧♡♥❤♪♫♬♩◆◇■□▲△▼▽◎※†‡§¤♂♀✓✔✕✖✗✘!?"
_EMOJI_RANGES = "\U0001f300-\U0001f5ff\U0001f600-\U0001f64f\U0001f680-\U0001f6ff\U0001f900-\U0001faff"
_SEP_CLASS = "[" + re.escape(_SEPARATORS) + _EMOJI_RANGES + "]"
_SEP_RUN_RE = re.compile(_SEP_CLASS + "+")
# A lone letter: one character with a separator (or an end of the text) on both sides. Every removable
# separator run touches one, and most comments have none, so this one scan spares them the run loop.
_LONE_RE = re.compile("(?:^|(?<=" + _SEP_CLASS + "))[^" + _SEP_CLASS[1:-1] + "](?:" + _SEP_CLASS + "|$)")

_LONG_MARKS = "ー〜~"
# Long vowels: a run of two or more marks is always a stretch (ばーーか, バーーカ, しねーー); one mark after
# hiragana is a stretch too (ばーか); one ー after katakana is usually spelling (コーヒー) and is kept, 〜/~
# is not. (The lexicon also stores each entry with its ー dropped, so オナニーーー still finds オナニー.)
# Runs of three or more identical characters collapse to one (ばかかかか, しねねね), except digits (phone
# numbers, amounts) and w (laughter and URLs).
# Doubled small tsu is a stretch too (きっっも, ｳｯｯｻﾞ): two or more fold to one.
# Two scans, merged as one alternation in this order would match: the marks (and doubled tsu), then a
# character three times or more. A backreference tried at every position is the slow part, so the second
# scan runs only when a cheap search finds a triple at all.
_MARKS_RE = re.compile(r"[ー〜~]{2,}|(?<=[ぁ-ゖ])[ー〜~]|(?<=[ァ-ヺ])[〜~]|(?P<tsu>[っッ])(?P=tsu)+")
_REPEAT_RE = re.compile(r"(?P<rep>[^0-9w])(?P=rep){2,}")
# Cheap necessary conditions for each kind of edit (one set scan each).
_MARKS_HINT_RE = re.compile("[ー〜~っッ]")
_SMALL_HINT_RE = re.compile("[ぁぃぅぇぉァィゥェォ]")
_TRIPLE_RE = re.compile(r"(.)\1\1")

# A small vowel repeating the vowel of the kana before it stretches that kana (ばぁか, しぃね, ざぁこ, ｷﾓｫ);
# a different vowel is spelling (ファン, ティー, ウィ) and is kept.
_SMALL_VOWEL_RE = re.compile("(?<=[ぁ-ゖァ-ヺ])[ぁぃぅぇぉァィゥェォ]+")


def _kana_vowels() -> dict[str, str]:
    # Unicode names end in the romanised syllable (HIRAGANA LETTER KA, KATAKANA LETTER SMALL I).
    table: dict[str, str] = {}
    for code in itertools.chain(range(ord("ぁ"), ord("ゖ") + 1), range(ord("ァ"), ord("ヺ") + 1)):
        name = unicodedata.name(chr(code), "")
        if name and name[-1] in "AIUEO":
            table[chr(code)] = name[-1]
    return table


_VOWEL = _kana_vowels()

# Common look-alike spellings of 死 (death) used to dodge filters. The kanji forms only count when not
# part of a longer kanji word (田中氏ね, 美祢市ね are ordinary), and 4 only when not part of a number.
_SUBSTITUTIONS_RE = re.compile(
    r"(?P<shi>(?<![\u3400-\u4dbf\u4e00-\u9fff々])[氏市師詩](?=ね|ぬ|ん[でだじ]))"
    r"|(?P<tahi>(?:タヒ|たひ)(?=ね|ぬ|ん[でだじ]|ねよ))"
    r"|(?P<four>(?<![0-9])4(?=ね|ぬ|ん[でだ]))"
)
# A cheap necessary condition for _SUBSTITUTIONS_RE (た alone is in most comments).
_SUBSTITUTION_HINT_RE = re.compile("[氏市師詩4][ねぬん]|タヒ|たひ")

# Kanji that look like katakana (コ口ス, エ口, 卜ンスラ) read as that katakana when they follow katakana and
# no kanji follows (人口, 口座, 入口 and 口コミ keep their kanji). Letter masks (○ ◯ ●) all become 〇.
_LOOKALIKE_RE = re.compile(r"(?<=[ァ-ヺー])[口工二卜夕](?![\u3400-\u4dbf\u4e00-\u9fff々])|[○◯●⚪⚫]")
_LOOKALIKE = {"口": "ロ", "工": "エ", "二": "ニ", "卜": "ト", "夕": "タ"}
_LOOKALIKE_HINT_RE = re.compile("[口工二卜夕○◯●⚪⚫]")  # one set scan instead of a lookbehind per position

# Characters the fast path cannot pass through 1:1: invisibles, format controls, combining marks,
# variation selectors, voiced marks, surrogates and private use. Text without them that is already NFKC
# only needs casefolding.
_SPECIAL_RE = re.compile(
    "[\x00\u00ad\u034f\u0300-\u036f\u0483-\u0489\u0591-\u05c7\u0600-\u0605\u061c\u06dd"
    "\u070f\u180b-\u180f\u1ab0-\u1aff\u1dc0-\u1dff\u200b-\u200f\u202a-\u202e\u2060-\u206f"
    "\u20d0-\u20ff\u3099-\u309c\ud800-\uf8ff\ufe00-\ufe0f\ufe20-\ufe2f\ufeff\uff9e\uff9f"
    "\ufff9-\ufffb\U000e0000-\U000e01ef\U000f0000-\U0010ffff]"
)

# Katakana -> hiragana, one code point each so ``kana`` keeps the length of ``text``.
_KATA_TO_HIRA: dict[int, int] = {k: k - 0x60 for k in range(ord("ァ"), ord("ヶ") + 1)}
_KATA_TO_HIRA[ord("ヽ")] = ord("ゝ")
_KATA_TO_HIRA[ord("ヾ")] = ord("ゞ")
_HALFWIDTH_RUN_RE = re.compile("[\uff66-\uff9d]{2}")
_KATAKANA_RE = re.compile("[ァ-ヶヽヾ]")  # translate() costs a dict lookup per character: skip it when idle

# Voiced/semi-voiced marks in their spacing and half-width forms all act as the combining mark.
_VOICE_MARKS = {"\u309b": "\u3099", "\uff9e": "\u3099", "\u309c": "\u309a", "\uff9f": "\u309a"}


class _FoldTable(dict[int, str]):
    """str.translate table filled lazily: a character's NFKC+casefold when that is a plain 1:1 fold."""

    def __missing__(self, code: int) -> str:
        c = chr(code)
        folded = unicodedata.normalize("NFKC", c).casefold()
        special = (
            c in _INVISIBLE
            or c in _VOICE_MARKS
            or len(folded) != 1
            or unicodedata.category(c) in ("Mn", "Me", "Mc", "Cf", "Cs", "Co", "Cn")
            or c == _SENTINEL
        )
        value = _SENTINEL if special else folded
        self[code] = value
        return value


_FOLD = _FoldTable()


class Normalised:
    """The folded comment: ``text`` for tokenising, ``kana`` (hiragana-folded, same length) for matching."""

    __slots__ = ("_ends", "_starts", "disguised", "kana", "original", "text")

    def __init__(
        self,
        original: str,
        text: str,
        kana: str,
        starts: list[int] | None,
        ends: list[int] | None,
        disguised: bool = False,
    ) -> None:
        self.original = original
        self.text = text
        self.kana = kana
        # Spelled to dodge filters (し ね, ぶ.ら.く, 氏ね, ゴ○): nobody writes an ordinary word that way, so the
        # spelling itself is a witness, like a rule hit, for what the model reads in it.
        self.disguised = disguised
        # None means the identity map (the common case: nothing was removed or combined).
        self._starts = starts
        self._ends = ends

    def span(self, start: int, end: int) -> tuple[int, int]:
        """Map ``[start, end)`` of ``text``/``kana`` to the original, covering separators inside it."""
        n = len(self.text)
        start = min(max(start, 0), n)
        end = min(max(end, start), n)
        if self._starts is None or self._ends is None:
            return start, end
        if start == end:
            pos = self._starts[start] if start < n else len(self.original)
            return pos, pos
        return self._starts[start], self._ends[end - 1]

    def __repr__(self) -> str:
        return f"Normalised(text={self.text!r})"


def _fold_slow(s: str) -> tuple[list[str], list[int], list[int]]:
    """Per-character fold for text with invisible, combining or expanding characters."""
    out: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    fold = _FOLD
    for i, c in enumerate(s):
        v = fold[ord(c)]
        if v != _SENTINEL:
            out.append(v)
            starts.append(i)
            ends.append(i + 1)
            continue
        if c in _INVISIBLE or c == _SENTINEL:
            continue
        cat = unicodedata.category(c)
        if cat in ("Cf", "Cs", "Co", "Cn"):
            continue
        if c in _VOICE_MARKS or cat in ("Mn", "Me", "Mc"):
            # A mark belongs to the letter before it: compose when Unicode can (ﾊﾟ -> パ), else drop it
            # (zalgo, variation selectors) while still counting it as part of that letter's span.
            if out:
                mark = _VOICE_MARKS.get(c, c)
                composed = unicodedata.normalize("NFC", out[-1] + mark)
                if len(composed) == 1:
                    out[-1] = composed
                ends[-1] = i + 1
            continue
        for ch in unicodedata.normalize("NFKC", c).casefold():
            if unicodedata.category(ch) in ("Mn", "Me", "Mc") and out and starts[-1] == i:
                composed = unicodedata.normalize("NFC", out[-1] + ch)
                if len(composed) == 1:
                    out[-1] = composed
                continue
            out.append(ch)
            starts.append(i)
            ends.append(i + 1)
    return out, starts, ends


def _apply(
    text: str,
    starts: list[int],
    ends: list[int],
    edits: Iterable[tuple[int, int, str]],
) -> tuple[str, list[int], list[int]]:
    """Replace sorted, non-overlapping ``[i, j)`` ranges; each replacement maps to the range it replaced."""
    out: list[str] = []
    new_starts: list[int] = []
    new_ends: list[int] = []
    pos = 0
    for i, j, repl in edits:
        if i < pos:
            continue
        out.append(text[pos:i])
        new_starts.extend(starts[pos:i])
        new_ends.extend(ends[pos:i])
        if repl:
            out.append(repl)
            new_starts.extend([starts[i]] * len(repl))
            new_ends.extend([ends[j - 1]] * len(repl))
        pos = j
    out.append(text[pos:])
    new_starts.extend(starts[pos:])
    new_ends.extend(ends[pos:])
    return "".join(out), new_starts, new_ends


def _separator_edits(text: str) -> list[tuple[int, int, str]]:
    """Separator runs to remove: between letters, when one side is a lone letter (し ね, 死 ね, こ ろ す).

    Requiring a lone letter keeps ordinary spaced words apart (しね しね stays two words); between two
    ASCII characters both sides must be lone letters (b a k a), so English text keeps its spaces and
    numbers keep theirs.
    """
    if _LONE_RE.search(text) is None:
        return []
    runs = [(m.start(), m.end()) for m in _SEP_RUN_RE.finditer(text)]
    edits: list[tuple[int, int, str]] = []
    n = len(text)
    for k, (i, j) in enumerate(runs):
        if i == 0 or j == n:
            continue
        left, right = text[i - 1], text[j]
        if not (left.isalnum() and right.isalnum()):
            continue
        left_len = i - (runs[k - 1][1] if k > 0 else 0)
        right_len = (runs[k + 1][0] if k + 1 < len(runs) else n) - j
        if left.isascii() and right.isascii():
            if left_len == 1 and right_len == 1 and left.isalpha() and right.isalpha():
                edits.append((i, j, ""))
        elif (left_len == 1 or right_len == 1) and not (left.isdigit() and right.isdigit()):
            edits.append((i, j, ""))
    return edits


def _stretch_edits(text: str) -> list[tuple[int, int, str]]:
    marks = _MARKS_HINT_RE.search(text) is not None
    small = _SMALL_HINT_RE.search(text) is not None
    triple = _TRIPLE_RE.search(text) is not None
    if not (marks or small or triple):
        return []
    edits = [(m.start(), m.end(), m.group("tsu") or "") for m in _MARKS_RE.finditer(text)] if marks else []
    if triple:
        repeats = [(m.start(), m.end(), m.group("rep")) for m in _REPEAT_RE.finditer(text)]
        edits = _leftmost_first(edits, repeats) if edits else repeats
    if not small:
        return edits
    for m in _SMALL_VOWEL_RE.finditer(text):
        vowel = _VOWEL.get(text[m.start() - 1])
        if vowel is not None and _VOWEL.get(m.group()[0]) == vowel:
            edits.append((m.start(), m.end(), ""))
    edits.sort()
    return edits


def _leftmost_first(
    first: list[tuple[int, int, str]], second: list[tuple[int, int, str]]
) -> list[tuple[int, int, str]]:
    """Non-overlapping matches of two scans as one regex alternation ``first|second`` finds them: the
    leftmost start wins, and at the same start the first scan's match."""
    merged: list[tuple[int, int, str]] = []
    reach = 0
    candidates = sorted([(e[0], 0, e) for e in first] + [(e[0], 1, e) for e in second])
    for start, _, edit in candidates:
        if start < reach or (merged and merged[-1][0] == start):
            continue
        merged.append(edit)
        reach = edit[1]
    return merged


def _substitution_edits(text: str) -> list[tuple[int, int, str]]:
    edits: list[tuple[int, int, str]] = []
    if _SUBSTITUTION_HINT_RE.search(text) is not None:
        edits = [(m.start(), m.end(), "死") for m in _SUBSTITUTIONS_RE.finditer(text)]
    if _LOOKALIKE_HINT_RE.search(text) is None:
        return edits
    lookalikes = [(m.start(), m.end(), _LOOKALIKE.get(m.group(), "〇")) for m in _LOOKALIKE_RE.finditer(text)]
    if lookalikes:
        edits = sorted(edits + lookalikes)
    return edits


def normalise(original: str) -> Normalised:
    """Fold ``original`` (NFKC, width, case, separators, stretches, look-alikes); never raises."""
    starts: list[int] | None = None
    ends: list[int] | None = None
    disguised = False
    if unicodedata.is_normalized("NFKC", original) and _SPECIAL_RE.search(original) is None:
        text = original.casefold()
    else:
        text = original.translate(_FOLD)
        # Half-width katakana (ｼﾈ, ｺﾛｽ, ｵｯﾊﾟｲ) is the classic filter-dodging spelling; prose rarely uses it.
        disguised = _HALFWIDTH_RUN_RE.search(original) is not None
    if _SENTINEL in text or len(text) != len(original):
        chars, starts, ends = _fold_slow(original)
        text = "".join(chars)
    for find in (_separator_edits, _stretch_edits, _substitution_edits):
        edits = find(text)
        if edits:
            if find is not _stretch_edits and not disguised:
                disguised = _disguises(text, edits)
            if starts is None or ends is None:
                starts = list(range(len(text)))
                ends = list(range(1, len(text) + 1))
            text, starts, ends = _apply(text, starts, ends, edits)
    kana = text.translate(_KATA_TO_HIRA) if _KATAKANA_RE.search(text) else text
    return Normalised(original, text, kana, starts, ends, disguised)


def _disguises(text: str, edits: list[tuple[int, int, str]]) -> bool:
    """Whether separator or substitution ``edits`` of ``text`` undo a disguise rather than tidy ordinary
    writing: a separator between two lone letters (し ね, b a k a; not あ、もう), 死 spelled 氏/4/タヒ, or a
    look-alike inside a word (ゴ○, エ口; not the ○○ that stands in for a name)."""
    n = len(text)
    for i, j, repl in edits:
        if repl == "死":
            return True
        if repl:  # a look-alike: ○ or 口 between letters, not next to another ○
            before = text[i - 1] if i > 0 else ""
            after = text[j] if j < n else ""
            if before.isalpha() and before not in "○◯●" and after not in "○◯●":
                return True
            continue
        left_lone = i >= 1 and text[i - 1].isalnum() and (i == 1 or not text[i - 2].isalnum())
        right_lone = j < n and text[j].isalnum() and (j + 1 == n or not text[j + 1].isalnum())
        if left_lone and right_lone:
            return True
    return False


def phase(ctx: Context) -> Evidence | None:
    ctx.normalised = normalise(ctx.original)
    return None


# ---- evasion variants (the inverse of the folding above), for training-data augmentation ----

_HIRA_TO_KATA: dict[int, int] = {v: k for k, v in _KATA_TO_HIRA.items()}


def _build_halfwidth() -> dict[str, str]:
    table: dict[str, str] = {}
    for code in range(0xFF61, 0xFFA0):
        hw = chr(code)
        table.setdefault(unicodedata.normalize("NFKC", hw), hw)
        for mark in ("\uff9e", "\uff9f"):
            full = unicodedata.normalize("NFKC", hw + mark)
            if len(full) == 1:
                table.setdefault(full, hw + mark)
    return table


_HALFWIDTH = _build_halfwidth()
_ZERO_WIDTH_INSERTS = ("\u200b", "\u200c", "\u200d", "\u2060", "\ufeff")
_SEPARATOR_INSERTS = (" ", "　", ".", "・", "_", "･")
_DEATH_SPELLINGS = ("氏", "ﾀﾋ", "タヒ", "4", "４", "市")
_KANJI_RE = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff々]")


def _to_halfwidth(word: str) -> str:
    kata = word.translate(_HIRA_TO_KATA)
    return "".join(_HALFWIDTH.get(c, c) for c in kata)


def _to_fullwidth(word: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in word)


def evasion_variants(word: str, rng: random.Random) -> list[str]:
    """Spellings of ``word`` that people use to dodge filters and that ``normalise`` folds back.

    Every variant normalises to text containing the normalised ``word`` (tested), so the model helper can
    use these to augment its training data with realistic evasions.
    """
    if not word:
        return []
    variants: list[str] = []
    if len(word) >= 2 and not any(c.isspace() for c in word):
        # Same rule as _separator_edits: never between digits or between ASCII non-letters.
        sep = rng.choice(_SEPARATOR_INSERTS)
        parts = [word[0]]
        for a, b in itertools.pairwise(word):
            if not (a.isascii() and b.isascii() and not (a.isalpha() and b.isalpha())):
                parts.append(sep)
            parts.append(b)
        variants.append("".join(parts))
        zw = rng.choice(_ZERO_WIDTH_INSERTS)
        cut = rng.randrange(1, len(word))
        variants.append(word[:cut] + zw + word[cut:])
    halfwidth = _to_halfwidth(word)
    if halfwidth != word:
        variants.append(halfwidth)
    fullwidth = _to_fullwidth(word)
    if fullwidth != word:
        variants.append(fullwidth)
        variants.append(fullwidth.upper())
    if any("ぁ" <= c <= "ゖ" or "ァ" <= c <= "ヺ" for c in word[:-1]):
        # Stretch after the first kana with a run of marks (ばーーか); runs of two or more always fold.
        first = next(i for i, c in enumerate(word) if "ぁ" <= c <= "ゖ" or "ァ" <= c <= "ヺ")
        variants.append(word[: first + 1] + "ー" * rng.randint(2, 4) + word[first + 1 :])
    # Not after a doubled letter (いい would fold to い) nor after ー (a katakana ー run folds away whole).
    if word[-1] not in "0123456789wー" and (len(word) < 2 or word[-2] != word[-1]):
        variants.append(word + word[-1] * rng.randint(2, 4))
    m = re.search(r"死(?=ね|ぬ|ん[でだ])", word)
    if m:
        after_kanji = m.start() > 0 and _KANJI_RE.match(word[m.start() - 1]) is not None
        # 氏/市 only fold when not part of a longer kanji word, so avoid them after a kanji.
        spelling = rng.choice(_DEATH_SPELLINGS[1:4] if after_kanji else _DEATH_SPELLINGS)
        variants.append(word[: m.start()] + spelling + word[m.end() :])
    return [v for v in dict.fromkeys(variants) if v != word]
