"""The comment model reduced to what inference needs: vocabularies, IDF, coefficients, thresholds.

Training (``classifiers/model.py``, scikit-learn) compiles the fitted pipeline into a ``CompiledScorer``
and writes it next to the skops file as a plain numpy archive (``comment_model.scorer.npz``, read with
``allow_pickle=False``). The moderation path only imports this module, so a worker never loads
scikit-learn or SciPy (~150 MB and seconds of start-up). The skops file stays the canonical artifact:
the archive records the SHA-256 of the skops file it was compiled from, and ``load_scorer`` refuses an
archive that does not match the skops file beside it.

Scoring one comment is TF-IDF (sublinear tf, l2 norm per feature block, as each ``TfidfVectorizer`` does)
and one logistic regression per category, written so that a comment costs a handful of numpy calls: the
n-grams are counted as feature rows in C (``Counter`` over ``map(dict.get)``), unknown n-grams all land on
one extra all-zero row instead of being filtered out, and the ten sigmoids are plain ``math.exp``.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import operator
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from classifiers.phases.normalise import normalise
from classifiers.phases.tokenise import Token, tokenise

# Bumped when the archive's layout changes; an archive of another format is refused.
FORMAT = 1
SCORER_SUFFIX = ".scorer.npz"

_WHITE_SPACES = re.compile(r"\s\s+")  # what sklearn's char analyzer folds before making n-grams
_SKIP_POS = frozenset({"空白"})
_KATA_TO_HIRA = {k: k - 0x60 for k in range(ord("ァ"), ord("ヶ") + 1)}
# Sublinear tf (1 + ln count) for the counts a comment realistically has; larger counts are computed.
_SUBLINEAR = [0.0] + [1.0 + math.log(c) for c in range(1, 256)]


def word_features(tokens: Iterable[Token]) -> list[str]:
    """The word "document" of a comment: normalized forms, whitespace tokens dropped."""
    return [
        t.normalized_form.replace(" ", "_")
        for t in tokens
        if t.pos not in _SKIP_POS and t.normalized_form.strip()
    ]


def scorer_path(model_path: Path) -> Path:
    """Where the compiled scorer of the skops file ``model_path`` lives."""
    return model_path.with_suffix(SCORER_SUFFIX)


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


class Scored:
    """One comment's probabilities (TEXT_CATEGORIES order) and the features behind them."""

    __slots__ = ("idx", "probabilities", "weights")

    def __init__(self, probabilities: list[float], idx: np.ndarray, weights: np.ndarray) -> None:
        self.probabilities = probabilities
        self.idx = idx  # feature rows present in the comment (may include the all-zero unknown row)
        self.weights = weights  # their l2-normalised (per block) TF-IDF weights


