"""Throughput and latency of classifiers.moderate on one core, against SudachiPy tokenisation alone.

Builds 20,000 realistic comments from the training corpus: real traffic is mostly clean, so by default
80% are drawn from the corpus's clean rows and 20% from its labelled rows (the corpus itself is about
50/50), with variations (evasion spellings, greetings and endings added, two comments joined). Pins the
process to one core where the OS allows and loads everything on a warm-up set first (excluded from the
figures). The timed part runs in blocks: each block of comments is tokenised alone, then classified one at a
time, then classified again in batches of 100 (``moderate_many``, as the worker and ``shakyo-mod classify``
do), so every side of the ratios sees the same comments under the same machine load. Reports comments/s,
single-comment p50/p99 latency, the ratio of classification time to tokenisation time (one at a time, and
batched), and resident memory after loading, after the run (with its anonymous part: the rest is mostly the mmapped
Sudachi dictionary) and at its peak. Figures only; nothing is asserted. Linux only (/proc).

The headline ratio (``ratio_to_sudachi``) divides by bare SudachiPy: the pipeline's own tokenizer (a plain
``Dictionary(dict="core").tokenizer(SplitMode.C)``, no field subsetting) calling ``tokenize()`` on the same
comments and dropping the result — what tokenising them costs with nothing else done.
``ratio_to_tokenise`` divides by the pipeline's tokenise phase (SudachiPy plus the Token list) instead.

Run: ``python bench/classify.py [--n 20000] [--toxic-share 0.2] [--json]``
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import resource
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from classifiers import moderate, moderate_many  # noqa: E402
from classifiers.phases import model as model_phase  # noqa: E402
from classifiers.phases.normalise import evasion_variants  # noqa: E402
from classifiers.phases.tokenise import _tokenizer, tokenise  # noqa: E402

CORPUS = REPO / "classifiers" / "data" / "corpus.jsonl"
_OPENERS = ("", "", "", "てか", "いやいや", "すみません、", "ちなみに", "あの〜")
_ENDINGS = ("", "", "", "w", "ｗｗｗ", "！", "。", "😊", "…", "🙏", "笑")
WARM_UP = 500
BLOCK = 500
BATCH = 100  # comments per moderate_many call: the worker's default batch and `shakyo-mod classify`'s


def build_comments(n: int, toxic_share: float = 0.2, seed: int = 0) -> list[str]:
    """``n`` comments, a ``toxic_share`` of them from labelled corpus rows and the rest from clean ones."""
    rng = random.Random(seed)
    clean: list[str] = []
    toxic: list[str] = []
    for line in CORPUS.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        (toxic if row["labels"] else clean).append(row["text"])
    out: list[str] = []
    while len(out) < n:
        pool = toxic if rng.random() < toxic_share else clean
        text = rng.choice(pool)
        roll = rng.random()
        if roll < 0.15:
            # A second sentence of the same kind, so a clean comment stays clean.
            text = text + " " + rng.choice(pool)
        elif roll < 0.3 and len(text) >= 4:
            start = rng.randrange(0, len(text) - 2)
            word = text[start : start + 2]
            variants = evasion_variants(word, rng)
            if variants:
                text = text.replace(word, rng.choice(variants), 1)
        out.append(rng.choice(_OPENERS) + text + rng.choice(_ENDINGS))
    return out


def _rss_mb() -> tuple[float, float]:
    """(resident, of which anonymous) in MB. The rest is file pages, mostly the mmapped Sudachi dictionary:
    shared between worker processes and reclaimable, but resident all the same."""
    values: dict[str, int] = {}
    with open("/proc/self/smaps_rollup", encoding="ascii") as fh:
        for line in fh:
            name, _, rest = line.partition(":")
            if name in ("Rss", "Anonymous"):
                values[name] = int(rest.split()[0])
    return values["Rss"] / 1024, values["Anonymous"] / 1024


def run(n: int, toxic_share: float) -> dict[str, float | int | str]:
    pinned = "no"
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
        pinned = "yes"
    comments = build_comments(n, toxic_share)
    # Warm-up on other comments: load the dictionary, lexicon and model outside the timed runs.
    for text in build_comments(WARM_UP, toxic_share, seed=1):
        moderate(text)
    info = model_phase.model_info()
    rss_loaded, _ = _rss_mb()
    sudachi = _tokenizer()

    gc.collect()
    clock = time.perf_counter_ns
    latencies: list[int] = []
    sudachi_ns = tokenise_ns = classify_ns = batched_ns = 0
    flagged = 0
    for first in range(0, n, BLOCK):
        block = comments[first : first + BLOCK]
        t0 = clock()
        for text in block:
            sudachi.tokenize(text)
        t1 = clock()
        for text in block:
            tokenise(text)
        t2 = clock()
        sudachi_ns += t1 - t0
        tokenise_ns += t2 - t1
        start = clock()
        for text in block:
            t0 = clock()
            verdict = moderate(text)
            latencies.append(clock() - t0)
            flagged += verdict.flagged
        classify_ns += clock() - start
        start = clock()
        for i in range(0, len(block), BATCH):
            moderate_many([(text, None) for text in block[i : i + BATCH]])
        batched_ns += clock() - start
    rss_after, rss_anon = _rss_mb()
    latencies.sort()

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))] / 1e6

    return {
        "comments": n,
        "mix": f"{1 - toxic_share:.0%} clean / {toxic_share:.0%} labelled corpus rows, with variations",
        "pinned_one_core": pinned,
        "model_loaded": str(info["loaded"]),
        "comments_per_s": round(n / (classify_ns / 1e9)),
        "p50_ms": round(pct(0.50), 3),
        "p99_ms": round(pct(0.99), 3),
        "max_ms": round(latencies[-1] / 1e6, 3),
        "flagged_share": round(flagged / n, 3),
        "ratio_to_sudachi": round(classify_ns / sudachi_ns, 2),
        "batched_comments_per_s": round(n / (batched_ns / 1e9)),
        "batched_ratio_to_sudachi": round(batched_ns / sudachi_ns, 2),
        "sudachi_only_per_s": round(n / (sudachi_ns / 1e9)),
        "tokenise_only_per_s": round(n / (tokenise_ns / 1e9)),
        "ratio_to_tokenise": round(classify_ns / tokenise_ns, 2),
        "rss_loaded_mb": round(rss_loaded, 1),
        "rss_after_mb": round(rss_after, 1),
        "rss_after_anon_mb": round(rss_anon, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument(
        "--toxic-share", type=float, default=0.2, help="share drawn from labelled rows (corpus: about 0.5)"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    args = parser.parse_args()
    result = run(args.n, args.toxic_share)
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
        return
    width = max(len(k) for k in result)
    for key, value in result.items():
        print(f"{key:<{width}}  {value}")


if __name__ == "__main__":
    main()
