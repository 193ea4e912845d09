"""Phase 8: an author posing as the council → ``impersonation`` (policy 4(3)).

The author's display name or username is folded (NFKC, case, katakana to hiragana, separators and
decorations removed, look-alike characters such as 0→o and 1→l unified, 禰→祢) and compared with each of
``config.CONFIG.council_names`` folded the same way: equal, containing a council name (mineshakyo_official,
美祢市社協サポート), equal once such suffixes are removed, or within a small edit distance of a long name.
The council's own account is never classified (the service skips it), so any resemblance is suspicious.

The evidence is about the author, not the comment text, so its Match has ``start == end == 0`` and
``text == ""`` (an empty span at the start); the rule id is ``imp:name`` and the council name it resembles
is not repeated there because the UI shows the author next to the verdict.
"""

from __future__ import annotations

import re
from functools import cache, lru_cache

from classifiers.categories import Severity
from classifiers.config import CONFIG
from classifiers.phases.context import Context, Evidence
from classifiers.phases.links import skeleton
from classifiers.phases.normalise import normalise
from classifiers.verdict import Match

CATEGORY = "impersonation"
RULE_ID = "imp:name"

# Everything that is not a letter or digit: spaces, dots, underscores, hyphens, brackets, emoji.
_NOT_NAME_RE = re.compile(r"[\W_]+")
_VARIANTS = str.maketrans({"禰": "祢", "|": "l", "!": "l"})
# Words an impersonator adds around the council's name, folded like names (see _fold).
_AFFIXES_RAW = (
    "official",
    "offical",
    "公式",
    "公式アカウント",
    "アカウント",
    "account",
    "support",
    "サポート",
    "サポートセンター",
    "staff",
    "スタッフ",
    "team",
    "チーム",
    "事務局",
    "運営",
    "本部",
    "担当",
    "窓口",
    "info",
    "admin",
    "page",
    "ページ",
    "jp",
    "japan",
    "center",
    "センター",
    "社会福祉法人",
)
# An edit-distance ratio this close counts only for long names; short ones must match after folding.
_NEAR_RATIO = 0.85
_NEAR_MIN_LEN = 6


def _fold(name: str) -> str:
    kana = normalise(name.translate(_VARIANTS)).kana
    return skeleton(_NOT_NAME_RE.sub("", kana))


_AFFIXES = sorted({_fold(a) for a in _AFFIXES_RAW}, key=len, reverse=True)


@cache
def _council(names: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(f for f in (_fold(n) for n in names) if f))


def _strip_affixes(name: str) -> str:
    changed = True
    while changed and name:
        changed = False
        for a in _AFFIXES:
            if name != a and name.startswith(a):
                name, changed = name[len(a) :], True
            elif name != a and name.endswith(a):
                name, changed = name[: -len(a)], True
    return name


def _distance(a: str, b: str) -> int:
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def resemblance(author: str, names: tuple[str, ...] | None = None) -> float:
    """0 when ``author`` looks nothing like the council, up to 0.95 for the council's own name."""
    return _resemblance(author, names if names is not None else CONFIG.council_names)


@lru_cache(maxsize=4096)  # the same few hundred authors comment again and again
def _resemblance(author: str, names: tuple[str, ...]) -> float:
    folded = _fold(author)
    if not folded:
        return 0.0
    best = 0.0
    core = _strip_affixes(folded)
    for name in _council(names):
        if folded == name:
            return 0.95
        if (len(name) >= 4 and name in folded) or core == name:
            best = max(best, 0.85)
        elif len(name) >= _NEAR_MIN_LEN and core and abs(len(core) - len(name)) <= 2:
            ratio = 1 - _distance(core, name) / max(len(core), len(name))
            if ratio >= _NEAR_RATIO:
                best = max(best, 0.7)
    return best


def phase(ctx: Context) -> Evidence | None:
    if not ctx.author:
        return None
    score = resemblance(ctx.author)
    if score == 0.0:
        return None
    severity = Severity.HIGH if score >= 0.85 else Severity.MEDIUM
    return Evidence(matches=[Match(RULE_ID, CATEGORY, 0, 0, "", severity, score)])
