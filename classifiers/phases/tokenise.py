"""Phase 2: SudachiPy tokens over the normalised text (word boundaries for the rules, features for the model).

The dictionary is loaded once per process on first use. A SudachiPy tokenizer object must not be used by
two threads at once, so each thread gets its own tokenizer over the shared dictionary (cheap to create).
"""

from __future__ import annotations

import threading
from typing import NamedTuple

from sudachipy import Dictionary, SplitMode
from sudachipy import Tokenizer as SudachiTokenizer

from classifiers.phases.context import Context, Evidence

# SudachiPy refuses input over 49,149 UTF-8 bytes; 12,000 characters stay below that for any script.
_CHUNK_CHARS = 12_000

_lock = threading.Lock()
_dictionary: Dictionary | None = None
_local = threading.local()
# part_of_speech() builds a 6-tuple of strings per morpheme; the id -> first field lookup is cached instead.
_pos_names: dict[int, str] = {}


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
    pos_names = _pos_names
    tokens: list[Token] = []
    for base in range(0, len(text), _CHUNK_CHARS):
        chunk = text[base : base + _CHUNK_CHARS]
        for m in tok.tokenize(chunk):
            b = m.begin()
            e = m.end()
            pid = m.part_of_speech_id()
            pos = pos_names.get(pid)
            if pos is None:
                pos = pos_names[pid] = m.part_of_speech()[0]
            tokens.append(
                Token(chunk[b:e], m.normalized_form(), m.dictionary_form(), pos, base + b, base + e)
            )
    return tokens


def phase(ctx: Context) -> Evidence | None:
    if ctx.normalised is None:
        raise RuntimeError("tokenise phase needs the normalise phase first")
    ctx.tokens = tokenise(ctx.normalised.text)
    return None
