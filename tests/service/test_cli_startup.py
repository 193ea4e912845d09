"""CLI start-up: each command imports what it needs (the figures are measured by bench/run.py, not here)."""

from __future__ import annotations

import json
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
