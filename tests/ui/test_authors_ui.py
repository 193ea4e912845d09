"""Browser test (Debian chromium): from an item page to its author's page and back, then 「証拠記録を出力」 as a
課長, the downloaded PDF read with pdftotext for the author id and the record's SHA-256."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
import redis
from playwright.sync_api import Page

from service.evidence.records import records
from service.moderation import Moderation
from tests.service.test_moderation import add_flagged
from tests.ui.test_staff_ui import (  # noqa: F401 (fixtures)
    browser,
    graph,
    login,
    new_page,
    settings,
    users,
)

pytestmark = pytest.mark.slow


@pytest.mark.usefixtures("users")
def test_author_page_and_evidence_pdf(
    r: redis.Redis,
    new_page: Callable[[], Page],  # noqa: F811
    tmp_path: Path,
) -> None:
    moderation = Moderation(r)
    items = [
        add_flagged(r, "お前はほんとうにバカだな", author="荒木 次郎", author_id="u8080") for _ in range(2)
    ]
    for item in items:
        comment = moderation.store.get(item)
        assert comment is not None
        moderation.index_author(comment)
    moderation.decide(items[0], "escalate", actor="tanaka", role="staff", note="課長に確認")
    (record,) = records(r, items[0])

    page = new_page()
    login(page, "kacho")
    page.goto(f"/items/{items[0]}")
    page.click("#author-link")
    page.wait_for_url(re.compile(r"/authors/facebook/u8080"))
    assert "u8080" in page.inner_text("#author-id")
    assert "指摘 2件" in page.inner_text("#author-counts")
    assert page.is_visible("#block") and page.is_visible("#hide-pending")
    page.click(f"a[href='/items/{items[0]}']")
    page.wait_for_url(re.compile(re.escape(f"/items/{items[0]}")))

    with page.expect_download() as info:
        page.click("#evidence-pdf")
    saved = tmp_path / "evidence.pdf"
    info.value.save_as(saved)
    assert info.value.suggested_filename.endswith(f"{record.sha256[:12]}.pdf")
    text = subprocess.run(["pdftotext", str(saved), "-"], capture_output=True, text=True, check=True).stdout
    assert "u8080" in text and record.sha256 in text and "証拠記録" in text
