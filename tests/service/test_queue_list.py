"""Issue 11 point 14: `shakyo-mod queue list` says when --limit cut it short, shows the item id `queue act`
takes, and names states, severities and categories in Japanese (the JSON keeps the English codes)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import redis

from classifiers.categories import CATEGORIES, Severity
from service.cli import main
from tests.service.test_moderation import add_flagged


@pytest.fixture
def cli_redis(redis_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SHAKYO_REDIS_URL", redis_url)
    return redis_url


def test_a_cut_list_says_how_many_of_how_many(
    r: redis.Redis, cli_redis: str, capsys: pytest.CaptureFixture[str]
) -> None:
    for i in range(7):
        add_flagged(r, f"バカ {i}")
    assert main(["queue", "list", "--limit", "5"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[-1] == "7件中5件を表示（--limit で変更）"
    assert len(out) == 1 + 5 + 1  # header, rows, footer
    assert main(["queue", "list", "--limit", "5", "--offset", "5"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "7件中6〜7件目を表示（--limit・--offset で変更）"
    assert main(["queue", "list"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "7件"
    # JSON lines stay the whole of stdout; the note goes to stderr.
    assert main(["queue", "list", "--json", "--limit", "2"]) == 0
    captured = capsys.readouterr()
    assert [json.loads(line)["status"] for line in captured.out.splitlines()] == ["pending", "pending"]
    assert captured.err.strip() == "7件中2件を表示（--limit で変更）"


def test_the_table_shows_the_item_id_and_japanese_names(
    r: redis.Redis, cli_redis: str, capsys: pytest.CaptureFixture[str]
) -> None:
    item = add_flagged(r, "差別的なバカ", categories=["discrimination", "insult"], severity=Severity.HIGH)
    assert main(["queue", "list"]) == 0
    header, row, footer = capsys.readouterr().out.splitlines()
    assert header.split("\t")[0] == "項目ID"
    cells = dict(zip(header.split("\t"), row.split("\t"), strict=True))
    assert cells["項目ID"] == item
    assert cells["状態"] == "未対応" and cells["重大度"] == Severity.HIGH.ja
    names = cells["分類"].split("／")
    assert names == [CATEGORIES["discrimination"].ja, CATEGORIES["insult"].ja]
    assert footer == "1件"
    assert main(["queue", "list", "--json"]) == 0
    (line,) = capsys.readouterr().out.splitlines()
    public = json.loads(line)
    assert public["item_id"] == item and public["status"] == "pending" and public["severity"] == "high"
    assert public["categories"] == ["discrimination", "insult"]