class CompiledScorer:
    """The fitted pipeline as dict lookups and one small matrix product.

    Word and character features share one coefficient matrix (words first, then characters, as the
    ColumnTransformer stacks them); each block keeps its own l2 norm. Row ``n_features`` is all zeros
    (IDF and coefficients): every n-gram outside the vocabulary maps there and weighs nothing.
    """

    def __init__(
        self,
        word_terms: Sequence[str],
        char_terms: Sequence[str],
        idf: np.ndarray,
        coef: np.ndarray,
        intercept: Sequence[float],
        categories: Sequence[str],
        thresholds: dict[str, float],
        metadata: dict[str, str],
    ) -> None:
        n_words = len(word_terms)
        n = n_words + len(char_terms)
        idf = np.asarray(idf, dtype=np.float64)
        coef = np.asarray(coef, dtype=np.float64)
        if idf.shape != (n,) or coef.shape != (n, len(categories)) or len(intercept) != len(categories):
            raise ValueError("vocabularies, IDF and coefficients do not fit together")
        self.word_terms = list(word_terms)
        self.char_terms = list(char_terms)
        self.word_vocab = dict(zip(self.word_terms, range(n_words), strict=True))
        self.char_vocab = dict(zip(self.char_terms, range(n_words, n), strict=True))
        self.n_features = n
        self.idf = np.append(idf, 0.0)
        # C-contiguous so a row gather is one memcpy per feature.
        self.coef = np.ascontiguousarray(np.vstack([coef, np.zeros((1, len(categories)))]))
        self.intercept = [float(b) for b in intercept]
        self.categories = tuple(categories)
        self.thresholds = {c: float(thresholds[c]) for c in self.categories}
        self.metadata = dict(metadata)
        self._unknown = itertools.repeat(n)  # dict.get default for map(); repeat() holds no state

    # ---- scoring

    def score(self, forms: list[str], kana: str) -> Scored:
        """Probabilities for a comment given its word forms and its kana text."""
        unknown = self._unknown
        # Word uni- and bigrams, then kana character 1-3-grams, counted as feature rows.
        counts = Counter(map(self.word_vocab.get, forms, unknown))
        if len(forms) > 1:
            counts.update(map(self.word_vocab.get, map(" ".join, itertools.pairwise(forms)), unknown))
        split = len(counts)
        if kana:
            text = _WHITE_SPACES.sub(" ", kana) if _WHITE_SPACES.search(kana) else kana
            bigrams = list(map(operator.add, text, text[1:]))
            get = self.char_vocab.get
            counts.update(map(get, text, unknown))
            counts.update(map(get, bigrams, unknown))
            counts.update(map(get, map(operator.add, bigrams, text[2:]), unknown))
        n = len(counts)
        idx = np.fromiter(counts, dtype=np.intp, count=n)
        tf = counts.values()
        if max(tf, default=0) < len(_SUBLINEAR):
            weights = np.fromiter(map(_SUBLINEAR.__getitem__, tf), dtype=np.float64, count=n)
        else:
            weights = np.log(np.fromiter(tf, dtype=np.float64, count=n)) + 1.0
        weights *= self.idf[idx]
        # The unknown row may sit in the word block; its weight is 0 there and in either norm.
        for block in (weights[:split], weights[split:]):
            norm = math.sqrt(block @ block)
            if norm:
                block /= norm
        logits = (weights @ self.coef[idx]).tolist()
        probabilities = [_sigmoid(b + z) for b, z in zip(self.intercept, logits, strict=True)]
        return Scored(probabilities, idx, weights)

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Same contract as CommentModel.predict_proba (used to check the compilation)."""
        out = np.empty((len(texts), len(self.categories)), dtype=np.float64)
        for i, text in enumerate(texts):
            norm = normalise(text)
            out[i] = self.score(word_features(tokenise(norm.text)), norm.kana).probabilities
        return out

    def top_features(self, scored: Scored, category: int, limit: int = 5) -> list[str]:
        """The readable features that pushed ``category`` up most, best first, without overlaps."""
        share = self.coef[scored.idx, category] * scored.weights
        order = np.argsort(-share, kind="stable")
        chosen: list[str] = []
        folded: list[str] = []  # word features keep katakana, kana grams do not: compare them folded
        for k in order.tolist():
            if share[k] <= 0:
                break
            text = self.feature_name(int(scored.idx[k]))
            key = text.translate(_KATA_TO_HIRA)
            # Single characters explain nothing to staff; a gram inside a chosen one repeats it.
            if len(text) < 2 or any(key in c or c in key for c in folded):
                continue
            chosen.append(text)
            folded.append(key)
            if len(chosen) == limit:
                break
        return chosen

    def feature_name(self, row: int) -> str:
        """Feature row -> readable text (a word bigram loses its joining space)."""
        n_words = len(self.word_terms)
        term = self.word_terms[row] if row < n_words else self.char_terms[row - n_words]
        return term.replace(" ", "")

    # ---- the archive

    def save(self, path: Path, source: Path) -> None:
        """Write the archive for the skops file ``source`` (atomically, no pickled objects)."""
        k = len(self.categories)
        arrays: dict[str, np.ndarray] = {
            "format": np.array(FORMAT, dtype=np.int64),
            "source_sha256": np.array(file_sha256(source)),
            "metadata": np.array(json.dumps(self.metadata, ensure_ascii=False, sort_keys=True)),
            "categories": np.array(self.categories, dtype=str),
            "thresholds": np.array([self.thresholds[c] for c in self.categories], dtype=np.float64),
            "intercept": np.array(self.intercept, dtype=np.float64),
            "idf": self.idf[:-1],
            "coef": self.coef[:-1].reshape(-1, k),
        }
        for name, terms in (("word", self.word_terms), ("char", self.char_terms)):
            arrays[f"{name}_text"], arrays[f"{name}_lengths"] = _pack(terms)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        with tmp.open("wb") as fh:
            np.savez_compressed(fh, **arrays)  # type: ignore[arg-type]
        tmp.replace(path)


def load_scorer(path: Path, source: Path) -> CompiledScorer:
    """Read an archive written by ``CompiledScorer.save``; it must match the skops file ``source``."""
    with np.load(path, allow_pickle=False) as z:
        if int(z["format"]) != FORMAT:
            raise ValueError(f"{path}: unknown scorer format {int(z['format'])}")
        if str(z["source_sha256"]) != file_sha256(source):
            raise ValueError(f"{path}: compiled from a different model file than {source.name}")
        return CompiledScorer(
            _unpack(z["word_text"], z["word_lengths"]),
            _unpack(z["char_text"], z["char_lengths"]),
            z["idf"],
            z["coef"],
            z["intercept"].tolist(),
            z["categories"].tolist(),
            dict(zip(z["categories"].tolist(), z["thresholds"].tolist(), strict=True)),
            json.loads(str(z["metadata"])),
        )


def _sigmoid(z: float) -> float:
    # Split by sign so exp() never overflows, as scipy's expit does.
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


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
