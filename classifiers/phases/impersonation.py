"""Phase 8: an author posing as the council → ``impersonation`` (policy 4(3)).

The author's display name or username is folded (NFKC, case, katakana to hiragana, separators and
decorations removed, look-alike characters such as 0→o and 1→l unified, 禰→祢, きょう→きょー) and compared
with each of ``config.CONFIG.council_names`` folded the same way, and with their readings (みね社協, ミネ社協,
美祢しゃきょう, mine shakyo: see ``_READINGS``): equal, containing a council name (mineshakyo_official,
美祢市社協サポート), equal once such suffixes are removed, or — for the configured spellings only, since a
short kana reading is one letter away from ordinary words (みねしゃちょう) — within a small edit distance of a
long name. The council's own account is never classified (the service skips it), so any resemblance is
suspicious.

A warning about impersonation is not impersonation. A comment that mentions impersonation (なりすまし,
偽アカウント, 社協をかたる) together with a warning (注意, 本物は…), or an author whose name says so
(美祢市社協なりすまし注意), is a warning when nothing in it asks for anything: no link, no scam cue (DM, 口座,
当選, the phishing, spam and link-lure phrases) and no other detector's spam or security evidence. Then the
author gives no evidence and ``impersonation`` and ``security`` are cleared, because the model reads the
words of such warnings (偽, アカウント, 本物) as the fraud they warn about. An impersonator who adds 「偽物に
注意」 to a request for money or a link still flags.

The evidence is about the author, not the comment text, so its Match has ``start == end == 0`` and
``text == ""`` (an empty span at the start); the rule id is ``imp:name`` and the council name it resembles
is not repeated there because the UI shows the author next to the verdict.
"""

from __future__ import annotations

import re
from functools import cache, lru_cache
from itertools import product

from classifiers.categories import Severity
from classifiers.config import CONFIG
from classifiers.phases._detect import PhraseIndex, load_phrases
from classifiers.phases.context import Context, Evidence
from classifiers.phases.links import find_urls, skeleton
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
# How people spell the parts of the council's names without the kanji: kana (katakana folds to hiragana)
# and romaji. A name is also compared in every mix of kanji and kana (みね社協, 美祢しゃきょう) and all in
# romaji (mine shakyo, mineshi syakyo).
_READINGS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "社会福祉法人": (("しゃかいふくしほうじん",), ("shakaifukushihoujin", "shakaifukushihojin")),
    "社会福祉協議会": (
        ("しゃかいふくしきょうぎかい",),
        ("shakaifukushikyougikai", "shakaifukushikyogikai", "syakaihukusikyougikai"),
    ),
    "美祢": (("みね",), ("mine",)),
    "社協": (("しゃきょう",), ("shakyo", "shakyou", "syakyo", "syakyou")),
    "市": (("し",), ("shi", "si")),
}
_PARTS_RE = re.compile("|".join(sorted(map(re.escape, _READINGS), key=len, reverse=True)))
# An edit-distance ratio this close counts only for long names; short ones must match after folding.
_NEAR_RATIO = 0.85
_NEAR_MIN_LEN = 6
# きょう and キョー are one sound; normalise keeps the ー of katakana.
_LONG_O_RE = re.compile("(?<=ょ)う")


def _fold(name: str) -> str:
    kana = normalise(name.translate(_VARIANTS)).kana
    return skeleton(_NOT_NAME_RE.sub("", _LONG_O_RE.sub("ー", kana)))


_AFFIXES = sorted({_fold(a) for a in _AFFIXES_RAW}, key=len, reverse=True)


def readings(name: str) -> list[str]:
    """``name`` as people write it without its kanji (see ``_READINGS``), ``name`` itself first."""
    pieces = _PARTS_RE.split(name)
    parts = _PARTS_RE.findall(name)
    if not parts:
        return [name]
    mixes = product(*((p, *_READINGS[p][0]) for p in parts))
    out = ["".join(_interleave(pieces, mix)) for mix in mixes]
    if all(p.isascii() for p in pieces):
        out += ["".join(_interleave(pieces, mix)) for mix in product(*(_READINGS[p][1] for p in parts))]
    return out


