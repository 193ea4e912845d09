"""Throughput and latency of classifiers.moderate on one core, against SudachiPy tokenisation alone.

Builds 20,000 realistic comments from the training corpus with variations (evasion spellings, greetings
and endings added, two comments joined), pins the process to one core where the OS allows, and reports
comments/s, single-comment p50/p99 latency, peak RSS and the ratio of classification time to tokenisation
time on the same comments. Figures only; nothing is asserted.

Run: ``python bench/classify.py [--n 20000] [--json]``
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

from classifiers import moderate  # noqa: E402
from classifiers.phases import model as model_phase  # noqa: E402
from classifiers.phases.normalise import evasion_variants  # noqa: E402
from classifiers.phases.tokenise import tokenise  # noqa: E402

CORPUS = REPO / "classifiers" / "data" / "corpus.jsonl"
_OPENERS = ("", "", "", "てか", "いやいや", "すみません、", "ちなみに", "あの〜")
_ENDINGS = ("", "", "", "w", "ｗｗｗ", "！", "。", "😊", "…", "🙏", "笑")


def build_comments(n: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    base = [json.loads(line)["text"] for line in CORPUS.read_text(encoding="utf-8").splitlines()]
    out: list[str] = []
    while len(out) < n:
        text = rng.choice(base)
        roll = rng.random()
        if roll < 0.15:
            text = text + " " + rng.choice(base)
        elif roll < 0.3 and len(text) >= 4:
            start = rng.randrange(0, len(text) - 2)
            word = text[start : start + 2]
            variants = evasion_variants(word, rng)
            if variants:
                text = text.replace(word, rng.choice(variants), 1)
        out.append(rng.choice(_OPENERS) + text + rng.choice(_ENDINGS))
    return out


def run(n: int) -> dict[str, float | int | str]:
    pinned = "no"
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
        pinned = "yes"
    comments = build_comments(n)
    # Warm-up: load the dictionary, lexicon and model outside the timed runs.
    for text in comments[:200]:
        moderate(text)
    info = model_phase.model_info()

    gc.collect()
    start = time.perf_counter()
    for text in comments:
        tokenise(text)
    tokenise_s = time.perf_counter() - start

    gc.collect()
    latencies: list[int] = []
    clock = time.perf_counter_ns
    flagged = 0
    start = time.perf_counter()
    for text in comments:
        t0 = clock()
        verdict = moderate(text)
        latencies.append(clock() - t0)
        flagged += verdict.flagged
    classify_s = time.perf_counter() - start
    latencies.sort()

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))] / 1e6

    return {
        "comments": n,
        "pinned_one_core": pinned,
        "model_loaded": str(info["loaded"]),
        "comments_per_s": round(n / classify_s),
        "p50_ms": round(pct(0.50), 3),
        "p99_ms": round(pct(0.99), 3),
        "max_ms": round(latencies[-1] / 1e6, 3),
        "tokenise_only_per_s": round(n / tokenise_s),
        "ratio_to_tokenise": round(classify_s / tokenise_s, 2),
        "flagged_share": round(flagged / n, 3),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    args = parser.parse_args()
    result = run(args.n)
    if args.json:
        print(json.dumps(result))
        return
    width = max(len(k) for k in result)
    for key, value in result.items():
        print(f"{key:<{width}}  {value}")


if __name__ == "__main__":
    main()
