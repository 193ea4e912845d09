"""The comment model reduced to what inference needs: vocabularies, IDF, coefficients, thresholds.

Training (``classifiers/model.py``, scikit-learn) compiles the fitted pipeline into a ``CompiledScorer``
and writes it next to the skops file as a plain numpy archive (``comment_model.scorer.npz``, read with
``allow_pickle=False``). The moderation path only imports this module, so a worker never loads
scikit-learn or SciPy (~150 MB and seconds of start-up). The skops file stays the canonical artifact:
the archive records the SHA-256 of the skops file it was compiled from, and ``load_scorer`` refuses an
archive that does not match the skops file beside it.

Scoring one comment is TF-IDF (sublinear tf, l2 norm per feature block, as each ``TfidfVectorizer`` does)
and one logistic regression per category, done by the compiled ``classifiers._ngram_scorer`` in one pass
over the word forms and one over the kana text (interpreted, the same arithmetic cost ~6x as much).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import chain
from pathlib import Path

import numpy as np

from classifiers._ngram_scorer import NgramScorer
from classifiers.phases.normalise import normalise
from classifiers.phases.tokenise import Token, tokenise

# Bumped when the archive's layout changes; an archive of another format is refused.
FORMAT = 1
SCORER_SUFFIX = ".scorer.npz"

_WHITE_SPACES = re.compile(r"\s\s+")  # what sklearn's char analyzer folds before making n-grams
_SKIP_POS = frozenset({"空白"})
_KATA_TO_HIRA = {k: k - 0x60 for k in range(ord("ァ"), ord("ヶ") + 1)}


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
    """TF-IDF and one logistic regression per category over a comment's word forms and kana text.

    Word and character features share one coefficient matrix (words first, then characters, as the
    ColumnTransformer stacks them); each block keeps its own l2 norm, like each TfidfVectorizer does.
    Word n-grams outside the vocabulary are dropped, and the character 1-3-grams counted are exactly those
    the vocabulary has. The loop itself is compiled (``classifiers/_ngram_scorer.pyx``); this class holds
    what explains a verdict to staff.
    """

    def __init__(self, parts: ScorerParts) -> None:
        if len(parts.intercept) != len(parts.categories):
            raise ValueError("vocabularies, IDF and coefficients do not fit together")
        self.categories = tuple(parts.categories)
        self.thresholds = {c: float(parts.thresholds[c]) for c in self.categories}
        self.metadata = dict(parts.metadata)
        self._ngrams = NgramScorer(
            list(parts.word_terms), list(parts.char_terms), parts.idf, parts.coef, list(parts.intercept)
        )
        # Feature row -> readable text for model_tokens (a word bigram loses its joining space); single
        # characters explain nothing to staff.
        self.names = [t.replace(" ", "") for t in chain(parts.word_terms, parts.char_terms)]
        self._explains = bytes(len(t) >= 2 for t in self.names)
        self._cutoffs = np.array([self.thresholds[c] for c in self.categories], dtype=np.float64)

    def score(self, forms: list[str], kana: str) -> list[float]:
        """Each category's probability (``categories`` order) given a comment's word forms and kana text."""
        return self._ngrams.score(forms, _char_document(kana))

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Same contract as CommentModel.predict_proba (used to check the compilation)."""
        out = np.empty((len(texts), len(self.categories)), dtype=np.float64)
        for i, text in enumerate(texts):
            norm = normalise(text)
            out[i] = self.score(word_features(tokenise(norm.text)), norm.kana)
        return out

    def judge(self, forms: list[str], kana: str, limit: int = 5) -> tuple[list[float], list[str]]:
        """Probabilities, and up to ``limit`` readable features that pushed the category furthest over its
        cut-off up most (best first, without overlaps); no features when nothing reaches a cut-off."""
        probs, _, ranked = self._ngrams.judge(forms, _char_document(kana), self._cutoffs, self._explains)
        if not ranked:
            return probs, []
        names = self.names
        chosen: list[str] = []
        folded: list[str] = []  # word features keep katakana, kana grams do not: compare them folded
        for row in ranked:
            text = names[row]
            key = text.translate(_KATA_TO_HIRA)
            # A gram inside a chosen one (or around it) repeats it.
            if any(key in c or c in key for c in folded):
                continue
            chosen.append(text)
            folded.append(key)
            if len(chosen) == limit:
                break
        return probs, chosen


def _char_document(kana: str) -> str:
    """The kana text as sklearn's char analyzer reads it: runs of whitespace folded to one space."""
    return _WHITE_SPACES.sub(" ", kana) if _WHITE_SPACES.search(kana) else kana


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
