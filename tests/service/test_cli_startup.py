"""CLI start-up: each command imports what it needs (the figures are measured by bench/run.py, not here)."""

from __future__ import annotations

import json
import select
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import free_port, run_cli

HEAVY = ("fastapi", "uvicorn", "matplotlib", "jinja2", "sudachipy", "service.ui", "service.app")

# Runs a command in-process, then reports which of HEAVY (and redis-py) it had imported.
PROBE = """
import json, sys
from service.cli import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
print(json.dumps(sorted(m for m in {heavy} if m in sys.modules)))
"""


def _imported(args: list[str], env: dict[str, str], cwd: Path, modules: tuple[str, ...]) -> list[str]:
    result = subprocess.run(
        [sys.executable, "-c", PROBE.format(heavy=repr(modules)), *args],
        env=env,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("args", [["queue", "list", "--help"], ["classify"], ["user", "list", "--help"]])
def test_commands_do_not_import_the_web_app_or_charts(
    args: list[str], cli_env: dict[str, str], tmp_path: Path
) -> None:
    assert _imported(args, cli_env, tmp_path, HEAVY) == []


def test_classify_does_not_import_redis(cli_env: dict[str, str], tmp_path: Path) -> None:
    assert _imported(["classify"], cli_env, tmp_path, ("redis", "service.redis_conn")) == []


def test_redis_unreachable_is_one_line_and_exit_1(cli_env: dict[str, str], tmp_path: Path) -> None:
    env = {**cli_env, "SHAKYO_REDIS_URL": f"redis://127.0.0.1:{free_port()}/0"}
    result = run_cli(["queue", "list"], env, cwd=tmp_path)
    assert result.returncode == 1
    assert len(result.stderr.strip().splitlines()) == 1 and "Redis" in result.stderr


def test_classify_answers_a_program_that_waits_for_each_line(cli_env: dict[str, str], tmp_path: Path) -> None:
    # Output is buffered for speed when a file is piped in; a co-process writing one line and waiting for its
    # answer must still get it (no PYTHONUNBUFFERED here: the command's own flushing is what is tested).
    env = {k: v for k, v in cli_env.items() if k != "PYTHONUNBUFFERED"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "service", "classify"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env=env,
        cwd=tmp_path,
        text=True,
    )
    assert proc.stdin is not None and proc.stdout is not None
    try:
        for i, text in enumerate(["お前ほんとバカだな", "今日はいい天気ですね"]):
            proc.stdin.write(json.dumps({"id": i, "text": text}, ensure_ascii=False) + "\n")
            proc.stdin.flush()
            ready, _, _ = select.select([proc.stdout], [], [], 120)  # a bound against hanging, not a speed check
            assert ready, "no answer to a line while the writer waits for it"
            answer = json.loads(proc.stdout.readline())
            assert answer["id"] == i and answer["flagged"] is (i == 0)
    finally:
        proc.stdin.close()
        proc.wait(timeout=60)
