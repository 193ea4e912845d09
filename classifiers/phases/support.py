"""Phase: 相談が必要 — the writer, or someone they name, may be in danger or need welfare help now.

Not a violation (it never flags): the service routes such a comment to the staff's 相談 view, notifies them at
any hour and never hides it automatically. Kinds, most urgent first: suicide (希死念慮・自傷), abuse (DV・虐待,
or a writer afraid of harming someone), disaster (被災・取り残し), missing (行方不明・安否不明), poverty (食べ物・
住まい・ライフライン・お金が尽きた), isolation (孤独・話を聞いてほしい).

The cues (``data/support_cues.tsv``) are regular expressions over ``Normalised.kana``, so evasions (氏にたい,
ﾀﾋにたい) and katakana/hiragana spellings meet one pattern. A welfare council's page is full of the same words
used calmly (自殺予防週間, 児童虐待防止のオレンジリボン, 避難訓練) and of hyperbole (恥ずかしすぎて死にたい), so a
cue that matched is dropped when a guard says otherwise: laughter or a frivolous cause in its sentence, fiction,
a programme, news or the resolved past in its sentence, a happy ending anywhere in the comment, or words right
after it that describe a group (食べ物がない家庭を支えたい) or mention the word (「死にたい」って言葉).

Cost: nearly every comment has no cue at all. One Aho-Corasick pass over the text looks for the cues' anchor
literals; only the cues whose anchors occur are run as regular expressions, and guards only for a cue that
matched. Tokens are not needed: the cues are phrases, and the anchors keep the common case to one scan.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import ahocorasick

from classifiers.categories import Severity
from classifiers.phases.context import Context, Evidence
from classifiers.phases.normalise import _KATA_TO_HIRA, Normalised, normalise
from classifiers.verdict import Match

CUES_PATH = Path(__file__).resolve().parents[1] / "data" / "support_cues.tsv"

# Most urgent first: a comment with cues of several kinds is routed as the first of them.
SUPPORT_KINDS: dict[str, str] = {
    "suicide": "希死念慮・自傷",
    "abuse": "DV・虐待",
    "disaster": "災害・取り残し",
    "missing": "行方不明・安否不明",
    "poverty": "生活困窮",
    "isolation": "孤独・孤立",
}
_GUARD_ROLES = frozenset({"hyperbole", "context", "resolved", "after"})
_SENTENCE_END = re.compile(r"[。．！？!?\n]")
_DEFINE = re.compile(r"%([A-Z]+)%")


@dataclass(frozen=True, slots=True)
class Cue:
    rule_id: str  # "support:<kind>:<line>"
    kind: str
    strong: bool  # hyperbole guards do not apply (遺書, リスカ are never a figure of speech)
    pattern: re.Pattern[str]


@dataclass(frozen=True, slots=True)
class Guard:
    kind: str  # "*" for every kind
    role: str  # hyperbole | context | resolved | after
    pattern: re.Pattern[str]


@dataclass(frozen=True, slots=True)
class CueSet:
    version: str
    cues: tuple[Cue, ...]
    guards: tuple[Guard, ...]
    automaton: ahocorasick.Automaton  # anchor (kana) -> indices into cues


def _fold_pattern(regex: str) -> str:
    # Comments are matched in Normalised.kana: katakana in a pattern is written naturally and folded here.
    return regex.translate(_KATA_TO_HIRA)


def load(path: Path = CUES_PATH) -> CueSet:
    """Parse and compile the cue file; a malformed row raises ValueError naming its line."""
    version = ""
    defines: dict[str, str] = {}
    cues: list[Cue] = []
    guards: list[Guard] = []
    anchors: dict[str, list[int]] = {}
    for lineno, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if raw.startswith("# version\t"):
            version = raw.split("\t", 1)[1].strip()
        if not raw.strip() or raw.startswith("#"):
            continue
        cols = raw.split("\t")
        try:
            if cols[0].startswith("@"):
                defines[cols[0][1:]] = _expand(_fold_pattern(cols[1]), defines)
                continue
            kind, role, anchor_col, regex = cols
            pattern = re.compile(_expand(_fold_pattern(regex), defines))
        except (ValueError, KeyError, re.error) as exc:
            raise ValueError(f"{path.name}:{lineno}: {exc}") from exc
        if role in _GUARD_ROLES:
            if kind != "*" and kind not in SUPPORT_KINDS:
                raise ValueError(f"{path.name}:{lineno}: unknown kind {kind!r}")
            guards.append(Guard(kind, role, pattern))
            continue
        if kind not in SUPPORT_KINDS or role not in ("cue", "strong"):
            raise ValueError(f"{path.name}:{lineno}: unknown kind or role {kind!r} {role!r}")
        words = [normalise(a.strip()).kana for a in anchor_col.split(",") if a.strip()]
        if not words:
            raise ValueError(f"{path.name}:{lineno}: a cue needs at least one anchor")
        for word in words:
            anchors.setdefault(word, []).append(len(cues))
        cues.append(Cue(f"support:{kind}:{lineno}", kind, role == "strong", pattern))
    automaton = ahocorasick.Automaton()
    for word, refs in anchors.items():
        automaton.add_word(word, tuple(refs))
    automaton.make_automaton()
    return CueSet(version, tuple(cues), tuple(guards), automaton)


def _expand(regex: str, defines: dict[str, str]) -> str:
    return _DEFINE.sub(lambda m: f"(?:{defines[m.group(1)]})", regex)


@functools.cache
def current() -> CueSet:
    return load()


def _sentence(text: str, start: int, end: int) -> str:
    """The sentence around ``[start, end)``."""
    first = 0
    for m in _SENTENCE_END.finditer(text, 0, start):
        first = m.end()
    last = _SENTENCE_END.search(text, end)
    return text[first : last.start() if last else len(text)]


def _guarded(cue: Cue, kana: str, start: int, end: int, guards: tuple[Guard, ...]) -> bool:
    """Whether a guard drops the cue matched at ``[start, end)``."""
    sentence: str | None = None
    for guard in guards:
        if guard.kind != "*" and guard.kind != cue.kind:
            continue
        if guard.role == "after":
            if guard.pattern.match(kana, end):
                return True
        elif guard.role == "resolved":
            if guard.pattern.search(kana):
                return True
        elif guard.role == "context" or not cue.strong:
            if sentence is None:
                sentence = _sentence(kana, start, end)
            if guard.pattern.search(sentence):
                return True
    return False


def _hits(norm: Normalised, cues: CueSet, candidates: set[int]) -> Iterator[Match]:
    kana = norm.kana
    for index in sorted(candidates):
        cue = cues.cues[index]
        for m in cue.pattern.finditer(kana):
            start, end = m.span()
            if start == end or _guarded(cue, kana, start, end, cues.guards):
                continue
            o_start, o_end = norm.span(start, end)
            yield Match(
                rule_id=cue.rule_id,
                category=cue.kind,
                start=o_start,
                end=o_end,
                text=norm.original[o_start:o_end],
                severity=Severity.NONE,  # not a violation: nothing to rank in the moderation queue
            )


def find_support(norm: Normalised, cues: CueSet | None = None) -> tuple[str, list[Match]]:
    """The most urgent kind found ("" when none) and every surviving cue match (spans in the original)."""
    cue_set = cues if cues is not None else current()
    # The common case ends here: no anchor of any cue in the comment.
    candidates = {ref for _, refs in cue_set.automaton.iter(norm.kana) for ref in refs}
    if not candidates:
        return "", []
    # Longest first at each start, so a span inside an earlier one (生きる意味 in 生きる意味がわから) is dropped.
    matches: list[Match] = []
    for m in sorted(_hits(norm, cue_set, candidates), key=lambda m: (m.start, -m.end, m.rule_id)):
        if not any(k.start <= m.start and m.end <= k.end for k in matches):
            matches.append(m)
    if not matches:
        return "", []
    found = {m.category for m in matches}
    kind = next(k for k in SUPPORT_KINDS if k in found)
    return kind, matches


def phase(ctx: Context) -> Evidence | None:
    if ctx.normalised is None:
        raise RuntimeError("support phase needs the normalise phase first")
    kind, matches = find_support(ctx.normalised)
    if not kind:
        return None
    return Evidence(support_kind=kind, support_matches=matches)
