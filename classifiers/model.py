"""The multi-label comment model: scikit-learn for training, a compiled scorer for inference.

Features are TF-IDF over SudachiPy normalized forms (unigrams and bigrams of the normalised text) plus
TF-IDF over character 1-3-grams of ``Normalised.kana``; one logistic regression per category
(one-vs-rest, balanced class weights). Impersonation is not a text category (it is about the author's
name, judged by ``phases/impersonation.py``), so the model does not cover it.

sklearn's per-call overhead (two vectorizer transforms and ten predict_proba calls) costs milliseconds per
comment, so at load time the fitted pipeline is compiled into ``CompiledScorer``: feature -> row dicts,
IDF and coefficient arrays, sublinear tf and l2 norm by hand, then a sigmoid. It agrees with
``predict_proba`` to 1e-6 (tested).

Artifacts are written with skops, never pickle; loading checks the file's types against an explicit
trusted list.
"""

from __future__ import annotations

import copy
import itertools
import math
import re
import zipfile
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import skops.io as sio
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.compose import ColumnTransformer
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.multiclass import OneVsRestClassifier
from sklearn.pipeline import Pipeline

from classifiers.categories import CATEGORY_NAMES
from classifiers.phases.normalise import normalise
from classifiers.phases.tokenise import Token, tokenise

# Every category the text can show; impersonation depends on the author's name only.
TEXT_CATEGORIES: tuple[str, ...] = tuple(c for c in CATEGORY_NAMES if c != "impersonation")

# Types in a comment_model.skops file beyond skops' own defaults. Anything else in a file is refused.
TRUSTED_TYPES: tuple[str, ...] = (
    "classifiers.model.CommentModel",
    "classifiers.model.TextPreparer",
)

_WORD_TOKEN_PATTERN = r"\S+"
_WHITE_SPACES = re.compile(r"\s\s+")  # what sklearn's char analyzer folds before making n-grams
_SKIP_POS = frozenset({"空白"})
_KATA_TO_HIRA = {k: k - 0x60 for k in range(ord("ァ"), ord("ヶ") + 1)}
_MISSING = itertools.repeat(-1)  # dict.get default for map(); repeat() holds no state


def word_features(tokens: Iterable[Token]) -> list[str]:
    """The word "document" of a comment: normalized forms, whitespace tokens dropped."""
    return [
        t.normalized_form.replace(" ", "_")
        for t in tokens
        if t.pos not in _SKIP_POS and t.normalized_form.strip()
    ]


def prepare_text(text: str) -> tuple[str, str]:
    """(word document, kana document) of one comment, exactly as the model phase sees it."""
    norm = normalise(text)
    return " ".join(word_features(tokenise(norm.text))), norm.kana


class TextPreparer(TransformerMixin, BaseEstimator):
    """Raw comments -> an (n, 2) object array: word document, kana document."""

    def fit(self, texts: Sequence[str], y: Any = None) -> TextPreparer:
        return self

    def transform(self, texts: Sequence[str]) -> np.ndarray:
        out = np.empty((len(texts), 2), dtype=object)
        for i, text in enumerate(texts):
            out[i, 0], out[i, 1] = prepare_text(text)
        return out


def build_pipeline(c: float = 8.0, char_min_df: int = 2, seed: int = 0) -> Pipeline:
    words = TfidfVectorizer(
        token_pattern=_WORD_TOKEN_PATTERN,
        lowercase=False,
        ngram_range=(1, 2),
        sublinear_tf=True,
        dtype=np.float64,
    )
    chars = TfidfVectorizer(
        analyzer="char",
        lowercase=False,
        ngram_range=(1, 3),
        min_df=char_min_df,
        sublinear_tf=True,
        dtype=np.float64,
    )
    features = ColumnTransformer([("words", words, 0), ("chars", chars, 1)], sparse_threshold=1.0)
    clf = OneVsRestClassifier(
        LogisticRegression(C=c, class_weight="balanced", solver="liblinear", max_iter=2000, random_state=seed)
    )
    return Pipeline([("prepare", TextPreparer()), ("features", features), ("clf", clf)])


