"""Expand the hand-written sources in this folder into ``classifiers/data/corpus.jsonl``.

Each ``*.txt`` file holds comments of one label set: the file name minus ``.txt`` and any ``-topic`` suffix,
split on ``+`` (``clean`` means no labels), e.g. ``insult.txt``, ``clean-thanks.txt``,
``spam+harmful_link.txt``. A line may carry alternatives ``{a|b|}``; at most ``k`` expansions of a line are
kept (``# k: N`` near the top of a file, default 1), drawn with a seed fixed per line, so the corpus is the
same on every run and one template never dominates. Each row records its ``source`` line (``file:line``) so
cross-validation keeps all expansions of one template in the same fold. Duplicate texts are dropped; a text written under two
different label sets is an authoring mistake and stops the build.

Run: ``python -m classifiers.data.corpus_src.build``
"""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

from classifiers.categories import CATEGORY_NAMES

SRC_DIR = Path(__file__).resolve().parent
CORPUS_PATH = SRC_DIR.parent / "corpus.jsonl"
_SLOT_RE = re.compile(r"\{([^{}]*)\}")
_K_RE = re.compile(r"^#\s*k:\s*(\d+)\s*$")
# Tries per wanted expansion before giving up on a line with few distinct combinations.
_TRIES = 8


def labels_of(path: Path) -> list[str]:
    stem = path.stem.split("-", 1)[0]
    if stem == "clean":
        return []
    labels = sorted(stem.split("+"), key=CATEGORY_NAMES.index)
    for label in labels:
        if label not in CATEGORY_NAMES:
            raise ValueError(f"{path.name}: unknown category {label!r}")
    return labels


def expand(line: str, k: int, rng: random.Random) -> list[str]:
    """Up to ``k`` distinct fillings of the ``{a|b}`` slots of ``line``."""
    parts = _SLOT_RE.split(line)
    if len(parts) == 1:
        return [line]
    fixed = parts[0::2]
    slots = [p.split("|") for p in parts[1::2]]
    out: dict[str, None] = {}
    for _ in range(k * _TRIES):
        if len(out) >= k:
            break
        pieces = [fixed[0]]
        for choice, tail in zip(slots, fixed[1:], strict=True):
            pieces.append(rng.choice(choice))
            pieces.append(tail)
        text = re.sub(r"\s{2,}", " ", "".join(pieces)).strip()
        if text:
            out[text] = None
    return list(out)


def build() -> list[dict[str, object]]:
    rows: dict[str, tuple[list[str], str]] = {}
    for path in sorted(SRC_DIR.glob("*.txt")):
        labels = labels_of(path)
        k = 1
        for lineno, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            line = raw.strip()
            if not line:
                continue
            if line.startswith("#"):
                m = _K_RE.match(line)
                if m:
                    k = int(m.group(1))
                continue
            rng = random.Random(f"{path.name}:{lineno}")
            for text in expand(line, k, rng):
                previous, _ = rows.setdefault(text, (labels, f"{path.name}:{lineno}"))
                if previous != labels:
                    raise ValueError(f"{path.name}:{lineno}: {text!r} already written as {previous}")
    return [{"text": text, "labels": labels, "source": source} for text, (labels, source) in rows.items()]


def main() -> None:
    rows = build()
    with CORPUS_PATH.open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(f"{len(rows)} rows -> {CORPUS_PATH}")


if __name__ == "__main__":
    main()
