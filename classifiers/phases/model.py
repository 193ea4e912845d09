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
from array import array
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from classifiers.compose import MATCH_FLAG_SCORE
from classifiers.config import CONFIG
from classifiers.decision import DecisionPolicy, load_policy
from classifiers.phases.context import Context, Evidence
from classifiers.phases.tokenise import Morphemes
from classifiers.scorer import CompiledScorer, load_scorer, scorer_path, word_features

log = logging.getLogger(__name__)

DEFAULT_MODEL_PATH = Path(__file__).resolve().parents[2] / "models" / "comment_model.skops"
MODEL_TOKENS = 5



@dataclass(frozen=True, slots=True)
class Judge:
    """A loaded scorer with the decision policy's cut-offs worked out once."""

    scorer: CompiledScorer
    policy: DecisionPolicy
    alone: dict[str, float]
    review: dict[str, float]
    addressed: dict[str, float]
    lowest: dict[str, float]  # per category, the least cut-off at which the model's score matters
    explain_from: array[float]  # the same in ``categories`` order: from there staff see the model's words
    never: array[float]  # cut-offs no probability reaches: score without explaining

    @classmethod
    def of(cls, scorer: CompiledScorer, policy: DecisionPolicy) -> Judge:
        alone, review, addressed = policy.cutoffs(scorer.categories, scorer.thresholds)
        lowest = {c: min(scorer.thresholds[c], alone[c], review[c], addressed[c]) for c in scorer.categories}
        explain_from = array("d", lowest.values())
        never = array("d", [2.0] * len(scorer.categories))
        return cls(scorer, policy, alone, review, addressed, lowest, explain_from, never)


_lock = threading.Lock()
# (path it came from, judge or None when loading failed, error text)
_state: tuple[Path, Judge | None, str] | None = None
_override: Judge | None = None


def model_path() -> Path:
    return CONFIG.model_path or DEFAULT_MODEL_PATH


def _judge() -> Judge | None:
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
                _state = (path, Judge.of(load_scorer(scorer_path(path), path), load_policy(path)), "")
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
def use_scorer(scorer: CompiledScorer, policy: DecisionPolicy | None = None) -> Iterator[None]:
    """Judge with ``scorer`` (and ``policy``, default none) instead of the model file (training evaluates
    fold models this way)."""
    global _override
    previous = _override
    _override = Judge.of(scorer, policy or DecisionPolicy())
    try:
        yield
    finally:
        _override = previous


def model_info() -> dict[str, Any]:
    """What /readyz reports: whether the model is loaded, and which one."""
    judge = _judge()
    info: dict[str, Any] = {"path": str(model_path()), "loaded": judge is not None}
    if judge is None:
        info["error"] = _state[2] if _state is not None else ""
        return info
    scorer = judge.scorer
    info.update(
        version=scorer.metadata.get("version", ""),
        lexicon_version=scorer.metadata.get("lexicon_version", ""),
        trained_at=scorer.metadata.get("trained_at", ""),
        categories=list(scorer.categories),
        decision_policy=judge.policy.version,
    )
    return info


def phase(ctx: Context) -> Evidence | None:
    if ctx.normalised is None:
        raise RuntimeError("model phase needs the normalise phase first")
    judge = _judge()
    if judge is None:
        return None
    scorer = judge.scorer
    forms = ctx.tokens.features() if isinstance(ctx.tokens, Morphemes) else word_features(ctx.tokens)
    # Explained: the category furthest over its cut-off; a comment the model does not suspect (most) needs none,
    # nor does one a rule already flags (staff see the rule's own spans; ranking the words costs more than
    # scoring).
    ruled = any(m.score >= MATCH_FLAG_SCORE for ev in ctx.evidence for m in ev.matches)
    probs, tokens = scorer.judge(forms, ctx.normalised.kana, MODEL_TOKENS, judge.never if ruled else judge.explain_from)
    # compose() only reads the cut-offs, so the judge's own dicts are handed over without a copy.
    return Evidence(
        scores=dict(zip(scorer.categories, probs, strict=True)),
        thresholds=scorer.thresholds,
        alone_thresholds=judge.alone,
        review_thresholds=judge.review,
        addressed_thresholds=judge.addressed,
        lowest_thresholds=judge.lowest,
        model_tokens=tokens,
    )
