"""Who a rule word is aimed at, and whether the writer uses it or reports it (for the lexicon phase).

A welfare council's page gets comments that *mention* abuse in order to oppose it (「外国人は出ていけ」みたいな
コメント見ると悲しくなる, 「高収入・即日」って求人は闇バイトだから気をつけて), writers who call *themselves* names
(俺ほんとバカだわ) and friends who tease (ばーか！誕生日おめでとう). A keyword rule cannot tell these from abuse;
the cues here can, and only ever in the direction of "do not flag on this word alone": the match is kept,
at a score below the flag line, so staff still see it when something else flags the comment.

Cue words are the ``stance`` rows of ``data/detect_phrases.tsv``.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from classifiers.phases._detect import Hit, PhraseIndex, load_phrases
from classifiers.phases.normalise import Normalised

_INDEX = PhraseIndex(load_phrases("stance"))

# A quotation: 「…」, 『…』, “…” or "…" (normalisation keeps all of them; " between two lone letters is
# dropped as a separator, which leaves nothing to quote anyway).
_QUOTE_RE = re.compile(r"「[^「」]{1,80}」|『[^『』]{1,80}』|“[^“”]{1,80}”|\"[^\"]{1,80}\"")
_QUOTE_MARK_RE = re.compile("[「『“\"]")
# What makes a quotation reported speech: the words right after it say what it is (って言われた, みたいな
# コメント, という求人, は詐欺).
_REPORTED_RE = re.compile(
    r"\s*(?:って|っていう|と(?:言|い|書|罵|怒|送|来)|とか|みたいな|という|なんて|などと|は詐欺|は闇バイト"
    r"|の(?:コメント|書き込み|求人|投稿|メッセージ|メール|広告|勧誘|dm|DM))"
)


class Stance:
    """The stance cues of one comment, found once and asked about each rule match."""

    __slots__ = ("_aligned", "_hits", "_norm", "_quotes")

    def __init__(self, norm: Normalised, aligned: Callable[[int, int], bool]) -> None:
        self._norm = norm
        self._aligned = aligned  # is [start, end) on token boundaries (私 but not 私立)?
        self._hits: dict[str, list[Hit]] | None = None  # cue hits by group, found on the first question
        self._quotes: list[tuple[int, int]] | None = None

    def _group(self, group: str) -> list[Hit]:
        if self._hits is None:
            self._hits = {}
            for hit in _INDEX.find(self._norm.kana):
                self._hits.setdefault(hit.phrase.group, []).append(hit)
        return self._hits.get(group, [])

    def _has(self, group: str) -> bool:
        return bool(self._group(group))

    def warns(self) -> bool:
        """The writer warns others off (気をつけて, 応募しないで, 子どもにも話した)."""
        return self._has("warn")

    def reported(self, start: int, end: int) -> bool:
        """``[start, end)`` lies inside a quotation the writer reports in order to oppose it."""
        if self._quotes is None:
            self._quotes = self._reported_quotes()
        return any(q_start <= start and end <= q_end for q_start, q_end in self._quotes)

    def _reported_quotes(self) -> list[tuple[int, int]]:
        text = self._norm.text
        # Most comments quote nothing: one scan spares them the cue lookup.
        if _QUOTE_MARK_RE.search(text) is None or not (self._has("warn") or self._has("object")):
            return []
        return [
            (m.start() + 1, m.end() - 1)
            for m in _QUOTE_RE.finditer(text)
            if _REPORTED_RE.match(text, m.end()) is not None
        ]

    def names_someone(self) -> bool:
        """A second or third person is named (お前, こいつ, この人, 〜さん): a word could be aimed at them."""
        return self._has("other")

    def self_directed(self, start: int) -> bool:
        """The writer is the only person in the comment and names themself before ``start``."""
        if self._has("other"):
            return False
        return any(h.end <= start and self._aligned(h.start, h.end) for h in self._group("self"))

    def teasing(self) -> bool:
        """Warmth in the comment (おめでとう, 好き, ありがとう) that makes a mild word teasing."""
        return self._has("affection")
