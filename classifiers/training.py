"""Training, cross-validation and evaluation of the comment model; writes the skops file, its compiled
scorer (``comment_model.scorer.zip``, what moderation loads) and MODEL_CARD.md.

Honest numbers: every reported figure comes from out-of-fold predictions (5 stratified folds, grouped by
the corpus template line a row was expanded from), so no comment is ever scored by a model that saw it
or one of its near-duplicates. Thresholds are chosen per category on the pooled
out-of-fold probabilities: the best F1 whose precision is at least PRECISION_FLOOR (precision on this
council's traffic matters as much as recall). The full pipeline (rules + detectors + model) is evaluated
the same way: each fold's model judges only its own held-out fold.

Run: ``python -m classifiers.training train``, ``python -m classifiers.training evaluate FILE.jsonl``, or
``python -m classifiers.training export [MODEL.skops]`` to recompile the scorer of an existing skops file.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import re
import sys
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np
import sklearn
import skops
from sklearn.model_selection import StratifiedGroupKFold

from classifiers.categories import CATEGORIES, CATEGORY_NAMES
from classifiers.decision import DecisionPolicy, card_section, load_policy
from classifiers.model import TEXT_CATEGORIES, CommentModel, export_scorer, labels_matrix, save
from classifiers.phases import model as model_phase
from classifiers.phases.normalise import evasion_variants
from classifiers.phases.tokenise import tokenise
from classifiers.pipeline import moderate

REPO = Path(__file__).resolve().parents[1]
MODELS_DIR = REPO / "models"
CORPUS_PATH = REPO / "classifiers" / "data" / "corpus.jsonl"
LEXICON_PATH = REPO / "classifiers" / "data" / "lexicon.tsv"
MODEL_FILE = "comment_model.skops"
CARD_FILE = "MODEL_CARD.md"
# Held-out evaluation sets (real-style social comments, evasions, welfare talk), written apart from the
# corpus and never trained on: the card reports how the shipped model does on them.
HELDOUT_DIR = REPO / "tests" / "data"
HELDOUT_GLOB = "eval_*.jsonl"

FOLDS = 5
SEED = 0
PRECISION_FLOOR = 0.9
# A threshold below this would let the balanced class weights flag on faint evidence.
MIN_THRESHOLD = 0.3
# Share of toxic training rows that get one extra copy with an evasion spelling of one of their words.
AUGMENT_SHARE = 0.5
_AUGMENT_POS = frozenset({"名詞", "動詞", "形容詞", "感動詞", "形状詞"})
JST = timezone(timedelta(hours=9))

# Vocabulary a welfare council uses kindly every week; clean rows containing it are counted separately.
WELFARE_TERMS: tuple[str, ...] = (
    "障害",
    "障がい",
    "高齢",
    "お年寄り",
    "生活保護",
    "部落",
    "同和",
    "在日",
    "外国",
    "薬物",
    "大麻",
    "詐欺",
    "自殺",
    "自死",
    "死にたい",
    "認知症",
    "差別",
    "介護",
    "ひきこもり",
    "虐待",
    "依存症",
    "貧困",
    "避難",
    "災害",
)
_LEXICON_VERSION_RE = re.compile(r"^#\s*version[:\t ]\s*(\S+)")


# ---------------------------------------------------------------- data


def read_rows(path: Path) -> list[dict[str, Any]]:
    """A labelled JSONL file: one ``{"text": str, "labels": [category, ...]}`` per line."""
    rows: list[dict[str, Any]] = []
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            row = json.loads(line)
            text, labels = row.get("text"), row.get("labels", [])
            if not isinstance(text, str) or not isinstance(labels, list):
                raise ValueError(f"{path}:{lineno}: need a text string and a labels list")
            unknown = [label for label in labels if label not in CATEGORIES]
            if unknown:
                raise ValueError(f"{path}:{lineno}: unknown categories {unknown}")
            # "source" (corpus rows: the template line) keeps near-duplicates in one cross-validation fold.
            rows.append({"text": text, "labels": list(labels), "source": str(row.get("source", text))})
    return rows


def _dedupe(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Last writer wins, so a staff decision overrides the corpus label of the same text."""
    by_text: dict[str, dict[str, Any]] = {}
    for row in rows:
        by_text.pop(row["text"], None)
        by_text[row["text"]] = {
            "text": row["text"],
            "labels": sorted(set(row["labels"])),
            "source": row.get("source", row["text"]),
        }
    return list(by_text.values())


