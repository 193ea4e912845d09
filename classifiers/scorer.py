"""The comment model reduced to what inference needs: vocabularies, IDF, coefficients, thresholds.

Training (``classifiers/model.py``, scikit-learn) compiles the fitted pipeline into a ``CompiledScorer``
and writes it next to the skops file as a plain numpy archive (``comment_model.scorer.npz``, read with
``allow_pickle=False``). The moderation path only imports this module, so a worker never loads
scikit-learn or SciPy (~150 MB and seconds of start-up). The skops file stays the canonical artifact:
the archive records the SHA-256 of the skops file it was compiled from, and ``load_scorer`` refuses an
archive that does not match the skops file beside it.

Scoring one comment is TF-IDF (sublinear tf, l2 norm per feature block, as each ``TfidfVectorizer`` does)
and one logistic regression per category, written so that a comment costs a handful of numpy calls: the
n-grams are counted as feature rows in C (one ``Counter`` over ``map(dict.get)`` and the automaton), unknown n-grams all land on
one extra all-zero row instead of being filtered out, and the ten sigmoids are plain ``math.exp``.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import operator
import re
import sys
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import chain, pairwise
from pathlib import Path

import ahocorasick
import numpy as np

from classifiers.phases.normalise import normalise
from classifiers.phases.tokenise import Token, tokenise

# Bumped when the archive's layout changes; an archive of another format is refused.
FORMAT = 1
SCORER_SUFFIX = ".scorer.npz"

_WHITE_SPACES = re.compile(r"\s\s+")  # what sklearn's char analyzer folds before making n-grams
_SKIP_POS = frozenset({"空白"})
_KATA_TO_HIRA = {k: k - 0x60 for k in range(ord("ァ"), ord("ヶ") + 1)}
_SECOND = operator.itemgetter(1)  # the value of an automaton hit (end, value)
_TF_COUNTS = 256  # counts the tf table covers from the start; a comment repeating a feature more widens it


def word_features(tokens: Iterable[Token]) -> list[str]:
    """The word "document" of a comment: normalized forms, whitespace tokens dropped."""
    return [
        t.normalized_form.replace(" ", "_")
        for t in tokens
        if t.pos not in _SKIP_POS and t.normalized_form.strip()
    ]


def _tf_columns(size: int) -> np.ndarray:
    """Sublinear tf by count for the block product: column ``c`` (a word feature seen c times) holds
    ``[tf, 0, tf², 0]`` and column ``size + c`` (a char feature) ``[0, tf, 0, tf²]``, tf = 1 + ln(c)."""
    tf = np.zeros(size, dtype=np.float64)
    tf[1:] = np.log(np.arange(1, size, dtype=np.float64)) + 1.0
    columns = np.zeros((4, 2 * size), dtype=np.float64)
    columns[0, :size] = columns[1, size:] = tf
    columns[2, :size] = columns[3, size:] = tf * tf
    return columns


def scorer_path(model_path: Path) -> Path:
    """Where the compiled scorer of the skops file ``model_path`` lives."""
    return model_path.with_suffix(SCORER_SUFFIX)


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


class Scored:
    """One comment's probabilities (TEXT_CATEGORIES order) and what top_features needs to explain them."""

    __slots__ = ("idx", "n_words", "probabilities", "rows", "scales", "tf_rows")

    def __init__(
        self,
        probabilities: list[float],
        idx: np.ndarray,
        rows: np.ndarray,
        tf_rows: np.ndarray,
        n_words: int,
        scales: tuple[float, float],
    ) -> None:
        self.probabilities = probabilities
        self.idx = idx  # feature rows present in the comment, word rows first (may include the unknown row)
        self.rows = rows  # their rows of the work table: idf², then idf * coef per category
        self.tf_rows = tf_rows  # their sublinear tf: word block, char block, then both squared (4, n)
        self.n_words = n_words  # how many of them are word features
        self.scales = scales  # 1 / l2 norm of the word block and of the character block (0 when empty)


@dataclass(frozen=True)
class ScorerParts:
    """What a fitted model hands to inference: exactly the arrays the archive holds."""

    word_terms: list[str]  # feature rows 0 .. len-1
    char_terms: list[str]  # the rows after them
    idf: np.ndarray  # (n_features,)
    coef: np.ndarray  # (n_features, n_categories)
    intercept: list[float]
    categories: list[str]
    thresholds: dict[str, float]
    metadata: dict[str, str]

    def build(self) -> CompiledScorer:
        return CompiledScorer(self)

    def save(self, path: Path, source: Path) -> None:
        """Write the archive for the skops file ``source`` (atomically, no pickled objects)."""
        arrays: dict[str, np.ndarray] = {
            "format": np.array(FORMAT, dtype=np.int64),
            "source_sha256": np.array(file_sha256(source)),
            "metadata": np.array(json.dumps(self.metadata, ensure_ascii=False, sort_keys=True)),
            "categories": np.array(self.categories, dtype=str),
            "thresholds": np.array([self.thresholds[c] for c in self.categories], dtype=np.float64),
            "intercept": np.array(self.intercept, dtype=np.float64),
            "idf": np.asarray(self.idf, dtype=np.float64),
            "coef": np.asarray(self.coef, dtype=np.float64),
        }
        for name, terms in (("word", self.word_terms), ("char", self.char_terms)):
            arrays[f"{name}_text"], arrays[f"{name}_lengths"] = _pack(terms)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        with tmp.open("wb") as fh:
            np.savez_compressed(fh, **arrays)  # type: ignore[arg-type]
        tmp.replace(path)


