"""Phase 2: SudachiPy tokens over the normalised text (word boundaries for the rules, features for the model).

The dictionary is loaded once per process on first use. A SudachiPy tokenizer object must not be used by
two threads at once, so each thread gets its own tokenizer over the shared dictionary (cheap to create),
and its own MorphemeList that every call of that thread refills instead of allocating a new one.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator, Sequence
from typing import Any, NamedTuple, overload

from sudachipy import Dictionary, Morpheme, MorphemeList, SplitMode
from sudachipy import Tokenizer as SudachiTokenizer

from classifiers._morpheme_reader import read_morphemes
from classifiers.phases.context import Context, Evidence

# SudachiPy refuses input over 49,149 UTF-8 bytes; 12,000 characters stay below that for any script.
_CHUNK_CHARS = 12_000

_lock = threading.Lock()
_dictionary: Dictionary | None = None
_local = threading.local()
# part_of_speech() builds a 6-tuple of strings per morpheme; the id -> (first field, person name?) lookup
# is cached instead.
_pos_info: dict[int, tuple[str, bool]] = {}
# Each Morpheme accessor re-reads the dictionary's word record (~0.2 µs apiece), and comments reuse a few
# thousand words over and over: a dictionary word's (normalized form, dictionary form, POS, person name?,
# model word feature) is cached by word id. Out-of-vocabulary morphemes (numbers, emoji, unknown katakana,
# ｗ) share word ids and their forms depend on the surface (2万 -> 20000), so they are cached by surface and
# POS instead. Both bounded so odd traffic cannot grow them without limit.
_Forms = tuple[str, str, str, bool, str]
_word_info: dict[int, _Forms] = {}
_oov_info: dict[tuple[str, int], _Forms] = {}
_WORD_INFO_MAX = 200_000
_new_token = tuple.__new__  # builds a Token without the Python-level NamedTuple.__new__ frame
# POS whose morphemes are no word feature of the model (whitespace).
_SKIP_POS = frozenset({"空白"})


class Token(NamedTuple):
    """One SudachiPy morpheme (a NamedTuple: creating one per morpheme must stay cheap)."""

    surface: str
    normalized_form: str
    dictionary_form: str
    pos: str  # first part-of-speech field, e.g. 名詞, 動詞
    start: int  # offsets in Normalised.text
    end: int
    person: bool = False  # part of a person's name (名詞-固有名詞-人名: 田中, 太郎)


def _tokenizer() -> SudachiTokenizer:
    tok: SudachiTokenizer | None = getattr(_local, "tokenizer", None)
    if tok is None:
        global _dictionary
        with _lock:
            if _dictionary is None:
                _dictionary = Dictionary(dict="core")
            tok = _dictionary.tokenizer(mode=SplitMode.C)
        _local.morphemes = tok.tokenize("")
        _local.tokenizer = tok
    return tok


class Morphemes(Sequence[Token]):
    """A text's SudachiPy morphemes as parallel lists (end offsets, cached forms), the tokenise phase's output.

    Most comments only need the model's word features, so the per-morpheme Token tuples are built on
    first use as a sequence (a word-mode lexicon hit, a person-name cue) rather than for every comment.
    """

    __slots__ = ("_ends", "_forms", "_text", "_tokens")

    def __init__(self, text: str, ends: list[int], forms: list[_Forms]) -> None:
        self._text = text
        self._ends = ends  # offsets in ``text``; morphemes tile it, so each starts where the previous ended
        self._forms = forms
        self._tokens: list[Token] | None = None

    def features(self) -> list[str]:
        """The model's word "document": normalized forms, whitespace dropped (see scorer.word_features)."""
        return [f[4] for f in self._forms if f[4]]

    def tokens(self) -> list[Token]:
        tokens = self._tokens
        if tokens is None:
            text = self._text
            tokens = []
            append = tokens.append
            b = 0
            for e, (normalized, dictionary, pos, person, _) in zip(self._ends, self._forms, strict=True):
                append(_new_token(Token, (text[b:e], normalized, dictionary, pos, b, e, person)))
                b = e
            self._tokens = tokens
        return tokens

    def __len__(self) -> int:
        return len(self._ends)

    def __iter__(self) -> Iterator[Token]:
        return iter(self.tokens())

    @overload
    def __getitem__(self, index: int) -> Token: ...
    @overload
    def __getitem__(self, index: slice) -> list[Token]: ...
    def __getitem__(self, index: int | slice) -> Token | list[Token]:
        return self.tokens()[index]


def scan(text: str) -> Morphemes:
    """SudachiPy mode-C morphemes of ``text``: end offsets and cached forms only, no per-morpheme tuple."""
    ends: list[int] = []
    forms: list[_Forms] = []
    if not text:
        return Morphemes(text, ends, forms)
    tok = _tokenizer()
    out: MorphemeList = _local.morphemes
    for base in range(0, len(text), _CHUNK_CHARS):
        chunk = text[base : base + _CHUNK_CHARS] if len(text) > _CHUNK_CHARS else text
        first = len(forms)
        if read_morphemes(tok.tokenize(chunk, out=out), base, ends, forms, _word_info):
            _fill_misses(out, forms, first)
    return Morphemes(text, ends, forms)


def _fill_misses(out: MorphemeList, forms: list[_Forms], first: int) -> None:
    """Read the forms of new or out-of-vocabulary words while ``out`` still holds their chunk."""
    for i in range(first, len(forms)):
        if forms[i] is None:
            forms[i] = _read_forms(out[i - first])


def tokenise(text: str) -> list[Token]:
    """Split ``text`` into SudachiPy mode-C tokens with their offsets."""
    return scan(text).tokens()


def _read_forms(m: Morpheme) -> _Forms:
    """A morpheme's forms, remembered by word id (or, out of vocabulary, by surface and POS)."""
    pid = m.part_of_speech_id()
    oov_key = (m.surface(), pid) if m.is_oov() else None
    if oov_key is not None:
        known = _oov_info.get(oov_key)
        if known is not None:
            return known
    pos = _pos_info.get(pid)
    if pos is None:
        fields = m.part_of_speech()
        pos = _pos_info[pid] = (fields[0], fields[1] == "固有名詞" and fields[2] == "人名")
    # Interned: the model's vocabulary keys are too, so its lookups match on identity.
    normalized = sys.intern(m.normalized_form())
    feature = "" if pos[0] in _SKIP_POS or not normalized.strip() else normalized.replace(" ", "_")
    forms = (normalized, m.dictionary_form(), *pos, feature)
    cache: dict[Any, _Forms] = _word_info if oov_key is None else _oov_info
    if len(cache) >= _WORD_INFO_MAX:
        cache.clear()
    cache[m.word_id() if oov_key is None else oov_key] = forms
    return forms


def phase(ctx: Context) -> Evidence | None:
    if ctx.normalised is None:
        raise RuntimeError("tokenise phase needs the normalise phase first")
    ctx.tokens = scan(ctx.normalised.text)
    return None
