"""`shakyo-mod report` as a subprocess, and the 週次レポート pages over real HTTP on loopback."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import httpx
import pytest
import redis
import uvicorn
from fastapi import FastAPI
from starlette.responses import Response

from service.accounts import Role
from service.hours import JST
from service.reports.generate import GeneratedReport, list_reports, record_report, reports_dir
from service.reports.week import IsoWeek
from service.settings import Settings
from service.ui import reports as reports_ui
from service.ui.common import LazyUI
from tests.conftest import run_cli
from tests.reports.fixture_week import WEEK, build_week

PASSWORD = "Kaki-no-ki-2026-aki"


@pytest.mark.slow
def test_cli_report(r: redis.Redis, redis_url: str, cli_env: dict[str, str], tmp_path: Path) -> None:
    build_week(r)
    env = {**cli_env, "SHAKYO_REDIS_URL": redis_url}
    out = tmp_path / "out"
    done = run_cli(["report", "--week", "2026-W48", "--out", str(out)], env, cwd=tmp_path, timeout=180)
    assert done.returncode == 0, done.stderr
    assert "2026-W48" in done.stdout
    assert json.loads((out / "report.json").read_text("utf-8"))["volume"]["received"] == 10
    assert (out / "report.pdf").read_bytes().startswith(b"%PDF-")
    assert list_reports(r) == []  # --out is for hand delivery: the UI's list is left alone

    # No --week: the last full week (Monday–Sunday JST) before now, into the data directory, listed.
    done = run_cli(["report"], env, cwd=tmp_path, timeout=180)
    assert done.returncode == 0, done.stderr
    week = IsoWeek.last_full(datetime.now(JST))
    assert (tmp_path / "data" / "reports" / str(week) / "comments.csv").is_file()
    assert [rep["week"] for rep in list_reports(r)] == [str(week)]

    bad = run_cli(["report", "--week", "2026-48"], env, cwd=tmp_path, timeout=60)
    assert bad.returncode == 2 and "2026-W47 の形で指定してください" in bad.stderr


@pytest.fixture
def web(r: redis.Redis, settings: Settings) -> Iterator[tuple[str, str]]:
    """The reports router in an app served on loopback; yields (base URL, a logged-in staff cookie)."""
    lazy = LazyUI(r, settings)
    ctx = lazy.get()
    ctx.accounts.create("yamada", PASSWORD, Role.STAFF, display_name="山田 花子")
    app = FastAPI()
    app.state.ui = lazy
    app.include_router(reports_ui.router)
    cookie_response = Response()
    ctx.security.set_cookie(cookie_response, ctx.security.sessions.create("yamada"))
    cookie = cookie_response.headers["set-cookie"].split(";", 1)[0]

    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_config=None, access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.01)
    yield f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}", cookie
    server.should_exit = True
    thread.join(10)


def _stand_in_report(r: redis.Redis, settings: Settings) -> Path:
    folder = reports_dir(settings.data_dir) / str(WEEK)
    folder.mkdir(parents=True)
    (folder / "report.html").write_text("<html><body>週次レポート本文</body></html>", "utf-8")
    (folder / "report.pdf").write_bytes(b"%PDF-1.7 stand-in")
    (folder / "comments.csv").write_bytes("\ufeff項目ID\r\nfacebook:c1\r\n".encode())
    report = {
        "label": WEEK.label_ja,
        "generated_at": "2026-11-30T09:00:00+09:00",
        "volume": {"received": 10},
        "flagged": {"count": 8},
        "decisions": {"pending_at_end": 3},
    }
    record_report(r, GeneratedReport(WEEK, folder, report))
    return folder


def test_pages_need_a_login(web: tuple[str, str], r: redis.Redis, settings: Settings) -> None:
    base, _ = web
    _stand_in_report(r, settings)
    for path in ("/reports", "/reports/2026-W48/report.pdf"):
        resp = httpx.get(base + path, follow_redirects=False)
        assert resp.status_code == 303 and resp.headers["location"].startswith("/login?next=")


def test_list_open_and_download(web: tuple[str, str], r: redis.Redis, settings: Settings) -> None:
    base, cookie = web
    headers = {"cookie": cookie}
    empty = httpx.get(base + "/reports", headers=headers)
    assert empty.status_code == 200 and "まだレポートはありません" in empty.text

    _stand_in_report(r, settings)
    page = httpx.get(base + "/reports", headers=headers)
    assert page.status_code == 200
    assert "週次レポート" in page.text and WEEK.label_ja in page.text
    assert "2026-11-30 09:00" in page.text
    # Only the files that exist are offered.
    assert 'href="/reports/2026-W48/report.pdf"' in page.text
    assert 'href="/reports/2026-W48/comments.csv"' in page.text
    assert "summary.csv" not in page.text

    pdf = httpx.get(base + "/reports/2026-W48/report.pdf", headers=headers)
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.headers["content-disposition"].startswith("inline")
    assert pdf.content == b"%PDF-1.7 stand-in"
    html = httpx.get(base + "/reports/2026-W48/report.html", headers=headers)
    assert html.headers["content-type"].startswith("text/html") and "週次レポート本文" in html.text
    csv_file = httpx.get(base + "/reports/2026-W48/comments.csv", headers=headers)
    assert csv_file.headers["content-disposition"].startswith("attachment")
    assert csv_file.content.startswith(b"\xef\xbb\xbf")

    for path in (
        "/reports/2026-W48/summary.csv",  # allowed name, not written
        "/reports/2026-W49/report.pdf",  # no such week
        "/reports/2026-W48/settings.py",
        "/reports/..%2F..%2Fdata/report.pdf",
        "/reports/2026-W48/..%2Freport.pdf",
    ):
        assert httpx.get(base + path, headers=headers).status_code == 404, path
