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
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import overload

from classifiers._ngram_scorer import NgramScorer, explainable
from classifiers.phases.normalise import normalise
from classifiers.phases.tokenise import Token, tokenise

# Bumped when the archive's layout changes; an archive of another format is refused.
FORMAT = 2
SCORER_SUFFIX = ".scorer.zip"
_MANIFEST = "manifest.json"
# Binary members: name -> array type code. Stored little-endian; texts as UTF-8 plus lengths in characters.
_ARRAYS = {"idf": "d", "coef": "d", "word_lengths": "q", "char_lengths": "q"}
_TEXTS = ("word_text", "char_text")
# Members kept uncompressed: the coefficients deflate by only ~17% (full-precision doubles), and inflating
# them was a third of loading the scorer, which every `classify` and worker start pays.
_STORED = {"coef": zipfile.ZIP_STORED}

# Numbers read from the archive: a zero-copy view on it, or (big-endian machines) a byte-swapped array.
Buffer = memoryview | array

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


class Vocabulary(Sequence[str]):
    """A model vocabulary as one string and the end offset of each term, instead of a str object per term:
    a worker keeps ~85,000 terms for the few it shows staff (~7 MB less resident)."""

    __slots__ = ("_ends", "_text")

    def __init__(self, text: str, lengths: Iterable[int]) -> None:
        self._text = text
        self._ends = array("q", itertools.accumulate(lengths))
        if (self._ends[-1] if self._ends else 0) != len(text):
            raise ValueError("vocabulary text and lengths disagree")

    @classmethod
    def of(cls, terms: Iterable[str]) -> Vocabulary:
        terms = list(terms)
        return cls("".join(terms), map(len, terms))

    @property
    def text(self) -> str:
        return self._text

    @property
    def ends(self) -> array[int]:
        """Where each term ends in ``text``."""
        return self._ends

    def lengths(self) -> array[int]:
        ends = self._ends
        return array("q", (b - a for a, b in zip([0, *ends[:-1]], ends, strict=True)))

    def __len__(self) -> int:
        return len(self._ends)

    def __iter__(self) -> Iterator[str]:
        text = self._text
        start = 0
        for end in self._ends:
            yield text[start:end]
            start = end

    @overload
    def __getitem__(self, index: int) -> str: ...
    @overload
    def __getitem__(self, index: slice) -> list[str]: ...
    def __getitem__(self, index: int | slice) -> str | list[str]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        ends = self._ends
        if index < 0:
            index += len(ends)
        return self._text[ends[index - 1] if index > 0 else 0 : ends[index]]


@dataclass(frozen=True)
class ScorerParts:
    """What a fitted model hands to inference: exactly what the archive holds."""

    word_terms: Vocabulary  # feature rows 0 .. len-1
    char_terms: Vocabulary  # the rows after them
    idf: Buffer  # doubles (n_features,)
    coef: Buffer  # doubles (n_features, n_categories), row-major
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
            "idf": _le_bytes("d", self.idf),
            "coef": _le_bytes("d", self.coef),
        }
        for name, terms in (("word", self.word_terms), ("char", self.char_terms)):
            members[f"{name}_text"] = terms.text.encode("utf-8")
            members[f"{name}_lengths"] = _le_bytes("q", terms.lengths())
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as z:
            z.writestr(_MANIFEST, json.dumps(manifest, ensure_ascii=False, sort_keys=True))
            for name, data in members.items():
                z.writestr(name, data, compress_type=_STORED.get(name, zipfile.ZIP_DEFLATED))
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
    word_terms = Vocabulary(texts["word_text"], arrays["word_lengths"])
    char_terms = Vocabulary(texts["char_text"], arrays["char_lengths"])
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
        words, chars = parts.word_terms, parts.char_terms
        self._ngrams = NgramScorer(
            words.text, words.ends, chars.text, chars.ends, parts.idf, parts.coef, list(parts.intercept)
        )
        self._words = words
        self._chars = chars
        # Single characters explain nothing to staff (a word bigram loses its joining space when shown).
        self._explains = explainable(words.text, words.ends) + explainable(chars.text, chars.ends)
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

    def judge(
        self, forms: list[str], kana: str, limit: int = 5, cutoffs: array[float] | None = None
    ) -> tuple[list[float], list[str]]:
        """Probabilities, and up to ``limit`` readable features that pushed the category furthest over its
        cut-off (``cutoffs`` in ``categories`` order, default the thresholds) up most (best first, without
        overlaps); no features when nothing reaches a cut-off."""
        cut = self._cutoffs if cutoffs is None else cutoffs
        probs, _, ranked = self._ngrams.judge(forms, _char_document(kana), cut, self._explains)
        if not ranked:
            return probs, []
        chosen: list[str] = []
        folded: list[str] = []  # word features keep katakana, kana grams do not: compare them folded
        for row in ranked:
            text = self.name(row)
            key = text.translate(_KATA_TO_HIRA)
            # A gram inside a chosen one (or around it) repeats it.
            if any(key in c or c in key for c in folded):
                continue
            chosen.append(text)
            folded.append(key)
            if len(chosen) == limit:
                break
        return probs, chosen

    def name(self, row: int) -> str:
        """Feature row -> the text staff see for it (a word bigram without its joining space)."""
        n_words = len(self._words)
        return (self._words[row] if row < n_words else self._chars[row - n_words]).replace(" ", "")


def _char_document(kana: str) -> str:
    """The kana text as sklearn's char analyzer reads it: runs of whitespace folded to one space."""
    return _WHITE_SPACES.sub(" ", kana) if _WHITE_SPACES.search(kana) else kana


def _le_bytes(code: str, values: Buffer) -> bytes:
    """``values`` (items of array type ``code``) as little-endian bytes."""
    data = memoryview(values).cast("B")
    if sys.byteorder == "little":
        return data.tobytes()
    swapped = array(code, data.tobytes())
    swapped.byteswap()
    return swapped.tobytes()


def _from_le_bytes(code: str, data: bytes) -> Buffer:
    """The items of ``data``: a view on it where the machine is little-endian (no copy), else swapped."""
    size = array(code).itemsize
    if len(data) % size:
        raise ValueError("array member of a length that is no whole number of items")
    if sys.byteorder == "little":
        return memoryview(data).cast(code)
    values = array(code)
    values.frombytes(data)
    values.byteswap()
    return values
