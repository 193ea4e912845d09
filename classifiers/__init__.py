"""Japanese comment classification: moderate(text) -> Verdict."""

from typing import TYPE_CHECKING, Any

from classifiers.categories import CATEGORIES, CATEGORY_NAMES, Category, Severity
from classifiers.verdict import Match, Verdict

if TYPE_CHECKING:
    from classifiers.pipeline import moderate

__all__ = ["CATEGORIES", "CATEGORY_NAMES", "Category", "Match", "Severity", "Verdict", "moderate"]


def __getattr__(name: str) -> Any:
    # The pipeline (every phase and its data) loads on first use of `moderate`, not on import of the
    # package: the CLI, the web process and the settings only need the category and verdict types, and
    # `shakyo-mod queue list` must start in well under a second.
    if name == "moderate":
        from classifiers.pipeline import moderate

        globals()["moderate"] = moderate  # later look-ups find it directly
        return moderate
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
