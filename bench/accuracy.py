"""Accuracy of classifiers.moderate on labelled comment sets: real development sets first, then our own.

For every JSONL set given (default: every ``../shared/realdev/*.jsonl`` that exists, then the project's
``tests/data/eval_*.jsonl`` and ``tests/data/support_eval.jsonl``) it prints rows, toxic-vs-clean precision,
recall and F1, the share of clean rows flagged, the share of clean rows put in 要確認 (the model's suspicion
short of a flag), and the worst false flags and misses. A row is toxic when it has labels (our sets:
``{"text", "labels": [...]}``) or ``"flagged": true`` (the real sets: ``{"text", "flagged", "category"}``).
Rows that carry a ``support_kind`` key also give needs-support recall and the share falsely marked.

The real sets (``../shared/realdev``) are for measuring and choosing thresholds only: never train on them and
never copy their text into the project. Their false flags printed here are for reading, not for pasting.

Run: ``python bench/accuracy.py [SET.jsonl ...] [--worst 20] [--json] [--without PHASE ...]``
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from classifiers import pipeline  # noqa: E402
from classifiers.verdict import Verdict  # noqa: E402

REALDEV = REPO.parent / "shared" / "realdev"
OWN_SETS = REPO / "tests" / "data"


@dataclass(frozen=True, slots=True)
class Row:
    text: str
    toxic: bool
    category: str  # the set's own category for a toxic row ("" when it names none)
    support_kind: str | None  # None: the set does not label needs-support


def default_sets() -> list[Path]:
    real = sorted(REALDEV.glob("*.jsonl")) if REALDEV.is_dir() else []
    own = sorted(OWN_SETS.glob("eval_*.jsonl")) + sorted(OWN_SETS.glob("support_eval*.jsonl"))
    return real + own


def is_real(path: Path) -> bool:
    return path.resolve().parent == REALDEV.resolve()


def read_set(path: Path) -> list[Row]:
    rows: list[Row] = []
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            d = json.loads(line)
            if not isinstance(d.get("text"), str):
                raise ValueError(f"{path}:{lineno}: no text")
            if "labels" in d:
                labels = list(d["labels"])
                toxic, category = bool(labels), (labels[0] if labels else "")
            else:
                toxic, category = bool(d.get("flagged")), str(d.get("category") or "")
            kind = d.get("support_kind")
            rows.append(Row(d["text"], toxic, category, None if kind is None else str(kind)))
    return rows


def prf(tp: int, fp: int, fn: int) -> tuple[float, float, float]:
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def _top(v: Verdict) -> float:
    return max(v.scores.values(), default=0.0)


def measure(rows: Sequence[Row], verdicts: Sequence[Verdict], worst: int) -> dict[str, Any]:
    tp = sum(1 for r, v in zip(rows, verdicts, strict=True) if r.toxic and v.flagged)
    fp = sum(1 for r, v in zip(rows, verdicts, strict=True) if not r.toxic and v.flagged)
    fn = sum(1 for r, v in zip(rows, verdicts, strict=True) if r.toxic and not v.flagged)
    clean = [(r, v) for r, v in zip(rows, verdicts, strict=True) if not r.toxic]
    toxic = [(r, v) for r, v in zip(rows, verdicts, strict=True) if r.toxic]
    p, rec, f1 = prf(tp, fp, fn)
    false_flags = sorted((x for x in clean if x[1].flagged), key=lambda x: -_top(x[1]))
    misses = sorted((x for x in toxic if not x[1].flagged), key=lambda x: _top(x[1]))
    out: dict[str, Any] = {
        "rows": len(rows),
        "toxic": len(toxic),
        "clean": len(clean),
        "precision": round(p, 4),
        "recall": round(rec, 4),
        "f1": round(f1, 4),
        "clean_flagged": sum(1 for _, v in clean if v.flagged),
        "clean_flagged_share": round(sum(1 for _, v in clean if v.flagged) / len(clean), 4) if clean else None,
        "clean_review": sum(1 for _, v in clean if v.needs_review),
        "clean_review_share": round(sum(1 for _, v in clean if v.needs_review) / len(clean), 4) if clean else None,
        "toxic_review": sum(1 for _, v in toxic if v.needs_review),
        "false_flags": [_example(r, v) for r, v in false_flags[:worst]],
        "misses": [_example(r, v) for r, v in misses[:worst]],
    }
    labelled = [(r, v) for r, v in zip(rows, verdicts, strict=True) if r.support_kind is not None]
    if labelled:
        need = [v for r, v in labelled if r.support_kind]
        calm = [v for r, v in labelled if not r.support_kind]
        out["support"] = {
            "in_need": len(need),
            "recall": round(sum(1 for v in need if _needs_support(v)) / len(need), 4) if need else None,
            "others": len(calm),
            "false_marks": round(sum(1 for v in calm if _needs_support(v)) / len(calm), 4) if calm else None,
            "kind_agreement": round(
                sum(1 for r, v in labelled if r.support_kind and _support_kind(v) == r.support_kind) / len(need), 4
            )
            if need
            else None,
        }
    return out


def _needs_support(v: Verdict) -> bool:
    return bool(getattr(v, "needs_support", False))


def _support_kind(v: Verdict) -> str:
    return str(getattr(v, "support_kind", "") or "")


def _example(row: Row, v: Verdict) -> dict[str, Any]:
    return {
        "text": row.text,
        "expected": row.category or ("toxic" if row.toxic else "clean"),
        "got": v.categories or (["要確認:" + ",".join(v.review_categories)] if v.needs_review else []),
        "score": round(_top(v), 3),
        "rules": sorted({m.rule_id for m in v.matches if m.score >= 0.5})[:4],
    }


def run(paths: Sequence[Path], *, worst: int = 20, without: Sequence[str] = ()) -> dict[str, Any]:
    if without:
        names = set(without)
        pipeline.PHASES = tuple(p for p in pipeline.PHASES if p.__module__.rsplit(".", 1)[-1] not in names)
    results: dict[str, Any] = {}
    for path in paths:
        rows = read_set(path)
        verdicts = [pipeline.moderate(r.text) for r in rows]
        m = measure(rows, verdicts, worst)
        m["real"] = is_real(path)
        results[path.name] = m
    return results


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{x:.1%}"


def print_table(results: dict[str, Any], worst: int) -> None:
    print("| set | kind | rows | toxic | precision | recall | F1 | clean flagged | clean 要確認 |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name, m in results.items():
        kind = "real (dev)" if m["real"] else "own"
        scored = m["toxic"] and m["clean"]
        prf = (
            f"{m['precision']:.3f} | {m['recall']:.3f} | {m['f1']:.3f}"
            if scored
            else ("— | " + f"{m['recall']:.3f}" + " | —" if m["toxic"] else "— | — | —")
        )
        print(
            f"| {name} | {kind} | {m['rows']} | {m['toxic']} | {prf} | "
            f"{m['clean_flagged']} ({_pct(m['clean_flagged_share'])}) | "
            f"{m['clean_review']} ({_pct(m['clean_review_share'])}) |"
        )
    support = {n: m["support"] for n, m in results.items() if "support" in m}
    if support:
        print("\n| set | in need | needs-support recall | others | false marks | kind agreement |")
        print("| --- | ---: | ---: | ---: | ---: | ---: |")
        for name, s in support.items():
            print(
                f"| {name} | {s['in_need']} | {_pct(s['recall'])} | {s['others']} | {_pct(s['false_marks'])} | "
                f"{_pct(s['kind_agreement'])} |"
            )
    if not worst:
        return
    for name, m in results.items():
        for label, items in (("false flags", m["false_flags"]), ("misses", m["misses"])):
            if not items:
                continue
            print(f"\n## {name}: worst {label}")
            for ex in items:
                got = ",".join(ex["got"]) or "—"
                rules = " ".join(ex["rules"])
                print(f"- [{ex['expected']} → {got} {ex['score']:.2f} {rules}] {ex['text'][:120]!r}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("sets", nargs="*", type=Path, help="labelled JSONL files (default: every set found)")
    parser.add_argument("--worst", type=int, default=20, help="false flags and misses to list per set")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--without", nargs="*", default=[], help="phases to leave out (e.g. model)")
    args = parser.parse_args(argv)
    paths = args.sets or default_sets()
    missing = [p for p in paths if not p.is_file()]
    if missing:
        parser.error(f"no such file: {', '.join(map(str, missing))}")
    results = run(paths, worst=args.worst, without=args.without)
    if args.json:
        print(json.dumps(results, ensure_ascii=False, indent=2))
    else:
        print_table(results, args.worst)
    return 0


if __name__ == "__main__":
    sys.exit(main())
