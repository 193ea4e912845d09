"""Excerpts for reports with personal information masked, using the classifier's own privacy detector.

The report is printed and passed around; a phone number or address a commenter posted must not travel
with it. Every span the detector reports is masked, even low-scoring ones: over-masking costs nothing here.
"""

from __future__ import annotations

from classifiers.phases import normalise
from classifiers.phases.context import Context
from classifiers.phases.personal_info import detect

EXCERPT_CHARS = 80

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


def mask_personal_info(text: str) -> str:
    """`text` with each personal-information span replaced by a label such as 〔電話番号〕."""
    if not text:
        return text
    ctx = Context(original=text)
    normalise.phase(ctx)
    spans = sorted((m.start, m.end, _label(m.rule_id)) for m in detect(ctx) if m.end > m.start)
    out: list[str] = []
    pos = 0
    for start, end, label in spans:
        if start >= pos:
            out.append(text[pos:start])
            out.append(label)
        pos = max(pos, end)  # an overlapping span widens the masked stretch without a second label
    out.append(text[pos:])
    return "".join(out)


def excerpt(text: str, limit: int = EXCERPT_CHARS) -> str:
    """One line, masked first (so truncation never leaves half a phone number), then shortened."""
    flat = " ".join(mask_personal_info(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
