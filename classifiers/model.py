"""The multi-label comment model: scikit-learn for training, a compiled scorer for inference.

Features are TF-IDF over SudachiPy normalized forms (unigrams and bigrams of the normalised text) plus
TF-IDF over character 1-3-grams of ``Normalised.kana``; one logistic regression per category
(one-vs-rest, balanced class weights). Impersonation is not a text category (it is about the author's
name, judged by ``phases/impersonation.py``), so the model does not cover it.

sklearn's per-call overhead (two vectorizer transforms and ten predict_proba calls) costs milliseconds per
comment, and importing it costs ~150 MB, so training also compiles the fitted pipeline into a
``CompiledScorer`` (``classifiers/scorer.py``: vocabularies, IDF and coefficient arrays) and writes it
next to the skops file as a plain archive; moderation loads only that. It agrees with ``predict_proba``
to 1e-6 (tested). This module is for training and tooling only.

Artifacts are written with skops, never pickle; loading checks the file's types against an explicit
trusted list.
"""

from __future__ import annotations

import copy
import zipfile
from array import array
from collections.abc import Sequence
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
from classifiers.phases.tokenise import tokenise
from classifiers.scorer import CompiledScorer, ScorerParts, Vocabulary, scorer_path, word_features

# Every category the text can show; impersonation depends on the author's name only.
TEXT_CATEGORIES: tuple[str, ...] = tuple(c for c in CATEGORY_NAMES if c != "impersonation")

# Types in a comment_model.skops file beyond skops' own defaults. Anything else in a file is refused.
TRUSTED_TYPES: tuple[str, ...] = (
    "classifiers.model.CommentModel",
    "classifiers.model.TextPreparer",
)

_WORD_TOKEN_PATTERN = r"\S+"


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
        return scorer_parts(self).build()

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


def scorer_parts(model: CommentModel) -> ScorerParts:
    """The fitted pipeline's vocabularies, IDF and stacked coefficients, as inference needs them."""
    ovr: OneVsRestClassifier = model.pipeline_.named_steps["clf"]
    coefs = []
    intercepts = []
    for est in ovr.estimators_:
        if not isinstance(est, LogisticRegression):
            raise ValueError("every category needs positive and negative training rows")
        coefs.append(est.coef_.ravel())
        intercepts.append(float(est.intercept_[0]))
    (_, words), (_, chars) = _vectorizers(model.pipeline_)
    return ScorerParts(
        word_terms=Vocabulary.of(sorted(words.vocabulary_, key=words.vocabulary_.__getitem__)),
        char_terms=Vocabulary.of(sorted(chars.vocabulary_, key=chars.vocabulary_.__getitem__)),
        idf=_doubles(np.concatenate([words.idf_, chars.idf_])),
        coef=_doubles(np.vstack(coefs).T),
        intercept=intercepts,
        categories=list(model.categories_),
        thresholds=dict(model.thresholds_),
        metadata=dict(model.metadata_),
    )


def _doubles(values: np.ndarray) -> array[float]:
    """A numpy array as a flat array('d'), row-major: what the scorer archive stores."""
    return array("d", np.ascontiguousarray(values, dtype=np.float64).tobytes())


def save(model: CommentModel, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    # The vocabularies make a large JSON schema that compresses about tenfold.
    sio.dump(model, tmp, compression=zipfile.ZIP_DEFLATED, compresslevel=6)
    tmp.replace(path)


def export_scorer(model_path: Path, model: CommentModel | None = None) -> Path:
    """Write the compiled scorer of the skops file ``model_path`` beside it (``model`` if already loaded)."""
    fitted = model if model is not None else load(model_path)
    out = scorer_path(model_path)
    scorer_parts(fitted).save(out, source=model_path)
    return out


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
