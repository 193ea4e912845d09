"""Type hints for the compiled classifiers/_ngram_scorer.pyx."""

from typing import Any

class NgramScorer:
    n_categories: int
    n_words: int
    def __init__(
        self,
        word_text: str,
        word_ends: Any,
        char_text: str,
        char_ends: Any,
        idf: Any,
        coef: Any,
        intercept: list[float],
    ) -> None:
        """Each vocabulary is one string and a buffer of 64-bit end offsets (array('q')); ``idf`` and the
        row-major ``coef`` are buffers of doubles (array('d'), numpy)."""
    def score(self, forms: list[str], kana: str) -> list[float]: ...
    def judge(
        self, forms: list[str], kana: str, cutoffs: Any, eligible: bytes
    ) -> tuple[list[float], int, list[int]]: ...

def explainable(text: str, ends: Any) -> bytes:
    """1 per term of at least two characters besides spaces, else 0."""