def _interleave(pieces: list[str], parts: tuple[str, ...]) -> list[str]:
    out = [pieces[0]]
    for part, piece in zip(parts, pieces[1:], strict=True):
        out += [part, piece]
    return out


@cache
def _council(names: tuple[str, ...]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The folded names and their readings (compared whole), and the folded names alone (also near)."""
    spelled = tuple(dict.fromkeys(f for f in map(_fold, names) if f))
    read = tuple(dict.fromkeys(f for n in names for f in map(_fold, readings(n)) if f))
    return read, spelled


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
    whole, spelled = _council(names)
    for name in whole:
        if folded == name:
            return 0.95
        if (len(name) >= 4 and name in folded) or core == name:
            best = 0.85
    if best:
        return best
    for name in spelled:
        if len(name) >= _NEAR_MIN_LEN and core and abs(len(core) - len(name)) <= 2:
            ratio = 1 - _distance(core, name) / max(len(core), len(name))
            if ratio >= _NEAR_RATIO:
                best = 0.7
    return best


# ---- warnings about impersonation ------------------------------------------------------------------

# In Normalised.kana (katakana folded to hiragana). なりすまし, 偽アカウント, 社協をかたる/騙る/名乗る (not 偽善).
_MENTION_RE = re.compile(
    r"なりすま|成りすま|成り済ま|偽(?!善)|にせもの|にせあかうんと|にせの|をかたる|を騙|を名乗"
)
# The warning itself: watch out, report it, don't answer it, it is going round, the real one is….
_WARN_RE = re.compile(
    r"注意|気をつけ|気を付け|騙されな|だまされな|通報|報告|無視|相手にしない|返信しない|反応しない|"
    r"ぶろっく|本物は|公式は|出回|確認されて|存在し"
)
# An author's name that is a warning account (美祢市社協なりすまし注意喚起), not merely one with 偽 in it.
_WARN_NAME_RE = re.compile(r"注意|喚起|啓発|被害|対策|情報")
# What an impersonator wants, beyond the phishing, spam and lure phrases: money, a prize, a private
# message; or the claim to be the real one (私が本物です, this account has moved) that comes before it.
_SCAM_RE = re.compile(
    r"口座|振込|振り込|送金|当選|賞金|dmで|dmへ|dmを|新しいあかうんと|移行|引っ越|乗っ取|"
    r"私が本物|わたしが本物|こちらが本物|このあかうんとが本物|本物です|公式あかうんとです"
)
_SCAM_PHRASES = PhraseIndex(
    [
        *load_phrases("phishing"),
        *load_phrases("spam"),
        *[p for p in load_phrases("links") if p.group == "lure"],
    ]
)
_SCAM_CATEGORIES = frozenset({"security", "spam", "harmful_link"})


def _warning(ctx: Context) -> bool:
    """Whether the comment, or its author's name, warns about impersonation and asks for nothing."""
    norm = ctx.normalised
    kana = norm.kana if norm is not None else ""
    in_text = _MENTION_RE.search(kana) is not None and _WARN_RE.search(kana) is not None
    name = normalise(ctx.author).kana if ctx.author else ""
    in_name = _MENTION_RE.search(name) is not None and _WARN_NAME_RE.search(name) is not None
    if not (in_text or in_name):
        return False
    scam = (
        _SCAM_RE.search(kana) is not None
        or bool(_SCAM_PHRASES.find(kana))
        or any(m.category in _SCAM_CATEGORIES for ev in ctx.evidence for m in ev.matches)
        or bool(find_urls(ctx.original))
    )
    return not scam


def phase(ctx: Context) -> Evidence | None:
    score = resemblance(ctx.author) if ctx.author else 0.0
    # Only a comment that names impersonation can be a warning about it (a cheap test on most comments).
    if (score or _MENTION_RE.search(ctx.normalised.kana if ctx.normalised else "")) and _warning(ctx):
        return Evidence(cleared={CATEGORY, "security"})
    if score == 0.0:
        return None
    severity = Severity.HIGH if score >= 0.85 else Severity.MEDIUM
    return Evidence(matches=[Match(RULE_ID, CATEGORY, 0, 0, "", severity, score)])