def augment(rows: Sequence[dict[str, Any]], rng: random.Random) -> list[dict[str, Any]]:
    """The rows plus evasion-spelled copies of some toxic rows (氏ね, ｼﾈ, し ね, ばーーか...)."""
    out = list(rows)
    for row in rows:
        if not row["labels"] or rng.random() >= AUGMENT_SHARE:
            continue
        words = [t.surface for t in tokenise(row["text"]) if t.pos in _AUGMENT_POS and len(t.surface) >= 2]
        if not words:
            continue
        word = rng.choice(words)
        variants = evasion_variants(word, rng)
        if variants:
            text = row["text"].replace(word, rng.choice(variants), 1)
            out.append({"text": text, "labels": row["labels"], "source": row["source"]})
    return out


def _strata(rows: Sequence[dict[str, Any]]) -> list[str]:
    # Stratify on the rarest label of each row so every fold sees every category.
    counts: dict[str, int] = {}
    for row in rows:
        for label in row["labels"]:
            counts[label] = counts.get(label, 0) + 1
    return [min(row["labels"], key=lambda c: (counts[c], c)) if row["labels"] else "clean" for row in rows]


def _fit(rows: Sequence[dict[str, Any]], seed: int) -> CommentModel:
    train_rows = augment(rows, random.Random(seed))
    return CommentModel(seed=seed).fit(
        [r["text"] for r in train_rows], labels_matrix([r["labels"] for r in train_rows])
    )


# ---------------------------------------------------------------- metrics


def _prf(tp: int, fp: int, fn: int) -> dict[str, float | int]:
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "precision": round(precision, 4),
        "recall": round(recall, 4),
        "f1": round(f1, 4),
        "support": tp + fn,
        "tp": tp,
        "fp": fp,
        "fn": fn,
    }


def score_sets(
    truth: Sequence[Sequence[str]],
    predicted: Sequence[Sequence[str]],
    categories: Sequence[str],
    texts: Sequence[str] | None = None,
) -> dict[str, Any]:
    """P/R/F1 per category, micro and macro averages, the any-category (binary) figures and flag rates."""
    per: dict[str, dict[str, float | int]] = {}
    totals = [0, 0, 0]
    for cat in categories:
        tp = sum(1 for t, p in zip(truth, predicted, strict=True) if cat in t and cat in p)
        fp = sum(1 for t, p in zip(truth, predicted, strict=True) if cat not in t and cat in p)
        fn = sum(1 for t, p in zip(truth, predicted, strict=True) if cat in t and cat not in p)
        per[cat] = _prf(tp, fp, fn)
        totals[0] += tp
        totals[1] += fp
        totals[2] += fn
    supported = [per[c] for c in categories if per[c]["support"]]
    macro = {
        key: round(sum(float(m[key]) for m in supported) / len(supported), 4) if supported else 0.0
        for key in ("precision", "recall", "f1")
    }
    any_tp = sum(1 for t, p in zip(truth, predicted, strict=True) if t and p)
    any_fp = sum(1 for t, p in zip(truth, predicted, strict=True) if not t and p)
    any_fn = sum(1 for t, p in zip(truth, predicted, strict=True) if t and not p)
    clean = [i for i, t in enumerate(truth) if not t]
    result: dict[str, Any] = {
        "rows": len(truth),
        "per_category": per,
        "micro": _prf(*totals),
        "macro": macro,
        "any": _prf(any_tp, any_fp, any_fn),
        "clean_rows": len(clean),
        "clean_flag_rate": round(sum(1 for i in clean if predicted[i]) / len(clean), 4) if clean else 0.0,
    }
    if texts is not None:
        welfare = [i for i in clean if _is_welfare(texts[i])]
        result["welfare_clean_rows"] = len(welfare)
        result["welfare_flag_rate"] = (
            round(sum(1 for i in welfare if predicted[i]) / len(welfare), 4) if welfare else 0.0
        )
    return result


