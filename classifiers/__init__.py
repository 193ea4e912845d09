"""Japanese comment classification: moderate(text) -> Verdict."""

from classifiers.categories import CATEGORIES, CATEGORY_NAMES, Category, Severity
from classifiers.pipeline import moderate
from classifiers.verdict import Match, Verdict

__all__ = ["CATEGORIES", "CATEGORY_NAMES", "Category", "Match", "Severity", "Verdict", "moderate"]
