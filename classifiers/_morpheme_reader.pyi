"""Type hints for the compiled classifiers/_morpheme_reader.pyx."""

from typing import Any

def read_morphemes(morphemes: Any, base: int, ends: list[int], forms: list[Any], cached: dict[int, Any]) -> int: ...