def _is_welfare(text: str) -> bool:
    return any(term in text for term in WELFARE_TERMS)


def choose_thresholds(y: np.ndarray, probs: np.ndarray) -> dict[str, float]:
    """Per category: the best-F1 cut-off with precision >= PRECISION_FLOOR (else the most precise one)."""
    thresholds: dict[str, float] = {}
    for j, cat in enumerate(TEXT_CATEGORIES):
        order = np.argsort(-probs[:, j], kind="stable")
        p_sorted = probs[order, j]
        hits = np.cumsum(y[order, j])
        positives = max(int(y[:, j].sum()), 1)
        best: tuple[float, float, float] | None = None  # (f1, precision, threshold)
        fallback: tuple[float, float] | None = None  # (precision, threshold)
        for k in range(len(order)):
            # Only cut between distinct probabilities: equal scores are flagged together.
            if k + 1 < len(order) and p_sorted[k + 1] == p_sorted[k]:
                continue
            threshold = float(p_sorted[k])
            if threshold < MIN_THRESHOLD:
                break
            precision = hits[k] / (k + 1)
            recall = hits[k] / positives
            f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
            if precision >= PRECISION_FLOOR and (best is None or f1 > best[0]):
                best = (f1, precision, threshold)
            if hits[k] and (fallback is None or precision > fallback[0]):
                fallback = (precision, threshold)
        if best is not None:
            thresholds[cat] = round(best[2], 6)
        elif fallback is not None:
            thresholds[cat] = round(fallback[1], 6)
        else:
            thresholds[cat] = 0.5
    return thresholds


# ---------------------------------------------------------------- cross-validation


def cross_validate(
    rows: Sequence[dict[str, Any]], *, folds: int = FOLDS, seed: int = SEED, pipeline: bool = True
) -> dict[str, Any]:
    """Out-of-fold model metrics (and, with ``pipeline``, the full moderate() pipeline's) plus thresholds."""
    texts = [r["text"] for r in rows]
    labels = [r["labels"] for r in rows]
    y = labels_matrix(labels)
    oof = np.zeros(y.shape, dtype=np.float64)
    splitter = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed)
    fold_models: list[tuple[np.ndarray, CommentModel]] = []
    for train_idx, test_idx in splitter.split(texts, _strata(rows), groups=[r["source"] for r in rows]):
        fold_model = _fit([rows[i] for i in train_idx], seed)
        oof[test_idx] = fold_model.predict_proba([texts[i] for i in test_idx])
        fold_models.append((test_idx, fold_model))
    thresholds = choose_thresholds(y, oof)
    cut = np.array([thresholds[c] for c in TEXT_CATEGORIES])
    predicted = [[c for c, on in zip(TEXT_CATEGORIES, row, strict=True) if on] for row in oof >= cut]
    result: dict[str, Any] = {
        "folds": folds,
        "thresholds": thresholds,
        "model": score_sets(labels, predicted, TEXT_CATEGORIES, texts),
    }
    if pipeline:
        flagged: list[list[str]] = [[] for _ in rows]
        for test_idx, fold_model in fold_models:
            fold_model.thresholds_ = dict(thresholds)
            with model_phase.use_scorer(fold_model.compile()):
                for i in test_idx:
                    flagged[i] = [c for c in moderate(texts[i]).categories if c in TEXT_CATEGORIES]
        result["pipeline"] = score_sets(labels, flagged, TEXT_CATEGORIES, texts)
    return result


# ---------------------------------------------------------------- training


def lexicon_version(path: Path = LEXICON_PATH) -> str:
    if not path.exists():
        return ""
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if not line.startswith("#"):
                break
            m = _LEXICON_VERSION_RE.match(line)
            if m:
                return m.group(1)
    return ""


def _trained_at() -> datetime:
    # SOURCE_DATE_EPOCH pins the date so a rebuild of the same corpus gives the same artifact metadata.
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch:
        return datetime.fromtimestamp(int(epoch), tz=UTC).astimezone(JST)
    return datetime.now(JST).replace(microsecond=0)


