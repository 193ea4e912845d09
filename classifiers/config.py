"""Process-wide settings of the classifier, given once by the application at start-up.

classifiers never reads the service's settings itself (data flows one way); the service calls
configure() with what it has loaded and validated.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

# The council's own names (policy 3(1)イ); authors resembling these are possible impersonators (4(3)).
DEFAULT_COUNCIL_NAMES: tuple[str, ...] = (
    "社会福祉法人美祢市社会福祉協議会",
    "美祢市社会福祉協議会",
    "美祢社会福祉協議会",  # the city's name without 市, as people often write it
    "美祢市社協",
    "美祢社協",
    "mineshakyo",
    "mineshishakyo",
)


@dataclass(slots=True)
class ClassifierConfig:
    site_lexicon_path: Path | None = None  # the data directory's site file (added/removed entries)
    model_path: Path | None = None  # None: models/comment_model.skops in the project
    council_names: tuple[str, ...] = field(default_factory=lambda: DEFAULT_COUNCIL_NAMES)
    # Phone numbers the council and other public bodies publish, as phone_digits() keys: never privacy.
    public_phones: frozenset[str] = frozenset()


CONFIG = ClassifierConfig()

_NOT_DIGITS_RE = re.compile(r"[^0-9]+")


def phone_digits(number: str) -> str:
    """The digits that identify a Japanese phone number however it is written: 0837-00-0000,
    (0837)00-0000, ０８３７ー００ー００００ and +81 837 00 0000 all give "0837000000"."""
    text = unicodedata.normalize("NFKC", number).strip()
    digits = _NOT_DIGITS_RE.sub("", text)
    if text.startswith("+81"):
        digits = digits[2:]
        # +81 (0)837 …: the trunk 0 some people keep in brackets
        digits = "0" + (digits[1:] if digits.startswith("0") else digits)
    return digits


def _phone_keys(numbers: Iterable[str]) -> frozenset[str]:
    return frozenset(d for d in map(phone_digits, numbers) if d)


def configure(
    *,
    site_lexicon_path: Path | None = None,
    model_path: Path | None = None,
    council_names: Sequence[str] | None = None,
    public_phones: Iterable[str] = (),
) -> None:
    CONFIG.site_lexicon_path = site_lexicon_path
    CONFIG.model_path = model_path
    CONFIG.public_phones = _phone_keys(public_phones)
    if council_names:
        CONFIG.council_names = tuple(council_names)
