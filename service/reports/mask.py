"""Excerpts for reports with personal information masked, using the classifier's own privacy detector.

The report is printed and passed around; a phone number or address a commenter posted must not travel
with it. Every span the detector reports is masked, even low-scoring ones: over-masking costs nothing here.
"""

from __future__ import annotations

import re

from classifiers.phases import normalise
from classifiers.phases.context import Context
from classifiers.phases.personal_info import detect
from classifiers.phases.tokenise import tokenise

EXCERPT_CHARS = 80
WITHHELD = "〔個人情報を含むため省略〕"
# Beyond the detector, for a comment flagged privacy: the model may have judged it on a name or place the
# detector did not frame (no 住所/電話 cue, no house number), so every person name, place-like noun and run of
# digits is masked too.
_PLACE_RE = re.compile(r"[都道府県市区町村郡]|丁目|番地|団地|地区")
_DIGITS_RE = re.compile(r"[0-9０-９][0-9０-９\-－ー‐]{1,}")

# rule_id prefix → the label that replaces the span
_LABELS: tuple[tuple[str, str], ...] = (
    ("pii:email", "〔メール〕"),
    ("pii:address", "〔住所〕"),
    ("pii:mynumber", "〔番号〕"),
    ("pii:person", "〔個人情報〕"),
    ("pii:", "〔電話番号〕"),  # pii:phone, pii:mobile, … — every remaining detector finds numbers to call
)


def _label(rule_id: str) -> str:
    return next((label for prefix, label in _LABELS if rule_id.startswith(prefix)), "〔個人情報〕")


def _wide_spans(ctx: Context) -> list[tuple[int, int, str]]:
    """Person names and place-like nouns (SudachiPy) and digit runs, in original-text offsets."""
    norm = ctx.normalised
    assert norm is not None  # nosec B101  # normalise.phase ran just before
    spans = [(m.start(), m.end(), "〔番号〕") for m in _DIGITS_RE.finditer(ctx.original)]
    for t in tokenise(norm.text):
        if t.person:
            start, end = norm.span(t.start, t.end)
            spans.append((start, end, "〔氏名〕"))
        elif t.pos == "名詞" and len(t.surface) > 1 and _PLACE_RE.search(t.surface):
            start, end = norm.span(t.start, t.end)
            spans.append((start, end, "〔住所〕"))
    return spans


def _masked(text: str, *, privacy: bool) -> tuple[str, int]:
    """`text` masked, and how many stretches were masked."""
    if not text:
        return text, 0
    ctx = Context(original=text)
    normalise.phase(ctx)
    # The detector's own label wins where its span starts at the same place as a wider one (rank 0 < 1).
    found = [(m.start, 0, m.end, _label(m.rule_id)) for m in detect(ctx)]
    if privacy:
        found += [(start, 1, end, label) for start, end, label in _wide_spans(ctx)]
    out: list[str] = []
    pos = count = 0
    for start, _, end, label in sorted(s for s in found if s[2] > s[0]):
        # A span inside or touching the last one of the same kind (山田|花子) widens it without a second label.
        if start > pos or (start == pos and (not out or out[-1] != label)):
            out.append(text[pos:start])
            out.append(label)
            count += 1
        pos = max(pos, end)
    out.append(text[pos:])
    return "".join(out), count


def mask_personal_info(text: str) -> str:
    """`text` with each personal-information span replaced by a label such as 〔電話番号〕."""
    return _masked(text, privacy=False)[0]


def excerpt(text: str, limit: int = EXCERPT_CHARS, *, privacy: bool = False) -> str:
    """One line, masked first (so truncation never leaves half a phone number), then shortened.

    `privacy`: the comment was flagged for personal information. Names, places and numbers are masked as
    well, and when nothing at all can be located (the model judged the whole) the text is withheld: a
    report that is printed and passed around must not carry what the model saw and we could not find.
    """
    masked, count = _masked(text, privacy=privacy)
    if privacy and count == 0 and text.strip():
        return WITHHELD
    flat = " ".join(masked.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
