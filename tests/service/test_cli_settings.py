"""Settings loading and the `shakyo-mod` CLI (run as `python -m service` subprocesses)."""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
from pathlib import Path

import pytest
import redis

from service.settings import DEFAULT_GRAPH_API_URL, Settings, SettingsError, load_settings
from service.worker import Worker, ensure_group
from tests.conftest import BENIGN, TOXIC, enqueue, fb, run_cli


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No SHAKYO_* from the outer environment, and a cwd without .env."""
    for name in list(os.environ):
        if name.startswith("SHAKYO_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_settings_from_env_file_with_secrets_hidden(clean_env: Path) -> None:
    (clean_env / ".env").write_text(
        "SHAKYO_META_APP_SECRET=s3cret-value\nSHAKYO_META_VERIFY_TOKEN=tok\nSHAKYO_FACEBOOK_PAGE_ID=42\n",
        encoding="utf-8",
    )
    settings = load_settings(require=("meta_app_secret", "meta_verify_token"))
    assert settings.secret("meta_app_secret") == "s3cret-value"
    assert "s3cret-value" not in repr(settings)
    assert settings.facebook_page_id == "42" and settings.instagram_account_id is None
    assert settings.graph_api_url == DEFAULT_GRAPH_API_URL and settings.redis_url is None
    assert settings.dedup_ttl_hours >= 72


def test_missing_and_invalid_settings_are_one_line(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(SettingsError) as missing:
        load_settings(require=("meta_app_secret",))
    assert "SHAKYO_META_APP_SECRET" in str(missing.value) and "\n" not in str(missing.value)
    monkeypatch.setenv("SHAKYO_DEDUP_TTL_HOURS", "24")
    with pytest.raises(SettingsError) as invalid:
        load_settings()
    message = str(invalid.value)
    assert "SHAKYO_DEDUP_TTL_HOURS" in message and "設定エラー" in message and "Setting error" in message
    assert "\n" not in message


@pytest.mark.slow
def test_serve_without_secret_prints_one_line_and_exits_2(cli_env: dict[str, str], tmp_path: Path) -> None:
    # The secret becomes required once a Page is connected; without one the service starts (UI only).
    cli_env["SHAKYO_FACEBOOK_PAGE_ID"] = "42"
    result = run_cli(["serve", "--port", "1"], cli_env, cwd=tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("設定エラー: SHAKYO_META_APP_SECRET が未設定です。")
    assert "Setting error: SHAKYO_META_APP_SECRET is missing" in lines[0]
    assert "Traceback" not in result.stderr

    cli_env["SHAKYO_META_APP_SECRET"] = "x"
    cli_env["SHAKYO_LOG_LEVEL"] = "loud"
    result = run_cli(["serve", "--port", "1"], cli_env, cwd=tmp_path)
    assert result.returncode == 2
    assert "SHAKYO_LOG_LEVEL" in result.stderr and len(result.stderr.strip().splitlines()) == 1


@pytest.mark.slow
def test_classify_json_lines_in_order_with_a_bad_line(cli_env: dict[str, str], tmp_path: Path) -> None:
    stdin = "\n".join(
        [
            json.dumps({"id": "a", "text": TOXIC}, ensure_ascii=False),
            "this is not json",
            json.dumps({"id": "c", "text": BENIGN}, ensure_ascii=False),
            json.dumps({"id": "d"}),
        ]
    )
    result = run_cli(["classify"], cli_env, cwd=tmp_path, stdin=stdin + "\n")
    assert result.returncode == 0, result.stderr
    out = [json.loads(line) for line in result.stdout.splitlines()]
    assert [o["id"] for o in out] == ["a", None, "c", "d"]
    assert out[0]["flagged"] is True and out[0]["categories"] and out[0]["severity"] != "none"
    assert "error" in out[1] and "error" in out[3]
    assert out[2]["flagged"] is False and set(out[2]) >= {"scores", "clauses", "action", "matches"}
    # Written directly (Verdict.to_json), each line is still exactly json.dumps of the id and the verdict.
    from classifiers import moderate

    lines = result.stdout.splitlines()
    for i, text in ((0, TOXIC), (2, BENIGN)):
        expected = {"id": out[i]["id"], **moderate(text).to_dict()}
        assert lines[i] == json.dumps(expected, ensure_ascii=False)
    assert lines[1] == json.dumps({"id": None, "error": out[1]["error"]}, ensure_ascii=False)


@pytest.mark.slow
def test_classify_a_file_of_several_batches_answers_every_line_in_order(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    from classifiers import moderate
    from service.cli import _CLASSIFY_BATCH

    texts = [TOXIC, BENIGN, "電話は090-1234-5678です", "死にたい", "お前ほんとバカだな"]
    lines: list[str] = []
    expected: list[object] = []  # per answer: the text its verdict is of, or None for an error
    for i in range(2 * _CLASSIFY_BATCH + 30):
        if i % 37 == 5:
            lines.append(f"[{i}]")  # JSON, but no object: an error answer in its place
            expected.append(None)
        elif i % 41 == 7:
            lines.append("")  # blank lines are skipped, not answered
        else:
            text = texts[i % len(texts)]
            lines.append(json.dumps({"id": i, "text": text, "author": "山田 花子"}, ensure_ascii=False))
            expected.append((i, text))
    result = run_cli(["classify"], cli_env, cwd=tmp_path, stdin="\n".join(lines) + "\n")
    assert result.returncode == 0, result.stderr
    answers = result.stdout.splitlines()
    assert len(answers) == len(expected)
    for answer, want in zip(answers, expected, strict=True):
        if want is None:
            assert json.loads(answer) == {"id": None, "error": "a line must be a JSON object"}
        else:
            i, text = want
            assert answer == json.dumps(
                {"id": i, **moderate(text, author="山田 花子").to_dict()}, ensure_ascii=False
            )


@pytest.mark.parametrize("unbuffered", [True, False])
def test_classify_answers_each_line_a_program_feeds_before_the_next(
    cli_env: dict[str, str], tmp_path: Path, unbuffered: bool
) -> None:
    """Lines are judged and answered in batches for a piped file, but a program waiting for each answer gets
    it, whether Python's output is unbuffered (common in containers) or not (the command flushes itself)."""
    cli_env.pop("PYTHONUNBUFFERED", None)
    if unbuffered:
        cli_env["PYTHONUNBUFFERED"] = "1"
    proc = subprocess.Popen(
        [sys.executable, "-m", "service", "classify"],
        env=cli_env,
        cwd=tmp_path,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdin is not None and proc.stdout is not None
    try:
        for n, text in enumerate((TOXIC, BENIGN, TOXIC)):
            proc.stdin.write(json.dumps({"id": n, "text": text}, ensure_ascii=False) + "\n")
            proc.stdin.flush()
            # Nothing more is sent until this answer arrives: without it the two would wait on each other.
            ready, _, _ = select.select([proc.stdout], [], [], 120)
            assert ready, f"no answer to line {n}"
            assert json.loads(proc.stdout.readline())["id"] == n
        proc.stdin.close()
        assert proc.wait(60) == 0 and proc.stdout.read() == ""
    finally:
        proc.kill()
        proc.wait()


@pytest.mark.slow
def test_queue_list_json_and_table(
    cli_env: dict[str, str], tmp_path: Path, redis_url: str, r: redis.Redis, settings: Settings
) -> None:
    ensure_group(r)
    enqueue(redis_url, fb("9_1", TOXIC), fb("9_2", BENIGN))
    Worker(r, settings).drain()
    cli_env["SHAKYO_REDIS_URL"] = redis_url
    result = run_cli(["queue", "list", "--json"], cli_env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    (item,) = [json.loads(line) for line in result.stdout.splitlines()]
    assert item["platform"] == "facebook" and item["comment_id"] == "9_1" and item["text"] == TOXIC
    assert item["status"] == "pending" and item["categories"] and item["severity"] != "none"
    assert item["author"] == "山田 花子" and item["received_at"].endswith("+09:00")
    table = run_cli(["queue", "list"], cli_env, cwd=tmp_path)
    assert table.returncode == 0
    assert "受信日時(JST)" in table.stdout and TOXIC in table.stdout and BENIGN not in table.stdout


@pytest.mark.slow
def test_unreachable_redis_is_one_line(cli_env: dict[str, str], tmp_path: Path) -> None:
    cli_env["SHAKYO_REDIS_URL"] = "redis://127.0.0.1:1/0"
    result = run_cli(["queue", "list"], cli_env, cwd=tmp_path)
    assert result.returncode == 1
    assert len(result.stderr.strip().splitlines()) == 1 and "Redis" in result.stderr


def test_list_and_time_settings_and_no_secret_in_errors(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SHAKYO_COUNCIL_NAMES", "みね社協, 美祢ふくし ,")
    monkeypatch.setenv("SHAKYO_HOURS_START", "09:00")
    settings = load_settings()
    assert settings.council_names == ["みね社協", "美祢ふくし"]
    assert settings.hours_start.hour == 9 and settings.hours_end.minute == 15
    monkeypatch.setenv("SHAKYO_SESSION_SECRET", "too-short-secret")
    with pytest.raises(SettingsError) as invalid:
        load_settings()
    assert "SHAKYO_SESSION_SECRET" in str(invalid.value) and "too-short-secret" not in str(invalid.value)


def test_public_phones_setting_reaches_the_classifier(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from classifiers.config import CONFIG, phone_digits
    from service.cli import configure_classifier

    # Fictional numbers; the help desk's own number is public too.
    monkeypatch.setenv("SHAKYO_PUBLIC_PHONES", "0837-00-0000, （0837）00-0001 ,#7119,")
    monkeypatch.setenv("SHAKYO_SUPPORT_DESK_PHONE", "0837-00-0002")
    settings = load_settings()
    assert settings.public_phones == ["0837-00-0000", "（0837）00-0001", "#7119"]
    previous = (CONFIG.site_lexicon_path, CONFIG.model_path, CONFIG.council_names, CONFIG.public_phones)
    try:
        configure_classifier(settings)
        assert {
            phone_digits(n) for n in ("0837-00-0000", "0837-00-0001", "0837-00-0002")
        } <= CONFIG.public_phones
    finally:
        CONFIG.site_lexicon_path, CONFIG.model_path, CONFIG.council_names, CONFIG.public_phones = previous


def test_a_public_phone_that_is_not_a_number_is_explained(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SHAKYO_PUBLIC_PHONES", "0837-00-0000, 社協の代表")
    with pytest.raises(SettingsError) as invalid:
        load_settings()
    message = str(invalid.value)
    assert "SHAKYO_PUBLIC_PHONES" in message and "社協の代表" in message and "電話番号" in message
    assert "例: 0837-00-0000" in message and "\n" not in message
