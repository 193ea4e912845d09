"""Japanese comment classification: moderate(text) -> Verdict, moderate_many([(text, author), ...])."""

from typing import TYPE_CHECKING, Any

from classifiers.categories import CATEGORIES, CATEGORY_NAMES, Category, Severity
from classifiers.verdict import Match, Verdict

if TYPE_CHECKING:
    from classifiers.pipeline import moderate, moderate_many

__all__ = [
    "CATEGORIES",
    "CATEGORY_NAMES",
    "Category",
    "Match",
    "Severity",
    "Verdict",
    "moderate",
    "moderate_many",
]


def __getattr__(name: str) -> Any:
    # The pipeline (every phase and its data) loads on first use of `moderate`, not on import of the
    # package: the CLI, the web process and the settings only need the category and verdict types, and
    # `shakyo-mod queue list` must start in well under a second.
    if name in ("moderate", "moderate_many"):
        from classifiers import pipeline

        value = getattr(pipeline, name)
        globals()[name] = value  # later look-ups find it directly
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
