"""Phase 2: SudachiPy tokens over the normalised text (word boundaries for the rules, features for the model).

The dictionary is loaded once per process on first use. A SudachiPy tokenizer object must not be used by
two threads at once, so each thread gets its own tokenizer over the shared dictionary (cheap to create).
"""

from __future__ import annotations

import threading
from typing import NamedTuple

from sudachipy import Dictionary, Morpheme, SplitMode
from sudachipy import Tokenizer as SudachiTokenizer

from classifiers.phases.context import Context, Evidence

# SudachiPy refuses input over 49,149 UTF-8 bytes; 12,000 characters stay below that for any script.
_CHUNK_CHARS = 12_000

_lock = threading.Lock()
_dictionary: Dictionary | None = None
_local = threading.local()
# part_of_speech() builds a 6-tuple of strings per morpheme; the id -> first field lookup is cached instead.
_pos_names: dict[int, str] = {}
# Each Morpheme accessor re-reads the dictionary's word record (~0.2 µs apiece), and comments reuse a few
# thousand words over and over: a dictionary word's (normalized form, dictionary form, POS) is cached by
# word id. Out-of-vocabulary morphemes (numbers, emoji, unknown katakana) are read directly: their forms
# depend on the surface (2万 -> 20000). Bounded so odd traffic cannot grow it without limit.
_word_info: dict[int, tuple[str, str, str]] = {}
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


def _tokenizer() -> SudachiTokenizer:
    tok: SudachiTokenizer | None = getattr(_local, "tokenizer", None)
    if tok is None:
        global _dictionary
        with _lock:
            if _dictionary is None:
                _dictionary = Dictionary(dict="core")
            tok = _dictionary.tokenizer(mode=SplitMode.C)
        _local.tokenizer = tok
    return tok


def tokenise(text: str) -> list[Token]:
    """Split ``text`` into SudachiPy mode-C tokens with their offsets."""
    if not text:
        return []
    tok = _tokenizer()
    info = _word_info
    tokens: list[Token] = []
    append = tokens.append
    for base in range(0, len(text), _CHUNK_CHARS):
        chunk = text[base : base + _CHUNK_CHARS]
        b = 0  # morphemes tile the input, so each one begins where the previous one ended
        for m in tok.tokenize(chunk):
            e = m.end()
            forms = None if m.is_oov() else info.get(m.word_id())
            if forms is None:
                forms = (m.normalized_form(), m.dictionary_form(), _pos_name(m))
                if not m.is_oov():
                    if len(info) >= _WORD_INFO_MAX:
                        info.clear()
                    info[m.word_id()] = forms
            normalized, dictionary, pos = forms
            append(_new_token(Token, (chunk[b:e], normalized, dictionary, pos, base + b, base + e)))
            b = e
    return tokens


def _pos_name(m: Morpheme) -> str:
    pid = m.part_of_speech_id()
    pos = _pos_names.get(pid)
    if pos is None:
        pos = _pos_names[pid] = m.part_of_speech()[0]
    return pos


def phase(ctx: Context) -> Evidence | None:
    if ctx.normalised is None:
        raise RuntimeError("tokenise phase needs the normalise phase first")
    ctx.tokens = tokenise(ctx.normalised.text)
    return None
