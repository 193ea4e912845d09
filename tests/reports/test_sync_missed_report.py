"""The weekly report counts the comments the reconciliation job found that no webhook had brought, as recorded
by service.reconcile in `{shakyo}:sync:missed` (real Redis, the report's own load, figures and HTML)."""

from __future__ import annotations

import re
from datetime import datetime

import redis

from service.hours import JST
from service.reconcile.sync import MISSED_INDEX
from service.reports.figures import compute
from service.reports.load import load_report_data
from service.reports.mask import excerpt
from service.reports.render_html import render_html
from tests.reports.fixture_week import WEEK, at

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=JST)


def test_report_counts_comments_sync_found_that_webhooks_missed(r: redis.Redis) -> None:
    r.zadd(
        MISSED_INDEX,
        {
            "facebook:1_1": at(23, 0, 0, 1),  # the week's first second
            "instagram:178": at(29, 23, 59),
            "facebook:1_2": at(22, 23, 59),  # the week before
            "facebook:1_3": at(30, 8),  # the week after
        },
    )
    report = compute(load_report_data(r, WEEK, now=NOW), excerpt)
    assert report["volume"]["sync_missed"] == 2
    row = re.search(r'<tr id="sync-missed">.*?</tr>', render_html(report), re.S)
    assert row and "照合" in row.group(0) and '<td class="n">2</td>' in row.group(0)


def test_report_without_missed_comments_says_zero(r: redis.Redis) -> None:
    report = compute(load_report_data(r, WEEK, now=NOW), excerpt)
    assert report["volume"]["sync_missed"] == 0
