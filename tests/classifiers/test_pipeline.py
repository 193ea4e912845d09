"""moderate_many: judging comments phase by phase over a batch gives each the verdict it gets alone."""

from __future__ import annotations

import json
from pathlib import Path

from classifiers import moderate, moderate_many

DATA = Path(__file__).resolve().parents[1] / "data"


def _comments() -> list[tuple[str, str | None]]:
    texts: list[str] = []
    for name in ("eval_social.jsonl", "eval_evasion.jsonl", "support_eval.jsonl", "eval_welfare_page.jsonl"):
        texts += [json.loads(line)["text"] for line in (DATA / name).read_text(encoding="utf-8").splitlines()]
    # Authors too: the impersonation phase reads them, and a batch must not carry one comment's to the next.
    authors = [None, "山田 花子", "美祢市社会福祉協議会", "美祢市社協【公式】サポート"]
    return [(text, authors[i % len(authors)]) for i, text in enumerate(texts)]


def test_a_batch_gives_every_comment_the_verdict_it_gets_alone() -> None:
    comments = _comments()
    alone = [moderate(text, author=author) for text, author in comments]
    assert moderate_many(comments) == alone
    # Flags, 相談, 要確認 and clean comments all occur, so each path of compose ran inside the batch.
    assert {v.flagged for v in alone} == {True, False}
    assert any(v.needs_support for v in alone) and any(v.needs_review for v in alone)
    assert any("impersonation" in v.categories for v in alone)


def test_an_empty_batch_is_no_verdicts() -> None:
    assert moderate_many([]) == []