class CommentModel(BaseEstimator):
    """scikit-learn style multi-label model over TEXT_CATEGORIES, with its per-category thresholds."""

    def __init__(self, c: float = 8.0, char_min_df: int = 2, seed: int = 0) -> None:
        self.c = c
        self.char_min_df = char_min_df
        self.seed = seed

    def fit(self, texts: Sequence[str], y: np.ndarray) -> CommentModel:
        """``y``: (n, len(TEXT_CATEGORIES)) 0/1 indicator matrix."""
        y = np.asarray(y, dtype=np.int64)
        if y.ndim != 2 or y.shape[1] != len(TEXT_CATEGORIES):
            raise ValueError(f"y must have {len(TEXT_CATEGORIES)} columns")
        self.pipeline_ = build_pipeline(self.c, self.char_min_df, self.seed).fit(list(texts), y)
        self.categories_ = list(TEXT_CATEGORIES)
        self.thresholds_ = dict.fromkeys(TEXT_CATEGORIES, 0.5)
        self.metadata_: dict[str, str] = {}
        return self

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        return np.asarray(self.pipeline_.predict_proba(list(texts)), dtype=np.float64)

    def predict(self, texts: Sequence[str]) -> np.ndarray:
        cut = np.array([self.thresholds_[c] for c in self.categories_])
        return (self.predict_proba(texts) >= cut).astype(np.int64)

    def compile(self) -> CompiledScorer:
        return CompiledScorer.from_model(self)

    # skops writes a dict as one JSON node per entry: the vocabularies would make a ~30 MB schema that
    # takes ~100 MB of memory to read back. They travel as numpy string arrays instead (index order).
    def __getstate__(self) -> dict[str, Any]:
        # object.__getstate__ may hand back the instance's own __dict__: never edit that in place.
        state = dict(super().__getstate__())
        if "pipeline_" in state:
            pipeline = copy.deepcopy(self.pipeline_)
            vocabularies: dict[str, np.ndarray] = {}
            for name, vec in _vectorizers(pipeline):
                terms = sorted(vec.vocabulary_, key=vec.vocabulary_.__getitem__)
                vocabularies[name] = np.array(terms, dtype=str)
                del vec.vocabulary_
            state["pipeline_"] = pipeline
            state["vocabularies_"] = vocabularies
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        vocabularies = state.pop("vocabularies_", None)
        super().__setstate__(state)
        if vocabularies is not None:
            for name, vec in _vectorizers(self.pipeline_):
                vec.vocabulary_ = {str(term): i for i, term in enumerate(vocabularies[name].tolist())}


def _vectorizers(pipeline: Pipeline) -> list[tuple[str, TfidfVectorizer]]:
    ct: ColumnTransformer = pipeline.named_steps["features"]
    return [(name, ct.named_transformers_[name]) for name in ("words", "chars")]


def labels_matrix(rows: Sequence[Sequence[str]]) -> np.ndarray:
    """Label lists -> indicator matrix over TEXT_CATEGORIES (impersonation and unknown names dropped)."""
    index = {c: i for i, c in enumerate(TEXT_CATEGORIES)}
    y = np.zeros((len(rows), len(TEXT_CATEGORIES)), dtype=np.int64)
    for i, labels in enumerate(rows):
        for label in labels:
            j = index.get(label)
            if j is not None:
                y[i, j] = 1
    return y


@dataclass(frozen=True, slots=True)
class Scored:
    probabilities: np.ndarray  # (n_categories,), in TEXT_CATEGORIES order
    idx: np.ndarray  # rows of the combined feature matrix present in the comment
    weights: np.ndarray  # their l2-normalised (per block) TF-IDF weights


