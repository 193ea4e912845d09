"""Records stored before timestamps were bounded (or written by hand) never break a listing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import redis

from classifiers.verdict import Verdict
from service import keys
from service.cli import main
from service.store import PENDING, Store, jst_iso
from service.ui.common import jst
from tests.conftest import fb


@pytest.mark.parametrize("epoch", [1e14, 1e17, -1e17, float("inf")])
def test_formatters_never_raise(epoch: float) -> None:
    assert jst_iso(epoch) is None
    assert jst(epoch) == ""


def test_queue_list_json_prints_every_item_despite_a_far_future_time(
    r: redis.Redis,
    redis_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    store = Store(r)
    flagged = Verdict.from_dict(
        {
            "flagged": True,
            "categories": ["insult"],
            "scores": {"insult": 0.9},
            "severity": "high",
            "clauses": [],
            "action": "hide",
        }
    )
    for i in range(5):
        store.apply_event(
            f"1-{i}", fb(f"9_{i}", f"死ねよクズ {i}"), received_at=1_760_000_000 + i, verdict=flagged
        )
    # As the webhook stored 1e17 ms before parse-time bounds: year ~3 million.
    r.hset(keys.comment("facebook:9_2"), "created_time", "1e14")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SHAKYO_REDIS_URL", redis_url)

    assert main(["queue", "list", "--json", "--status", PENDING]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(lines) == 5
    assert {line["comment_id"]: line["created_time"] for line in lines}["9_2"] is None

    assert main(["queue", "list", "--status", PENDING]) == 0
    assert "5件" in capsys.readouterr().out
