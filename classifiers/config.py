"""Process-wide settings of the classifier, given once by the application at start-up.

classifiers never reads the service's settings itself (data flows one way); the service calls
configure() with what it has loaded and validated.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

# The council's own names (policy 3(1)イ); authors resembling these are possible impersonators (4(3)).
DEFAULT_COUNCIL_NAMES: tuple[str, ...] = (
    "社会福祉法人美祢市社会福祉協議会",
    "美祢市社会福祉協議会",
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


CONFIG = ClassifierConfig()


def configure(
    *,
    site_lexicon_path: Path | None = None,
    model_path: Path | None = None,
    council_names: Sequence[str] | None = None,
) -> None:
    CONFIG.site_lexicon_path = site_lexicon_path
    CONFIG.model_path = model_path
    if council_names:
        CONFIG.council_names = tuple(council_names)
