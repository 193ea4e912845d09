"""Phase 2: SudachiPy tokens over the normalised text (word boundaries for the rules, features for the model).

The dictionary is loaded once per process on first use. A SudachiPy tokenizer object must not be used by
two threads at once, so each thread gets its own tokenizer over the shared dictionary (cheap to create),
and its own MorphemeList that every call of that thread refills instead of allocating a new one.
"""

from __future__ import annotations

import sys
import threading
from typing import NamedTuple

from sudachipy import Dictionary, Morpheme, MorphemeList, SplitMode
from sudachipy import Tokenizer as SudachiTokenizer

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
# thousand words over and over: a dictionary word's (normalized form, dictionary form, POS, person name?)
# is cached by word id. Out-of-vocabulary morphemes (numbers, emoji, unknown katakana) share word ids and
# their forms depend on the surface (2万 -> 20000), so their ids map to _OOV and they are read directly.
# Bounded so odd traffic cannot grow it without limit.
_Forms = tuple[str, str, str, bool]
_OOV: _Forms = ("", "", "", False)
_word_info: dict[int, _Forms] = {}
_WORD_INFO_MAX = 200_000
_new_token = tuple.__new__  # builds a Token without the Python-level NamedTuple.__new__ frame


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


def tokenise(text: str) -> list[Token]:
    """Split ``text`` into SudachiPy mode-C tokens with their offsets."""
    if not text:
        return []
    tok = _tokenizer()
    out: MorphemeList = _local.morphemes
    get = _word_info.get
    tokens: list[Token] = []
    append = tokens.append
    for base in range(0, len(text), _CHUNK_CHARS):
        chunk = text[base : base + _CHUNK_CHARS] if len(text) > _CHUNK_CHARS else text
        b = 0  # morphemes tile the input, so each one begins where the previous one ended
        for m in tok.tokenize(chunk, out=out):
            e = m.end()
            forms = get(m.word_id())
            if forms is None or forms is _OOV:
                forms = _read_forms(m)
            normalized, dictionary, pos, person = forms
            append(_new_token(Token, (chunk[b:e], normalized, dictionary, pos, base + b, base + e, person)))
            b = e
    return tokens


def _read_forms(m: Morpheme) -> _Forms:
    """A morpheme's forms from the dictionary, remembered by word id unless it is out of vocabulary."""
    pid = m.part_of_speech_id()
    pos = _pos_info.get(pid)
    if pos is None:
        fields = m.part_of_speech()
        pos = _pos_info[pid] = (fields[0], fields[1] == "固有名詞" and fields[2] == "人名")
    # Interned: the model's vocabulary keys are too, so its lookups match on identity.
    forms = (sys.intern(m.normalized_form()), m.dictionary_form(), *pos)
    if len(_word_info) >= _WORD_INFO_MAX:
        _word_info.clear()
    _word_info[m.word_id()] = _OOV if m.is_oov() else forms
    return forms


def phase(ctx: Context) -> Evidence | None:
    if ctx.normalised is None:
        raise RuntimeError("tokenise phase needs the normalise phase first")
    ctx.tokens = tokenise(ctx.normalised.text)
    return None