def corpus_stats(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    per = {c: sum(1 for r in rows if c in r["labels"]) for c in CATEGORY_NAMES}
    clean = [r for r in rows if not r["labels"]]
    return {
        "rows": len(rows),
        "per_category": per,
        "clean": len(clean),
        "welfare_clean": sum(1 for r in clean if _is_welfare(r["text"])),
        "multi_label": sum(1 for r in rows if len(r["labels"]) > 1),
    }


def train(
    extra: list[Path] = [],  # noqa: B006 (the contract's signature; never mutated)
    decisions: list[dict[str, Any]] | None = None,
    out_dir: Path = MODELS_DIR,
    *,
    corpus: Path = CORPUS_PATH,
    folds: int = FOLDS,
    seed: int = SEED,
) -> dict[str, Any]:
    """Cross-validate, fit on everything, write ``comment_model.skops``, its scorer and ``MODEL_CARD.md``.

    ``decisions`` are staff decisions (``{"text", "labels"}``) added to the training data; the result
    then holds the cross-validated metrics ``before`` and ``after`` adding them.
    """
    base = read_rows(corpus)
    for path in extra:
        base.extend(read_rows(path))
    base = _dedupe(base)
    result: dict[str, Any] = {}
    if decisions:
        staff = [
            {"text": str(d["text"]), "labels": list(d.get("labels", [])), "source": str(d["text"])}
            for d in decisions
        ]
        result["before"] = cross_validate(base, folds=folds, seed=seed)
        rows = _dedupe(base + staff)
    else:
        rows = base
    cv = cross_validate(rows, folds=folds, seed=seed)
    if decisions:
        result["after"] = cv
    model = _fit(rows, seed)
    model.thresholds_ = dict(cv["thresholds"])
    digest = hashlib.sha256(
        json.dumps([rows, model.get_params(), folds, seed], ensure_ascii=False, sort_keys=True).encode()
    ).hexdigest()
    trained_at = _trained_at()
    model.metadata_ = {
        "version": f"{trained_at:%Y.%m.%d}-{digest[:10]}",
        "lexicon_version": lexicon_version(),
        "trained_at": trained_at.isoformat(),
        "sklearn": sklearn.__version__,
        "skops": skops.__version__,
        "rows": str(len(rows)),
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    model_file = out_dir / MODEL_FILE
    save(model, model_file)
    scorer_file = export_scorer(model_file, model)
    stats = corpus_stats(rows)
    held = heldout(model)
    # The policy chosen on real data for this very model (same rows, same parameters) carries over.
    card = model_card(stats, cv, model.metadata_, held, load_policy(MODELS_DIR / MODEL_FILE))
    (out_dir / CARD_FILE).write_text(card, encoding="utf-8")
    model_phase.reset()
    result.update(
        version=model.metadata_["version"],
        model_path=str(model_file),
        scorer_path=str(scorer_file),
        corpus=stats,
        thresholds=cv["thresholds"],
        cv=cv,
        heldout=held,
    )
    return result


def heldout(model: CommentModel, directory: Path = HELDOUT_DIR) -> dict[str, dict[str, Any]]:
    """The whole pipeline, judging with ``model``, on each held-out file (file name -> score_sets)."""
    results: dict[str, dict[str, Any]] = {}
    paths = sorted(directory.glob(HELDOUT_GLOB))
    if not paths:
        return results
    with model_phase.use_scorer(model.compile()):
        for path in paths:
            rows = read_rows(path)
            texts = [r["text"] for r in rows]
            predicted = [[c for c in moderate(t).categories if c in TEXT_CATEGORIES] for t in texts]
            results[path.name] = score_sets([r["labels"] for r in rows], predicted, TEXT_CATEGORIES, texts)
    return results


# ---------------------------------------------------------------- reports


def _table(metrics: dict[str, Any], categories: Sequence[str], thresholds: dict[str, float] | None) -> str:
    head = "| カテゴリ | category | precision | recall | F1 | support |"
    sep = "| --- | --- | ---: | ---: | ---: | ---: |"
    if thresholds is not None:
        head += " threshold |"
        sep += " ---: |"
    lines = [head, sep]
    for cat in categories:
        m = metrics["per_category"][cat]
        line = f"| {CATEGORIES[cat].ja} | {cat} | {m['precision']:.3f} | {m['recall']:.3f} | {m['f1']:.3f} | {m['support']} |"
        if thresholds is not None:
            line += f" {thresholds[cat]:.3f} |"
        lines.append(line)
    for name in ("micro", "macro"):
        m = metrics[name]
        line = f"| | **{name}** | {m['precision']:.3f} | {m['recall']:.3f} | {m['f1']:.3f} | |"
        if thresholds is not None:
            line += " |"
        lines.append(line)
    return "\n".join(lines)


def model_card(
    stats: dict[str, Any],
    cv: dict[str, Any],
    meta: dict[str, str],
    held: dict[str, dict[str, Any]] | None = None,
    policy: DecisionPolicy | None = None,
) -> str:
    per = stats["per_category"]
    corpus_lines = "\n".join(
        f"| {CATEGORIES[c].ja} | {c} | {per[c]} |" for c in CATEGORY_NAMES if c != "impersonation"
    )
    model_m = cv["model"]
    parts = [
        "# コメント判定モデル / comment model card",
        "",
        card_section(policy or DecisionPolicy(), meta["version"]),
        "",
        "Generated by `python -m classifiers.training train`; do not edit by hand.",
        "",
        f"- Version: `{meta['version']}`",
        f"- Trained: {meta['trained_at']} (JST)",
        f"- Lexicon version (classifiers/data/lexicon.tsv): `{meta['lexicon_version'] or 'none'}`",
        f"- scikit-learn {meta['sklearn']}, skops {meta['skops']}",
        "",
        "## What it is",
        "",
        "Multi-label one-vs-rest logistic regression (balanced class weights, liblinear) over TF-IDF of",
        "SudachiPy normalized forms (uni- and bigrams) of the normalised comment and TF-IDF of character",
        "1-3-grams of its kana form. It scores the ten text categories. **なりすまし (impersonation) is not in",
        "the model**: it depends on the author's display name, which `phases/impersonation.py` judges.",
        "個人情報 and 有害リンク are mainly caught by the detectors; the model learns their wording too.",
        "Training adds evasion-spelled copies of some toxic rows (`normalise.evasion_variants`).",
        "",
        "## Training corpus (`classifiers/data/corpus.jsonl`)",
        "",
        f"- Rows: {stats['rows']} (multi-label: {stats['multi_label']})",
        f"- Clean rows (no label): {stats['clean']}, of which {stats['welfare_clean']} use welfare vocabulary",
        "  (障害, 高齢, 生活保護, 部落, 在日, 外国, 薬物, 詐欺, 自殺, 認知症, 差別, 介護 ...)",
        "- Written for this project (hand-written templates expanded by `corpus_src/build.py`); it is",
        "  synthetic, not collected from real accounts, so real-world accuracy will be lower than below.",
        "",
        "| カテゴリ | category | rows |",
        "| --- | --- | ---: |",
        corpus_lines,
        "",
        f"## Model alone: {cv['folds']}-fold cross-validation (out-of-fold)",
        "",
        "Folds are grouped by source template line, so all expansions of one hand-written line are held out",
        "together (otherwise near-duplicates would leak across folds and inflate every figure).",
        "",
        f"Thresholds: per category, the best F1 with out-of-fold precision ≥ {PRECISION_FLOOR} (at least",
        f"{MIN_THRESHOLD}), chosen on the pooled out-of-fold probabilities.",
        "",
        _table(model_m, TEXT_CATEGORIES, cv["thresholds"]),
        "",
        f"- Any category (toxic vs clean): precision {model_m['any']['precision']:.3f}, "
        f"recall {model_m['any']['recall']:.3f}, F1 {model_m['any']['f1']:.3f}",
        f"- Clean rows flagged: {model_m['clean_flag_rate']:.2%}; clean welfare-vocabulary rows flagged: "
        f"{model_m['welfare_flag_rate']:.2%}",
    ]
    if "pipeline" in cv:
        pipe = cv["pipeline"]
        parts += [
            "",
            "## Whole pipeline (rules + detectors + model), out-of-fold",
            "",
            "Each fold's model (trained on the other folds) judges its held-out fold through",
            "`classifiers.moderate`, together with the lexicon, detectors and allow-list as shipped.",
            "",
            _table(pipe, TEXT_CATEGORIES, None),
            "",
            f"- Any category: precision {pipe['any']['precision']:.3f}, recall {pipe['any']['recall']:.3f}, "
            f"F1 {pipe['any']['f1']:.3f}",
            f"- Clean rows flagged: {pipe['clean_flag_rate']:.2%}; clean welfare-vocabulary rows flagged: "
            f"{pipe['welfare_flag_rate']:.2%} (goal: at most 2%)",
        ]
    if held:
        parts += ["", "## Held-out sets (`tests/data/eval_*.jsonl`, never trained on)", ""]
        parts += [
            "Written separately from the corpus, in a different style (news-comment and social-media voice,",
            "evasion spellings, a welfare council's own comment threads); the whole pipeline as shipped.",
            "Toxic recall counts a toxic row as caught when any category is flagged.",
            "",
            "| file | rows | toxic | any precision | any recall | any F1 | micro F1 | clean rows flagged |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        ]
        for name, m in held.items():
            toxic = m["rows"] - m["clean_rows"]
            any_m = m["any"]
            parts.append(
                f"| {name} | {m['rows']} | {toxic} | {any_m['precision']:.3f} | {any_m['recall']:.3f} | "
                f"{any_m['f1']:.3f} | {m['micro']['f1']:.3f} | {m['clean_flag_rate']:.2%} |"
            )
    parts += [
        "",
        "## Limits",
        "",
        "- The corpus is small and written by the project; slang and evasions not seen here will be missed",
        "  by the model and depend on the lexicon. Misinformation is only a hint for human review.",
        "- Thresholds were chosen on the same out-of-fold predictions they are reported on, so the figures",
        "  above are slightly optimistic.",
        "",
    ]
    return "\n".join(parts)


def evaluate(path: Path) -> dict[str, Any]:
    """Judge every row of a labelled JSONL file with ``classifiers.moderate``; P/R/F1 per category."""
    rows = read_rows(path)
    texts = [r["text"] for r in rows]
    truth = [r["labels"] for r in rows]
    predicted = [moderate(t).categories for t in texts]
    cats = [c for c in CATEGORY_NAMES if c != "impersonation" or any(c in t for t in truth)]
    metrics = score_sets(truth, predicted, cats, texts)
    print(_table(metrics, cats, None))
    print(
        f"any: P {metrics['any']['precision']:.3f} R {metrics['any']['recall']:.3f} F1 {metrics['any']['f1']:.3f}"
        f" | unlabelled rows flagged: {metrics['clean_flag_rate']:.2%} of {metrics['clean_rows']}"
    )
    return metrics


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m classifiers.training")
    sub = parser.add_subparsers(dest="command", required=True)
    p_train = sub.add_parser("train", help="cross-validate, train and write models/")
    p_train.add_argument("--extra", type=Path, nargs="*", default=[])
    p_train.add_argument("--out-dir", type=Path, default=MODELS_DIR)
    p_eval = sub.add_parser("evaluate", help="P/R/F1 of the pipeline on a labelled JSONL file")
    p_eval.add_argument("path", type=Path)
    p_export = sub.add_parser("export", help="recompile the scorer that moderation loads from a skops file")
    p_export.add_argument("model", type=Path, nargs="?", default=MODELS_DIR / MODEL_FILE)
    args = parser.parse_args(argv)
    if args.command == "train":
        result = train(args.extra, out_dir=args.out_dir)
        keys = ("version", "model_path", "scorer_path", "corpus", "thresholds")
        print(json.dumps({k: result[k] for k in keys}, indent=2))
        print((args.out_dir / CARD_FILE).read_text(encoding="utf-8"))
    elif args.command == "export":
        print(export_scorer(args.model))
    else:
        evaluate(args.path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
