"""The comment model reduced to what inference needs: vocabularies, IDF, coefficients, thresholds.

Training (``classifiers/model.py``, scikit-learn) compiles the fitted pipeline into a ``CompiledScorer``
and writes it next to the skops file as a zip of a JSON manifest and raw arrays (``comment_model.scorer.zip``).
The moderation path only imports this module, so a worker never loads scikit-learn, SciPy or numpy
(~170 MB and seconds of start-up). The skops file stays the canonical artifact:
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
import sys
import zipfile
from array import array
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import chain
from pathlib import Path
from typing import Any

from classifiers._ngram_scorer import NgramScorer
from classifiers.phases.normalise import normalise
from classifiers.phases.tokenise import Token, tokenise

# Bumped when the archive's layout changes; an archive of another format is refused.
FORMAT = 2
SCORER_SUFFIX = ".scorer.zip"
_MANIFEST = "manifest.json"
# Binary members: name -> array type code. Stored little-endian; texts as UTF-8 plus lengths in characters.
_ARRAYS = {"idf": "d", "coef": "d", "word_lengths": "q", "char_lengths": "q"}
_TEXTS = ("word_text", "char_text")

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
    """What a fitted model hands to inference: exactly what the archive holds."""

    word_terms: list[str]  # feature rows 0 .. len-1
    char_terms: list[str]  # the rows after them
    idf: array[float]  # (n_features,)
    coef: array[float]  # (n_features, n_categories), row-major
    intercept: list[float]
    categories: list[str]
    thresholds: dict[str, float]
    metadata: dict[str, str]

    def build(self) -> CompiledScorer:
        return CompiledScorer(self)

    def save(self, path: Path, source: Path) -> None:
        """Write the archive for the skops file ``source`` (atomically).

        A zip of a JSON manifest and raw little-endian arrays: it holds no Python objects at all, and
        reading it needs neither pickle nor numpy, so a worker that only moderates never imports numpy
        (~20 MB resident)."""
        manifest = {
            "format": FORMAT,
            "source_sha256": file_sha256(source),
            "metadata": self.metadata,
            "categories": self.categories,
            "thresholds": [self.thresholds[c] for c in self.categories],
            "intercept": self.intercept,
            "n_words": len(self.word_terms),
            "n_chars": len(self.char_terms),
        }
        members: dict[str, bytes] = {
            "idf": _le_bytes(self.idf),
            "coef": _le_bytes(self.coef),
        }
        for name, terms in (("word", self.word_terms), ("char", self.char_terms)):
            members[f"{name}_text"] = "".join(terms).encode("utf-8")
            members[f"{name}_lengths"] = _le_bytes(array("q", map(len, terms)))
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as z:
            z.writestr(_MANIFEST, json.dumps(manifest, ensure_ascii=False, sort_keys=True))
            for name, data in members.items():
                z.writestr(name, data)
        tmp.replace(path)


def load_scorer(path: Path, source: Path) -> CompiledScorer:
    """Read an archive written by ``ScorerParts.save``; it must match the skops file ``source``."""
    try:
        with zipfile.ZipFile(path) as z:
            manifest = json.loads(z.read(_MANIFEST))
            if manifest.get("format") != FORMAT:
                raise ValueError(f"{path}: unknown scorer format {manifest.get('format')!r}")
            if manifest.get("source_sha256") != file_sha256(source):
                raise ValueError(f"{path}: compiled from a different model file than {source.name}")
            arrays = {name: _from_le_bytes(code, z.read(name)) for name, code in _ARRAYS.items()}
            texts = {name: z.read(name).decode("utf-8") for name in _TEXTS}
    except zipfile.BadZipFile as exc:
        raise ValueError(f"{path}: not a scorer archive ({exc})") from exc
    categories = list(manifest["categories"])
    word_terms = _unpack(texts["word_text"], arrays["word_lengths"])
    char_terms = _unpack(texts["char_text"], arrays["char_lengths"])
    if (len(word_terms), len(char_terms)) != (manifest["n_words"], manifest["n_chars"]):
        raise ValueError(f"{path}: vocabulary sizes disagree with the manifest")
    parts = ScorerParts(
        word_terms=word_terms,
        char_terms=char_terms,
        idf=arrays["idf"],
        coef=arrays["coef"],
        intercept=[float(b) for b in manifest["intercept"]],
        categories=categories,
        thresholds=dict(zip(categories, map(float, manifest["thresholds"]), strict=True)),
        metadata=dict(manifest["metadata"]),
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
        self._cutoffs = array("d", (self.thresholds[c] for c in self.categories))

    def score(self, forms: list[str], kana: str) -> list[float]:
        """Each category's probability (``categories`` order) given a comment's word forms and kana text."""
        return self._ngrams.score(forms, _char_document(kana))

    def predict_proba(self, texts: Sequence[str]) -> list[list[float]]:
        """Per text, what CommentModel.predict_proba gives as a row (used to check the compilation)."""
        out = []
        for text in texts:
            norm = normalise(text)
            out.append(self.score(word_features(tokenise(norm.text)), norm.kana))
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


def _le_bytes(values: array[Any]) -> bytes:
    if sys.byteorder == "big":
        values = array(values.typecode, values)
        values.byteswap()
    return values.tobytes()


def _from_le_bytes(code: str, data: bytes) -> array[Any]:
    values = array(code)
    if len(data) % values.itemsize:
        raise ValueError("array member of a length that is no whole number of items")
    values.frombytes(data)
    if sys.byteorder == "big":
        values.byteswap()
    return values


def _unpack(text: str, lengths: Sequence[int]) -> list[str]:
    ends = list(itertools.accumulate(lengths))
    if (ends[-1] if ends else 0) != len(text):
        raise ValueError("vocabulary text and lengths disagree")
    return [text[a:b] for a, b in zip([0, *ends[:-1]], ends, strict=True)]