class CompiledScorer:
    """The fitted pipeline reduced to dict lookups and one small matrix product.

    Word and character features share one coefficient matrix (words first, then characters, as the
    ColumnTransformer stacks them); each block keeps its own l2 norm, like each TfidfVectorizer does.
    """

    def __init__(
        self,
        word_vocab: dict[str, int],
        char_vocab: dict[str, int],
        idf: np.ndarray,
        coef: np.ndarray,
        intercept: np.ndarray,
        categories: Sequence[str],
        thresholds: dict[str, float],
        metadata: dict[str, str],
    ) -> None:
        self.word_vocab = word_vocab
        self.char_vocab = char_vocab  # indices already offset past the word features
        self.idf = idf
        self.coef = coef  # (n_features, n_categories), C-contiguous so a row gather is one memcpy each
        self.intercept = intercept
        self.categories = tuple(categories)
        self.thresholds = dict(thresholds)
        self.metadata = dict(metadata)
        names = [""] * len(idf)
        for vocab in (word_vocab, char_vocab):
            for feature, j in vocab.items():
                names[j] = feature.replace(" ", "")
        self.names = names  # feature row -> readable text, for model_tokens

    @classmethod
    def from_model(cls, model: CommentModel) -> CompiledScorer:
        ovr: OneVsRestClassifier = model.pipeline_.named_steps["clf"]
        coefs = []
        intercepts = []
        for est in ovr.estimators_:
            if not isinstance(est, LogisticRegression):
                raise ValueError("every category needs positive and negative training rows")
            coefs.append(est.coef_.ravel())
            intercepts.append(float(est.intercept_[0]))
        coef = np.ascontiguousarray(np.vstack(coefs).T)
        (_, words), (_, chars) = _vectorizers(model.pipeline_)
        word_vocab = {str(k): int(v) for k, v in words.vocabulary_.items()}
        offset = len(word_vocab)
        char_vocab = {str(k): int(v) + offset for k, v in chars.vocabulary_.items()}
        idf = np.concatenate([np.asarray(words.idf_, np.float64), np.asarray(chars.idf_, np.float64)])
        if len(idf) != coef.shape[0]:
            raise ValueError("feature blocks do not cover the coefficient matrix")
        return cls(
            word_vocab,
            char_vocab,
            idf,
            coef,
            np.asarray(intercepts),
            model.categories_,
            model.thresholds_,
            model.metadata_,
        )

    @staticmethod
    def _word_grams(forms: list[str]) -> list[str]:
        return forms + [a + " " + b for a, b in itertools.pairwise(forms)]

    @staticmethod
    def _char_grams(kana: str) -> list[str]:
        text = _WHITE_SPACES.sub(" ", kana) if _WHITE_SPACES.search(kana) else kana
        n = len(text)
        grams = list(text)
        grams.extend(text[i : i + 2] for i in range(n - 1))
        grams.extend(text[i : i + 3] for i in range(n - 2))
        return grams

    def score(self, forms: list[str], kana: str) -> Scored:
        """Probabilities for a comment given its word forms and its kana text."""
        # Count feature rows, not strings: word ids come first (insertion order), char ids after them.
        counts = Counter(map(self.word_vocab.get, self._word_grams(forms), _MISSING))
        counts.pop(-1, None)
        split = len(counts)
        counts.update(map(self.char_vocab.get, self._char_grams(kana), _MISSING))
        counts.pop(-1, None)
        n = len(counts)
        idx = np.fromiter(counts, dtype=np.intp, count=n)
        weights = np.log(np.fromiter(counts.values(), dtype=np.float64, count=n))
        weights += 1.0
        weights *= self.idf[idx]
        for block in (weights[:split], weights[split:]):
            norm = math.sqrt(float(block @ block))
            if norm:
                block /= norm
        logit = self.intercept + weights @ self.coef[idx]
        return Scored(1.0 / (1.0 + np.exp(-logit)), idx, weights)

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
            text = self.names[int(scored.idx[k])]
            key = text.translate(_KATA_TO_HIRA)
            # Single characters explain nothing to staff; a gram inside a chosen one repeats it.
            if len(text) < 2 or any(key in c or c in key for c in folded):
                continue
            chosen.append(text)
            folded.append(key)
            if len(chosen) == limit:
                break
        return chosen


def save(model: CommentModel, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    # The vocabularies make a large JSON schema that compresses about tenfold.
    sio.dump(model, tmp, compression=zipfile.ZIP_DEFLATED, compresslevel=6)
    tmp.replace(path)


def load(path: Path) -> CommentModel:
    """Load a skops file, refusing any type that is neither skops' default nor in TRUSTED_TYPES."""
    untrusted = sio.get_untrusted_types(file=path)
    unexpected = sorted(set(untrusted) - set(TRUSTED_TYPES))
    if unexpected:
        raise ValueError(f"{path}: untrusted types in model file: {', '.join(unexpected)}")
    model = sio.load(path, trusted=list(untrusted))
    if not isinstance(model, CommentModel):
        raise ValueError(f"{path}: not a CommentModel")
    return model
