"""Evidence export (課長/管理者 only, audited, hashes that check), the author page, bulk hiding through the action
stream and the fake Graph API, Page blocking (roles, confirmation, audit), the repeat-offender mark. Real app
over loopback, real Redis, real action worker, the fake Graph API over HTTP."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
import requests

from service.accounts import AccountStore, Role
from service.actions import ActionWorker, Tokens
from service.audit import AuditLog
from service.authors.history import repeat_offenders
from service.evidence.records import records
from service.moderation import Moderation
from service.settings import Settings
from service.store import Store
from tests.fakes.fake_graph import FakeGraph
from tests.service.test_moderation import add_flagged
from tests.webhooks.payloads import PAGE_ID
from webhooks.graph import GraphClient

SECRET, FB_TOKEN, IG_TOKEN = "authors-app-secret", "authors-fb-token", "authors-ig-token"
PASSWORD = "Minato-Hikari#Kaze58"


@pytest.fixture
def graph() -> Iterator[FakeGraph]:
    with FakeGraph(app_secret=SECRET, tokens={FB_TOKEN, IG_TOKEN}) as fake:
        yield fake


@pytest.fixture
def settings(make_settings: Callable[..., Settings], graph: FakeGraph) -> Settings:
    return make_settings(
        graph_api_url=graph.base_url,
        meta_app_secret=SECRET,
        facebook_page_token=FB_TOKEN,
        instagram_token=IG_TOKEN,
    )


@pytest.fixture
def sessions(r: redis.Redis, app_url: str) -> Callable[[str], requests.Session]:
    accounts = AccountStore(r)
    for name, role in (("tanaka", Role.STAFF), ("kacho", Role.CHIEF), ("kanri", Role.ADMIN)):
        accounts.create(name, PASSWORD, role)

    def login(username: str) -> requests.Session:
        session = requests.Session()
        form = session.get(f"{app_url}/login", timeout=10)
        token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
        assert token
        data = {"username": username, "password": PASSWORD, "csrf_token": token.group(1)}
        session.post(f"{app_url}/login", data=data, timeout=10)
        page = session.get(f"{app_url}/queue", timeout=10)
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert page.status_code == 200 and csrf, username
        session.headers["X-CSRF-Token"] = csrf.group(1)
        return session

    return login


def flagged(r: redis.Redis, author_id: str, **kw: object) -> str:
    """A flagged comment, indexed under its author as the worker's after-flag step does."""
    item = add_flagged(r, author_id=author_id, **kw)  # type: ignore[arg-type]
    moderation = Moderation(r)
    comment = moderation.store.get(item)
    assert comment is not None
    moderation.index_author(comment)
    return item


def drain_actions(r: redis.Redis, graph: FakeGraph) -> None:
    client = GraphClient(graph.base_url, SECRET, backoff=0.001)
    try:
        ActionWorker(r, client, Tokens(FB_TOKEN, IG_TOKEN)).drain()
    finally:
        client.close()


def test_evidence_export_is_for_chiefs_audited_and_carries_the_json_hash(
    r: redis.Redis, app_url: str, sessions: Callable[[str], requests.Session], tmp_path: Path
) -> None:
    item = flagged(r, "u4321", author="荒木 次郎")
    Moderation(r).decide(item, "hide", actor="tanaka", role="staff", note="侮辱")
    (record,) = records(r, item)
    url = f"{app_url}/items/{item}/evidence"

    staff = sessions("tanaka")
    assert "証拠記録を出力" not in staff.get(f"{app_url}/items/{item}", timeout=10).text
    for fmt in ("pdf", "json"):
        refused = staff.post(url, data={"format": fmt}, timeout=10)
        assert refused.status_code == 403 and "課長以上" in refused.text

    chief = sessions("kacho")
    assert "証拠記録を出力（PDF）" in chief.get(f"{app_url}/items/{item}", timeout=10).text
    got = chief.post(url, data={"format": "json"}, timeout=10)
    assert got.status_code == 200 and got.headers["X-Evidence-SHA256"] == record.sha256
    wrapper = got.json()
    assert wrapper["sha256"] == record.sha256
    assert hashlib.sha256(wrapper["record_json"].encode("utf-8")).hexdigest() == wrapper["sha256"]
    assert json.loads(wrapper["record_json"])["author_id"] == "u4321"

    pdf = sessions("kanri").post(url, data={"format": "pdf"}, timeout=60)
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    path = tmp_path / "evidence.pdf"
    path.write_bytes(pdf.content)
    text = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True).stdout
    assert record.sha256 in text and "u4321" in text and "証拠記録" in text and "荒木 次郎" in text

    exports = [e for e in AuditLog(r).entries(item_id=item) if e.action == "evidence_exported"]
    assert [(e.actor, e.note, json.loads(e.detail)["sha256"]) for e in exports] == [
        ("kacho", "JSON", record.sha256),
        ("kanri", "PDF", record.sha256),
    ]


def test_export_without_a_record_is_404(
    r: redis.Redis, app_url: str, sessions: Callable[[str], requests.Session]
) -> None:
    item = flagged(r, "u1")
    got = sessions("kacho").post(f"{app_url}/items/{item}/evidence", data={"format": "pdf"}, timeout=10)
    assert got.status_code == 404 and "証拠記録はありません" in got.text


