import time
from datetime import datetime, timedelta
from typing import Annotated

import pytest
import redis
from argon2 import PasswordHasher
from fastapi import Depends, FastAPI, Form, Request, Response
from fastapi.testclient import TestClient

from service.accounts import AccountStore, Role
from service.hours import JST
from service.web_security import (
    CurrentUser,
    LoginThrottle,
    SecuritySettings,
    SessionStore,
    WebSecurity,
    safe_next,
    session_key,
    session_secret,
)

T0 = datetime(2026, 11, 24, 9, 0, tzinfo=JST)
GOOD = "Tsubaki-no-hana-2026"
GOOD2 = "秋の夕暮れに柿を三つ食べた"
SECRET = "x" * 40


def settings(**kw: object) -> SecuritySettings:
    return SecuritySettings(secret_key=SECRET, **kw)  # type: ignore[arg-type]


@pytest.fixture
def accounts(r: redis.Redis) -> AccountStore:
    store = AccountStore(r, hasher=PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    store.create("admin", GOOD, Role.ADMIN, display_name="管理 太郎")
    store.create("yamada", GOOD, Role.STAFF, display_name="山田 花子")
    store.create("kacho", GOOD, Role.CHIEF, display_name="美祢 課長")
    return store


def make_app(security: WebSecurity) -> FastAPI:
    """A small app wired the way the real UI is meant to use the helpers."""
    app = FastAPI()

    @app.post("/login")
    def login(
        request: Request,
        response: Response,
        username: Annotated[str, Form()],
        password: Annotated[str, Form()],
    ) -> dict:
        outcome = security.login_request(request, response, username, password)
        return {"ok": outcome.ok, "message": outcome.message_ja, "change": outcome.password_change_reason}

    @app.get("/private")
    def private(user: Annotated[CurrentUser, Depends(security.require_user)]) -> dict:
        return {"user": user.username, "csrf": user.csrf_token}

    @app.get("/password")
    def password_page(user: Annotated[CurrentUser, Depends(security.require_login)]) -> dict:
        return {"user": user.username, "csrf": user.csrf_token}

    @app.post("/password", dependencies=[Depends(security.require_csrf)])
    def change(
        request: Request,
        response: Response,
        current: Annotated[str, Form()],
        new: Annotated[str, Form()],
        user: Annotated[CurrentUser, Depends(security.require_login)],
    ) -> dict:
        security.change_password(request, response, user, current, new)
        return {"ok": True}

    @app.get("/approvals")
    def approvals(user: Annotated[CurrentUser, Depends(security.require_role(Role.CHIEF))]) -> dict:
        return {"user": user.username}

    @app.post("/act", dependencies=[Depends(security.require_csrf)])
    def act(
        user: Annotated[CurrentUser, Depends(security.require_user)], note: Annotated[str, Form()] = ""
    ) -> dict:
        return {"done": note, "by": user.username}

    @app.post("/logout")
    def logout(request: Request, response: Response) -> dict:
        security.logout(request, response)
        return {"ok": True}

    return app


def client_for(security: WebSecurity) -> TestClient:
    return TestClient(make_app(security), follow_redirects=False)


def log_in(client: TestClient, username: str = "yamada", password: str = GOOD) -> dict:
    resp = client.post("/login", data={"username": username, "password": password})
    assert resp.status_code == 200
    return resp.json()


def test_settings_and_secret(r: redis.Redis) -> None:
    with pytest.raises(ValueError):
        SecuritySettings(secret_key="short")
    first = session_secret(r)
    assert len(first) >= 32 and session_secret(r) == first  # every process gets the same one


def test_session_idle_timeout_and_touch(r: redis.Redis) -> None:
    store = SessionStore(r, settings(idle_timeout_seconds=30 * 60))
    s = store.create("yamada", ip="10.1.2.3", now=T0)
    assert store.get(s.session_id, now=T0 + timedelta(minutes=29)) is not None
    # That request restarted the idle clock: 29 more minutes are still fine.
    assert store.get(s.session_id, now=T0 + timedelta(minutes=58)) is not None
    assert store.get(s.session_id, now=T0 + timedelta(minutes=88, seconds=1)) is None
    assert not r.exists(session_key(s.session_id))  # ended, not only refused


def test_session_absolute_limit(r: redis.Redis) -> None:
    store = SessionStore(r, settings(idle_timeout_seconds=30 * 60, absolute_timeout_seconds=2 * 3600))
    s = store.create("yamada", now=T0)
    for minutes in range(20, 120, 20):
        assert store.get(s.session_id, now=T0 + timedelta(minutes=minutes)) is not None
    assert store.get(s.session_id, now=T0 + timedelta(minutes=120)) is None


def test_destroy_all_sessions_of_a_user(r: redis.Redis) -> None:
    store = SessionStore(r, settings())
    a, b = store.create("yamada", now=T0), store.create("yamada", now=T0)
    other = store.create("kacho", now=T0)
    assert store.destroy_all_for("yamada") == 2
    assert store.get(a.session_id, now=T0) is None and store.get(b.session_id, now=T0) is None
    assert store.get(other.session_id, now=T0) is not None


def test_throttle_per_user_name(r: redis.Redis) -> None:
    throttle = LoginThrottle(r, settings())
    for i in range(4):
        assert not throttle.record_failure("yamada", "192.0.2.1", now=T0 + timedelta(seconds=i)).locked
    status = throttle.record_failure("Yamada", "192.0.2.2", now=T0 + timedelta(seconds=5))
    assert status.locked and "このユーザー名" in status.message_ja and "約15分間" in status.message_ja
    assert throttle.check("yamada", "198.51.100.9", now=T0 + timedelta(minutes=14)).locked
    assert not throttle.check("kacho", "192.0.2.1", now=T0 + timedelta(minutes=1)).locked
    assert not throttle.check("yamada", "", now=T0 + timedelta(minutes=15, seconds=6)).locked


def test_throttle_window_and_success(r: redis.Redis) -> None:
    throttle = LoginThrottle(r, settings())
    for i in range(4):
        throttle.record_failure("yamada", "", now=T0 + timedelta(seconds=i))
    # Failures older than the 15-minute window no longer count.
    for i in range(4):
        assert not throttle.record_failure("yamada", "", now=T0 + timedelta(minutes=16, seconds=i)).locked
    throttle.record_success("yamada")
    for i in range(4):
        assert not throttle.record_failure("yamada", "", now=T0 + timedelta(minutes=17, seconds=i)).locked
    assert throttle.record_failure("yamada", "", now=T0 + timedelta(minutes=18)).locked
    throttle.unlock("yamada")
    assert not throttle.check("yamada", "", now=T0 + timedelta(minutes=18)).locked


def test_throttle_per_client_address(r: redis.Redis) -> None:
    throttle = LoginThrottle(r, settings(max_failures_per_ip=6))
    for i in range(5):
        assert not throttle.record_failure(f"user{i}", "203.0.113.7", now=T0).locked
    status = throttle.record_failure("user5", "203.0.113.7", now=T0)
    assert status.locked and "この端末" in status.message_ja
    assert throttle.check("someone-else", "203.0.113.7", now=T0).locked
    assert not throttle.check("someone-else", "203.0.113.8", now=T0).locked


def test_locked_name_refuses_even_the_right_password(r: redis.Redis, accounts: AccountStore) -> None:
    security = WebSecurity(r, accounts, settings())
    for _ in range(4):
        outcome = security.login("yamada", "wrong-guess-000", ip="192.0.2.1", now=T0)
        assert not outcome.ok and outcome.message_ja == "ユーザー名またはパスワードが違います。"
    locked = security.login("yamada", "wrong-guess-000", ip="192.0.2.1", now=T0)
    assert "ログインできません" in locked.message_ja
    assert not security.login("yamada", GOOD, ip="192.0.2.1", now=T0 + timedelta(minutes=5)).ok
    later = security.login("yamada", GOOD, ip="192.0.2.1", now=T0 + timedelta(minutes=16))
    assert later.ok and later.session is not None and later.account is not None


def test_login_cookie_attributes(r: redis.Redis, accounts: AccountStore) -> None:
    for secure, flag in ((False, False), (True, True)):
        client = client_for(WebSecurity(r, accounts, settings(secure_cookie=secure, same_site="strict")))
        resp = client.post("/login", data={"username": "yamada", "password": GOOD})
        cookie = resp.headers["set-cookie"]
        assert cookie.startswith("shakyo_session=")
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie
        assert ("Secure" in cookie) is flag
        assert "Max-Age" not in cookie and "expires" not in cookie.lower()  # a browser-session cookie


def test_pages_need_a_login(r: redis.Redis, accounts: AccountStore) -> None:
    client = client_for(WebSecurity(r, accounts, settings()))
    resp = client.get("/private?tab=new")
    assert resp.status_code == 303 and resp.headers["location"] == "/login?next=/private%3Ftab%3Dnew"
    assert log_in(client, password="wrong-password-1")["message"] == "ユーザー名またはパスワードが違います。"
    assert client.get("/private").status_code == 303
    assert log_in(client)["ok"]
    assert client.get("/private").json()["user"] == "yamada"


def test_tampered_cookie_is_refused(r: redis.Redis, accounts: AccountStore) -> None:
    client = client_for(WebSecurity(r, accounts, settings()))
    log_in(client)
    value = client.cookies["shakyo_session"]
    client.cookies.set("shakyo_session", value[:-2] + ("AA" if not value.endswith("AA") else "BB"))
    assert client.get("/private").status_code == 303
    # The same session id signed with another secret is refused too.
    other = client_for(WebSecurity(r, accounts, SecuritySettings(secret_key="y" * 40)))
    other.cookies.set("shakyo_session", value)
    assert other.get("/private").status_code == 303


def test_logout_ends_the_session(r: redis.Redis, accounts: AccountStore) -> None:
    client = client_for(WebSecurity(r, accounts, settings()))
    log_in(client)
    stolen = client.cookies["shakyo_session"]
    resp = client.post("/logout")
    assert 'shakyo_session=""' in resp.headers["set-cookie"]
    assert client.get("/private").status_code == 303
    client.cookies.set("shakyo_session", stolen)  # the old cookie is worthless on the server too
    assert client.get("/private").status_code == 303


def test_idle_timeout_through_the_app(r: redis.Redis, accounts: AccountStore) -> None:
    client = client_for(WebSecurity(r, accounts, settings(idle_timeout_seconds=1)))
    log_in(client)
    assert client.get("/private").status_code == 200
    time.sleep(1.1)
    assert client.get("/private").status_code == 303


def test_csrf_token_bound_to_the_session(r: redis.Redis, accounts: AccountStore) -> None:
    security = WebSecurity(r, accounts, settings())
    client = client_for(security)
    log_in(client)
    token = client.get("/private").json()["csrf"]

    missing = client.post("/act", data={"note": "x"})
    assert missing.status_code == 403 and "不正な送信" in missing.json()["detail"]
    wrong = client.post("/act", data={"note": "x", "csrf_token": token[:-1] + ("B" if token.endswith("A") else "A")})
    assert wrong.status_code == 403
    ok = client.post("/act", data={"note": "削除", "csrf_token": token})
    assert ok.status_code == 200 and ok.json() == {"done": "削除", "by": "yamada"}
    assert client.post("/act", headers={"X-CSRF-Token": token}).status_code == 200

    # Another user's valid token does not work in this session.
    other = client_for(security)
    log_in(other, "kacho")
    other_token = other.get("/private").json()["csrf"]
    assert other_token != token
    assert client.post("/act", data={"csrf_token": other_token}).status_code == 403


def test_roles(r: redis.Redis, accounts: AccountStore) -> None:
    security = WebSecurity(r, accounts, settings())
    staff, chief, admin = client_for(security), client_for(security), client_for(security)
    log_in(staff, "yamada")
    log_in(chief, "kacho")
    log_in(admin, "admin")
    denied = staff.get("/approvals")
    assert denied.status_code == 403 and denied.json()["detail"] == "この操作には課長以上の権限が必要です。"
    assert chief.get("/approvals").json() == {"user": "kacho"}
    assert admin.get("/approvals").status_code == 200


def test_disabling_an_account_ends_its_sessions_at_once(r: redis.Redis, accounts: AccountStore) -> None:
    client = client_for(WebSecurity(r, accounts, settings()))
    log_in(client)
    assert client.get("/private").status_code == 200
    accounts.disable("yamada", by="admin")
    assert client.get("/private").status_code == 303


def test_pending_password_change(r: redis.Redis, accounts: AccountStore) -> None:
    security = WebSecurity(r, accounts, settings())
    accounts.set_password("yamada", "Kari-no-kagi-8521", by="admin")
    client, elsewhere = client_for(security), client_for(security)
    outcome = log_in(client, password="Kari-no-kagi-8521")
    assert outcome["ok"] and "管理者が発行した" in outcome["change"]
    log_in(elsewhere, password="Kari-no-kagi-8521")
    # Ordinary pages send the user to the password page, which itself is reachable.
    resp = client.get("/private")
    assert resp.status_code == 303 and resp.headers["location"] == "/password"
    token = client.get("/password").json()["csrf"]
    old_cookie = client.cookies["shakyo_session"]

    changed = client.post(
        "/password", data={"current": "Kari-no-kagi-8521", "new": GOOD2, "csrf_token": token}
    )
    assert changed.status_code == 200
    assert client.cookies["shakyo_session"] != old_cookie  # a fresh session for this browser
    assert client.get("/private").status_code == 200
    # Every other session of the user has ended.
    assert elsewhere.get("/password").status_code == 303
    assert elsewhere.get("/password").headers["location"].startswith("/login")


def test_safe_next() -> None:
    assert safe_next("/queue?tab=new") == "/queue?tab=new"
    for bad in ("https://evil.example/", "//evil.example/", "/\\evil.example", "", None, "queue"):
        assert safe_next(bad) == "/"
