"""Phase 9: the comment model's probability for every text category, with its thresholds.

The model is ``config.CONFIG.model_path`` (``models/comment_model.skops`` in the project); what this phase
loads, once per process on first use, is its compiled scorer beside it (``comment_model.scorer.zip``,
written by training), so moderation never imports scikit-learn. The archive must have been compiled from
that very skops file (its SHA-256 is checked). A missing, stale or unreadable file does not stop
moderation: the rules and detectors still run, the failure is logged once, and ``model_info()`` reports it
so the service's /readyz can say so.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from classifiers.config import CONFIG
from classifiers.phases.context import Context, Evidence
from classifiers.phases.tokenise import Morphemes
from classifiers.scorer import CompiledScorer, load_scorer, scorer_path, word_features

log = logging.getLogger(__name__)

DEFAULT_MODEL_PATH = Path(__file__).resolve().parents[2] / "models" / "comment_model.skops"
MODEL_TOKENS = 5

_lock = threading.Lock()
# (path it came from, scorer or None when loading failed, error text)
_state: tuple[Path, CompiledScorer | None, str] | None = None
_override: CompiledScorer | None = None


def model_path() -> Path:
    return CONFIG.model_path or DEFAULT_MODEL_PATH


def _scorer() -> CompiledScorer | None:
    global _state
    if _override is not None:
        return _override
    path = model_path()
    state = _state
    # Identity first: the configured path is the same object on every call, and Path == is not free.
    if state is not None and (state[0] is path or state[0] == path):
        return state[1]
    with _lock:
        if _state is None or _state[0] != path:
            try:
                _state = (path, load_scorer(scorer_path(path), path), "")
            except (OSError, ValueError, KeyError) as exc:
                log.error(
                    "コメント判定モデルを読み込めません (%s): %s — python -m classifiers.training export で"
                    "判定用ファイルを作り直してください",
                    path,
                    exc,
                )
                _state = (path, None, str(exc))
        return _state[1]


def reset() -> None:
    """Forget the loaded model so the next comment reloads the file (after training wrote a new one)."""
    global _state
    with _lock:
        _state = None


@contextmanager
def use_scorer(scorer: CompiledScorer) -> Iterator[None]:
    """Judge with ``scorer`` instead of the model file (training evaluates fold models this way)."""
    global _override
    previous = _override
    _override = scorer
    try:
        yield
    finally:
        _override = previous


def model_info() -> dict[str, Any]:
    """What /readyz reports: whether the model is loaded, and which one."""
    scorer = _scorer()
    info: dict[str, Any] = {"path": str(model_path()), "loaded": scorer is not None}
    if scorer is None:
        info["error"] = _state[2] if _state is not None else ""
        return info
    info.update(
        version=scorer.metadata.get("version", ""),
        lexicon_version=scorer.metadata.get("lexicon_version", ""),
        trained_at=scorer.metadata.get("trained_at", ""),
        categories=list(scorer.categories),
    )
    return info


def phase(ctx: Context) -> Evidence | None:
    if ctx.normalised is None:
        raise RuntimeError("model phase needs the normalise phase first")
    scorer = _scorer()
    if scorer is None:
        return None
    forms = ctx.tokens.features() if isinstance(ctx.tokens, Morphemes) else word_features(ctx.tokens)
    # Explained: the category furthest over its cut-off; a comment the model does not flag (most) needs none.
    probs, tokens = scorer.judge(forms, ctx.normalised.kana, MODEL_TOKENS)
    # compose() only reads the thresholds, so the scorer's own dict is handed over without a copy.
    return Evidence(
        scores=dict(zip(scorer.categories, probs, strict=True)),
        thresholds=scorer.thresholds,
        model_tokens=tokens,
    )