def test_author_page_and_bulk_hide_go_through_the_action_stream_to_meta(
    r: redis.Redis, app_url: str, sessions: Callable[[str], requests.Session], graph: FakeGraph
) -> None:
    mine = [flagged(r, "u900", author="山田 太郎", received_at=time.time() - 86400 * d) for d in (3, 2, 1)]
    other = flagged(r, "u901")
    decided = flagged(r, "u900", author="山田 太郎")
    Moderation(r).decide(decided, "dismiss", actor="tanaka", role="staff")
    for item in [*mine, other, decided]:
        graph.add_comment(item.split(":", 1)[1], platform="facebook")

    staff = sessions("tanaka")
    item_page = staff.get(f"{app_url}/items/{mine[0]}", timeout=10).text
    assert 'href="/authors/facebook/u900"' in item_page
    page = staff.get(f"{app_url}/authors/facebook/u900", timeout=10)
    assert page.status_code == 200
    assert "山田 太郎" in page.text and "未対応 3件" in page.text and "問題なし 1件" in page.text
    assert "まとめて非表示（3件）" in page.text and 'id="block"' not in page.text  # 職員: no block button

    done = staff.post(f"{app_url}/authors/facebook/u900/hide-pending", data={"note": "連投"}, timeout=10)
    assert done.status_code == 200 and "3件を受け付けました" in done.text
    drain_actions(r, graph)
    store = Store(r)
    for item in mine:
        assert graph.is_hidden(item.split(":", 1)[1]) and store.get(item).status == "hidden"  # type: ignore[union-attr]
    assert not graph.is_hidden(other.split(":", 1)[1]) and store.get(other).status == "pending"  # type: ignore[union-attr]
    assert store.get(decided).status == "dismissed"  # type: ignore[union-attr]
    asked = [e for e in AuditLog(r).entries() if e.action == "hide_requested"]
    assert sorted(e.item_id for e in asked) == sorted(mine) and {e.actor for e in asked} == {"tanaka"}
    assert {e.note for e in asked} == {"連投"}
    # Each hide froze an evidence record, as a click on the item page does.
    assert all(records(r, item) for item in mine)


def test_page_block_is_for_chiefs_after_confirmation_and_audited(
    r: redis.Redis, app_url: str, sessions: Callable[[str], requests.Session], graph: FakeGraph
) -> None:
    flagged(r, "u555", author="荒らし")
    ig = flagged(r, "1784555", platform="instagram", author="ig_user", post_id="1790")
    url = f"{app_url}/authors/facebook/u555/block"

    staff = sessions("tanaka")
    assert staff.post(url, data={"confirmed": "yes"}, timeout=10).status_code == 403
    assert graph.blocked == {}

    chief = sessions("kacho")
    assert 'id="block"' in chief.get(f"{app_url}/authors/facebook/u555", timeout=10).text
    ask = chief.post(url, timeout=10)
    assert ask.status_code == 200 and "ブロックしますか" in ask.text and graph.blocked == {}
    done = chief.post(url, data={"confirmed": "yes"}, timeout=10)
    assert done.status_code == 200 and "ブロックしました" in done.text and "ブロック済み" in done.text
    assert graph.blocked == {PAGE_ID: {"u555"}}
    (call,) = [c for c in graph.calls if c.comment_id == f"{PAGE_ID}/blocked"]
    assert call.method == "POST" and call.form["uid"] == "u555" and "appsecret_proof" in call.form
    trail = [e for e in AuditLog(r).entries() if e.action.startswith("block")]
    assert [(e.action, e.actor) for e in trail] == [("block_requested", "kacho"), ("blocked", "kacho")]
    assert json.loads(trail[0].detail)["author"] == "facebook:u555"

    # Instagram: no API for it; the page says so and the route refuses.
    ig_author = ig.split(":", 1)[0]
    assert ig_author == "instagram"
    page = chief.get(f"{app_url}/authors/instagram/1784555", timeout=10).text
    assert "InstagramではAPIで投稿者をブロックできません" in page and 'id="block"' not in page
    assert chief.post(f"{app_url}/authors/instagram/1784555/block", timeout=10).status_code == 405


def test_repeat_offender_mark_counts_removals_in_90_days(
    r: redis.Redis, app_url: str, sessions: Callable[[str], requests.Session]
) -> None:
    now = time.time()
    store = Store(r)
    for days, status in ((10, "deleted"), (20, "hidden"), (30, "deleted")):
        store.set_status(flagged(r, "u3", author="三回", received_at=now - days * 86400), status)
    for days, status in ((10, "deleted"), (20, "hidden"), (120, "deleted")):  # one is too old
        store.set_status(flagged(r, "u2", author="二回", received_at=now - days * 86400), status)
    open_items = [flagged(r, author, author=name) for author, name in (("u3", "三回"), ("u2", "二回"))]
    comments = [c for c in (store.get(i) for i in open_items) if c is not None]
    assert repeat_offenders(r, comments, now=now) == {"facebook:u3"}
    queue = sessions("tanaka").get(f"{app_url}/queue", timeout=10).text
    assert queue.count(">常習</a>") == 1 and 'href="/authors/facebook/u3"' in queue