def load_scorer(path: Path, source: Path) -> CompiledScorer:
    """Read an archive written by ``ScorerParts.save``; it must match the skops file ``source``."""
    with np.load(path, allow_pickle=False) as z:
        if int(z["format"]) != FORMAT:
            raise ValueError(f"{path}: unknown scorer format {int(z['format'])}")
        if str(z["source_sha256"]) != file_sha256(source):
            raise ValueError(f"{path}: compiled from a different model file than {source.name}")
        categories = z["categories"].tolist()
        parts = ScorerParts(
            word_terms=_unpack(z["word_text"], z["word_lengths"]),
            char_terms=_unpack(z["char_text"], z["char_lengths"]),
            idf=z["idf"],
            coef=z["coef"],
            intercept=z["intercept"].tolist(),
            categories=categories,
            thresholds=dict(zip(categories, z["thresholds"].tolist(), strict=True)),
            metadata=json.loads(str(z["metadata"])),
        )
    return parts.build()


class CompiledScorer:
    """TF-IDF and one logistic regression per category, as a few dict/automaton lookups and one matmul.

    Word and character features share one coefficient matrix (words first, then characters, as the
    ColumnTransformer stacks them); each block keeps its own l2 norm, like each TfidfVectorizer does.
    The work table holds, per feature row, ``idf²`` and ``idf * coef``: with the comment's term
    frequencies in a (4, n) matrix (word tf, char tf, word tf², char tf², each row zero outside its block)
    one product gives both blocks' dot products and both squared norms. The last table row is all zeros:
    every word n-gram outside the vocabulary maps there. Character n-grams are found by an Aho-Corasick
    automaton over the vocabulary, which reports exactly the 1-3-grams the vocabulary has without
    building a string for each of them.
    """

    def __init__(self, parts: ScorerParts) -> None:
        n_words = len(parts.word_terms)
        n = n_words + len(parts.char_terms)
        k = len(parts.categories)
        idf = np.asarray(parts.idf, dtype=np.float64)
        coef = np.asarray(parts.coef, dtype=np.float64)
        if idf.shape != (n,) or coef.shape != (n, k) or len(parts.intercept) != k:
            raise ValueError("vocabularies, IDF and coefficients do not fit together")
        self.categories = tuple(parts.categories)
        self.thresholds = {c: float(parts.thresholds[c]) for c in self.categories}
        self.cutoffs = [self.thresholds[c] for c in self.categories]  # the thresholds in category order
        self.metadata = dict(parts.metadata)
        self.intercept = [float(b) for b in parts.intercept]
        # Word unigrams by form and bigrams by (form, form), the tuples pairwise() hands out, so no joined
        # string is built per pair. Interned like the tokenise phase's forms: a lookup then matches on
        # identity instead of comparing the text of a vocabulary key it would first have to fetch.
        self._unigrams: dict[str, int] = {}
        self._bigrams: dict[tuple[str, str], int] = {}
        for j, term in enumerate(parts.word_terms):
            first, space, second = term.partition(" ")
            if space:
                self._bigrams[sys.intern(first), sys.intern(second)] = j
            else:
                self._unigrams[sys.intern(term)] = j
        # Values are stored Python ints, handed back as they are (no int built per hit).
        self._chars = ahocorasick.Automaton(ahocorasick.STORE_ANY)
        for j, term in enumerate(parts.char_terms, n_words):
            self._chars.add_word(term, j)
        self._chars.make_automaton()
        self._has_chars = bool(parts.char_terms)  # iterating an empty automaton raises
        # Feature row -> readable text for model_tokens (a word bigram loses its joining space).
        self.names = [t.replace(" ", "") for t in chain(parts.word_terms, parts.char_terms)]
        self._explains = np.array([len(t) >= 2 for t in self.names] + [False], dtype=bool)
        table = np.zeros((n + 1, k + 1), dtype=np.float64)
        table[:n, 0] = idf * idf
        table[:n, 1:] = idf[:, None] * coef
        self._table = table
        self._unknown = itertools.repeat(n)  # dict.get default for map(); repeat() holds no state
        self._tf_columns = _tf_columns(_TF_COUNTS)

    def _widen_tf_columns(self, count: int) -> np.ndarray:
        """Columns covering ``count`` (a comment repeating one feature that often is rare). Replaced whole,
        so a thread scoring with the previous table at the same time is unaffected."""
        columns = _tf_columns(max(count + 1, 2 * (self._tf_columns.shape[1] // 2)))
        self._tf_columns = columns
        return columns

    def score(self, forms: list[str], kana: str) -> Scored:
        """Probabilities for a comment given its word forms and its kana text."""
        # One Counter for both blocks: word rows come first (insertion order) and never equal char rows.
        unknown = self._unknown
        counts = Counter(
            chain(map(self._unigrams.get, forms, unknown), map(self._bigrams.get, pairwise(forms), unknown))
        )
        n_words = len(counts)
        if kana and self._has_chars:
            text = _WHITE_SPACES.sub(" ", kana) if _WHITE_SPACES.search(kana) else kana
            counts.update(map(_SECOND, self._chars.iter(text)))
        # Each feature's column of the block product, looked up by its count (char counts shifted past
        # the word columns) instead of computed: about half the numpy calls, which dominate here.
        columns = self._tf_columns
        size = columns.shape[1] // 2
        top = max(counts.values(), default=0)
        if top >= size:
            columns = self._widen_tf_columns(top)
            size = columns.shape[1] // 2
        codes = np.array(list(counts.values()), np.intp)
        codes[n_words:] += size
        tf_rows = columns.take(codes, axis=1)
        idx = np.array(list(counts), np.intp)
        rows = self._table.take(idx, axis=0)
        # [word tf · rows, char tf · rows, word tf² · rows, char tf² · rows]: the dot products per block,
        # and in the first column of the last two the squared norms (np.dot: less dispatch than @).
        word_sums, char_sums, (word_sq, *_), (char_sq, *_) = np.dot(tf_rows, rows).tolist()
        sw = 1.0 / math.sqrt(word_sq) if word_sq else 0.0
        sc = 1.0 / math.sqrt(char_sq) if char_sq else 0.0
        exp = math.exp
        # exp() of a huge argument raises; below -700 the probability is 0 to double precision anyway.
        probabilities = [
            1.0 / (1.0 + exp(-z)) if (z := b + w * sw + c * sc) > -700.0 else 0.0
            for b, w, c in zip(self.intercept, word_sums[1:], char_sums[1:], strict=True)
        ]
        return Scored(probabilities, idx, rows, tf_rows, n_words, (sw, sc))

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Same contract as CommentModel.predict_proba (used to check the compilation)."""
        out = np.empty((len(texts), len(self.categories)), dtype=np.float64)
        for i, text in enumerate(texts):
            norm = normalise(text)
            out[i] = self.score(word_features(tokenise(norm.text)), norm.kana).probabilities
        return out

    def top_features(self, scored: Scored, category: int, limit: int = 5) -> list[str]:
        """The readable features that pushed ``category`` up most, best first, without overlaps."""
        # Each feature's weight in the score: its tf times its block's 1 / norm (tf is 0 outside its block).
        share = np.dot(scored.scales, scored.tf_rows[:2]) * scored.rows[:, category + 1]
        # Only features that pushed the category up can explain it, and single characters explain nothing
        # to staff; ties keep the features' order (stable).
        candidates = np.flatnonzero((share > 0) & self._explains[scored.idx])
        order = candidates[np.argsort(-share[candidates], kind="stable")].tolist()
        rows = scored.idx.tolist()
        names = self.names
        chosen: list[str] = []
        folded: list[str] = []  # word features keep katakana, kana grams do not: compare them folded
        for k in order:
            text = names[rows[k]]
            key = text.translate(_KATA_TO_HIRA)
            # A gram inside a chosen one (or around it) repeats it.
            if any(key in c or c in key for c in folded):
                continue
            chosen.append(text)
            folded.append(key)
            if len(chosen) == limit:
                break
        return chosen


def _pack(terms: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Terms as one UTF-8 byte array plus their lengths in characters (a term may hold any character)."""
    blob = "".join(terms).encode("utf-8")
    return np.frombuffer(blob, dtype=np.uint8), np.array([len(t) for t in terms], dtype=np.int64)


def _unpack(blob: np.ndarray, lengths: np.ndarray) -> list[str]:
    text = blob.tobytes().decode("utf-8")
    ends = list(itertools.accumulate(lengths.tolist()))
    if (ends[-1] if ends else 0) != len(text):
        raise ValueError("vocabulary text and lengths disagree")
    return [text[a:b] for a, b in zip([0, *ends[:-1]], ends, strict=True)]
