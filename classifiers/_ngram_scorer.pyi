"""Type hints for the compiled classifiers/_ngram_scorer.pyx."""

from typing import Any

class NgramScorer:
    n_categories: int
    n_words: int
    def __init__(
        self, word_terms: list[str], char_terms: list[str], idf: Any, coef: Any, intercept: list[float]
    ) -> None:
        """``idf`` and the row-major ``coef`` are buffers of doubles (array('d'), numpy)."""
    def score(self, forms: list[str], kana: str) -> list[float]: ...
    def judge(
        self, forms: list[str], kana: str, cutoffs: Any, eligible: bytes
    ) -> tuple[list[float], int, list[int]]: ...
