"""Login sessions, CSRF tokens and login throttling for the staff web UI.

- The cookie holds only a random session id, signed (itsdangerous) so a forged or altered cookie is turned
  away before Redis is asked. The session itself lives in Redis (`{shakyo}:session:<id>`) and ends after
  `idle_timeout` without requests, after `absolute_timeout` in any case, and at logout.
- Every session has its own CSRF token; a form or fetch that changes state must send it back.
- Repeated login failures lock the user name, and the client address, for a while.

FastAPI use (the routes live elsewhere):

    security = WebSecurity(r, accounts, SecuritySettings(secret_key=session_secret(r)))
    User = Annotated[CurrentUser, Depends(security.require_user)]

    @app.get("/queue")
    def queue(user: User): ...

    @app.post("/items/{item}/delete", dependencies=[Depends(security.require_csrf)])
    def delete(item: str, user: User): ...

FastAPI resolves string annotations in the module's globals, so a module that writes
`from __future__ import annotations` must keep `security` (and aliases like `User`) at module level.
"""

from __future__ import annotations

import hmac
import logging
import math
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal
from urllib.parse import quote

import redis
from fastapi import HTTPException
from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.requests import Request
from starlette.responses import Response

from service.accounts import Account, AccountStore, Role, normalise_username
from service.hours import JST, now_jst

log = logging.getLogger(__name__)

SECRET_KEY = "{shakyo}:secret:session"  # nosec B105  # the Redis key the secret is kept under, not the secret
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
LOGIN_PATH = "/login"
PASSWORD_PATH = "/password"  # nosec B105  # a URL path

# Headers every HTML response should carry; the app adds them in a middleware.
SECURITY_HEADERS: dict[str, str] = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Content-Security-Policy": "frame-ancestors 'none'; form-action 'self'; base-uri 'self'",
}


def session_key(session_id: str) -> str:
    return f"{{shakyo}}:session:{session_id}"


def user_sessions_key(username: str) -> str:
    return f"{{shakyo}}:user_sessions:{username}"


def session_secret(r: redis.Redis) -> str:
    """The signing secret shared by every web process: made once, kept in Redis (SET NX keeps the first)."""
    r.set(SECRET_KEY, secrets.token_urlsafe(48), nx=True)
    return r.get(SECRET_KEY)


@dataclass(frozen=True, slots=True)
class SecuritySettings:
    secret_key: str
    cookie_name: str = "shakyo_session"
    secure_cookie: bool = False  # True when served over HTTPS (behind a TLS proxy)
    same_site: Literal["lax", "strict"] = "lax"
    idle_timeout_seconds: int = 30 * 60
    absolute_timeout_seconds: int = 12 * 60 * 60  # one working day, even when active all along
    max_failures_per_user: int = 5
    # One office shares one public address, so several people mistyping must not lock everyone out.
    max_failures_per_ip: int = 20
    failure_window_seconds: int = 15 * 60
    lock_seconds: int = 15 * 60

    def __post_init__(self) -> None:
        if len(self.secret_key) < 32:
            raise ValueError("session secret must be at least 32 characters")


@dataclass(frozen=True, slots=True)
class Session:
    session_id: str
    username: str
    csrf_token: str
    created_at: datetime
    last_seen: datetime
    ip: str = ""


@dataclass(frozen=True, slots=True)
class CurrentUser:
    account: Account
    session: Session

    @property
    def username(self) -> str:
        return self.account.username

    @property
    def role(self) -> Role:
        return self.account.role

    @property
    def csrf_token(self) -> str:
        return self.session.csrf_token


class SessionStore:
    """Server-side session records in Redis; Redis expiry is a backstop, `now` decides."""

    def __init__(self, r: redis.Redis, settings: SecuritySettings) -> None:
        self._r = r
        self._s = settings

    def create(self, username: str, *, ip: str = "", now: datetime | None = None) -> Session:
        when = now_jst(now)
        sid = secrets.token_urlsafe(32)
        session = Session(
            session_id=sid,
            username=username,
            csrf_token=secrets.token_urlsafe(32),
            created_at=when,
            last_seen=when,
            ip=ip,
        )
        pipe = self._r.pipeline(transaction=True)
        pipe.hset(
            session_key(sid),
            mapping={
                "username": username,
                "csrf": session.csrf_token,
                "created_at": repr(when.timestamp()),
                "last_seen": repr(when.timestamp()),
                "ip": ip,
            },
        )
        pipe.expire(session_key(sid), self._s.idle_timeout_seconds)
        pipe.sadd(user_sessions_key(username), sid)
        pipe.expire(user_sessions_key(username), self._s.absolute_timeout_seconds)
        pipe.execute()
        return session

    def get(self, session_id: str, *, now: datetime | None = None, touch: bool = True) -> Session | None:
        """The live session, its idle clock restarted when `touch`; None when unknown, idle too long or too old."""
        data = self._r.hgetall(session_key(session_id))
        if not data:
            return None
        when = now_jst(now)
        created, last_seen = float(data["created_at"]), float(data["last_seen"])
        t = when.timestamp()
        if t - last_seen >= self._s.idle_timeout_seconds or t - created >= self._s.absolute_timeout_seconds:
            self.destroy(session_id)
            return None
        if touch:
            pipe = self._r.pipeline(transaction=False)
            pipe.hset(session_key(session_id), "last_seen", repr(max(t, last_seen)))
            pipe.expire(session_key(session_id), self._s.idle_timeout_seconds)
            pipe.execute()
            last_seen = max(t, last_seen)
        return Session(
            session_id=session_id,
            username=data["username"],
            csrf_token=data["csrf"],
            created_at=datetime.fromtimestamp(created, JST),
            last_seen=datetime.fromtimestamp(last_seen, JST),
            ip=data.get("ip", ""),
        )

    def destroy(self, session_id: str) -> None:
        username = self._r.hget(session_key(session_id), "username")
        pipe = self._r.pipeline(transaction=True)
        pipe.delete(session_key(session_id))
        if username:
            pipe.srem(user_sessions_key(username), session_id)
        pipe.execute()

    def destroy_all_for(self, username: str) -> int:
        """End every session of a user (password changed, account disabled); returns how many."""
        sids = self._r.smembers(user_sessions_key(username))
        pipe = self._r.pipeline(transaction=True)
        for sid in sids:
            pipe.delete(session_key(sid))
        pipe.delete(user_sessions_key(username))
        results = pipe.execute()
        return sum(results[: len(sids)])


@dataclass(frozen=True, slots=True)
class ThrottleStatus:
    locked: bool
    retry_after_seconds: int = 0
    message_ja: str = ""


class LoginThrottle:
    """Failures per user name and per client address, in sorted sets of failure times.

    Reaching the limit within the window sets a lock that lasts `lock_seconds`; while locked, logins for that
    name (or from that address) are refused without checking the password.
    """

    def __init__(self, r: redis.Redis, settings: SecuritySettings) -> None:
        self._r = r
        self._s = settings

    def _keys(self, username: str, ip: str) -> list[tuple[str, int, str]]:
        keys = [(f"user:{normalise_username(username)}", self._s.max_failures_per_user, "user")]
        if ip:
            keys.append((f"ip:{ip}", self._s.max_failures_per_ip, "ip"))
        return keys

    def check(self, username: str, ip: str, *, now: datetime | None = None) -> ThrottleStatus:
        t = now_jst(now).timestamp()
        for subject, _limit, kind in self._keys(username, ip):
            until = self._r.get(f"{{shakyo}}:login_lock:{subject}")
            if until is not None and float(until) > t:
                wait = math.ceil(float(until) - t)
                return ThrottleStatus(True, wait, _locked_message(kind, wait))
        return ThrottleStatus(False)

    def record_failure(self, username: str, ip: str, *, now: datetime | None = None) -> ThrottleStatus:
        t = now_jst(now).timestamp()
        window, lock = self._s.failure_window_seconds, self._s.lock_seconds
        for subject, limit, kind in self._keys(username, ip):
            key = f"{{shakyo}}:login_fail:{subject}"
            pipe = self._r.pipeline(transaction=True)
            pipe.zadd(key, {secrets.token_hex(8): t})
            pipe.zremrangebyscore(key, "-inf", t - window)
            pipe.zcard(key)
            pipe.expire(key, window)
            count = pipe.execute()[2]
            if count >= limit:
                pipe = self._r.pipeline(transaction=True)
                pipe.set(f"{{shakyo}}:login_lock:{subject}", repr(t + lock), ex=lock)
                pipe.delete(key)
                pipe.execute()
                # The name is something a person typed; the address is what a lock is about.
                log.warning("login locked for %s after %d failures", kind, count)
        return self.check(username, ip, now=now)

    def record_success(self, username: str) -> None:
        """A right password clears the name's failures; the address keeps its count (one success proves little)."""
        self._r.delete(f"{{shakyo}}:login_fail:user:{normalise_username(username)}")

    def locked_until(self, username: str, *, now: datetime | None = None) -> datetime | None:
        """When the name's login lock ends, or None when it is not locked (the accounts page shows it)."""
        until = self._r.get(f"{{shakyo}}:login_lock:user:{normalise_username(username)}")
        if until is None or float(until) <= now_jst(now).timestamp():
            return None
        return datetime.fromtimestamp(float(until), JST)

    def unlock(self, username: str) -> None:
        """For an administrator helping a locked-out colleague."""
        subject = f"user:{normalise_username(username)}"
        self._r.delete(f"{{shakyo}}:login_lock:{subject}", f"{{shakyo}}:login_fail:{subject}")


def _locked_message(kind: str, wait_seconds: int) -> str:
    minutes = max(1, math.ceil(wait_seconds / 60))
    who = "このユーザー名" if kind == "user" else "この端末（接続元）"
    return f"ログインの失敗が続いたため、{who}では約{minutes}分間ログインできません。時間をおいてからお試しください。"


@dataclass(frozen=True, slots=True)
class LoginOutcome:
    ok: bool
    message_ja: str = ""
    account: Account | None = None
    session: Session | None = None
    password_change_reason: str = ""  # non-empty: send the user to the password page first


LOGIN_FAILED_JA = "ユーザー名またはパスワードが違います。"


class WebSecurity:
    """Everything a route needs: login/logout, the session cookie, the current user, CSRF checks."""

    def __init__(self, r: redis.Redis, accounts: AccountStore, settings: SecuritySettings) -> None:
        self.settings = settings
        self.accounts = accounts
        self.sessions = SessionStore(r, settings)
        self.throttle = LoginThrottle(r, settings)
        self._serializer = URLSafeTimedSerializer(settings.secret_key, salt="shakyo-session")

    # -- login / logout -------------------------------------------------------------------------------

    def login(
        self, username: str, password: str, *, ip: str = "", now: datetime | None = None
    ) -> LoginOutcome:
        """Check throttling, then the password; on success a new session (never one the client brought)."""
        status = self.throttle.check(username, ip, now=now)
        if status.locked:
            return LoginOutcome(False, status.message_ja)
        account = self.accounts.authenticate(username, password, now=now)
        if account is None:
            status = self.throttle.record_failure(username, ip, now=now)
            return LoginOutcome(False, status.message_ja if status.locked else LOGIN_FAILED_JA)
        self.throttle.record_success(account.username)
        session = self.sessions.create(account.username, ip=ip, now=now)
        log.info("login: %s", account.username)
        return LoginOutcome(
            True,
            account=account,
            session=session,
            password_change_reason=account.password_change_reason(now_jst(now), self.accounts.policy),
        )

    def login_request(
        self,
        request: Request,
        response: Response,
        username: str,
        password: str,
        *,
        now: datetime | None = None,
    ) -> LoginOutcome:
        """`login` for a request: ends any session the browser had and sets the new cookie on `response`."""
        old = self.session_id(request)
        if old:
            self.sessions.destroy(old)
        outcome = self.login(username, password, ip=client_ip(request), now=now)
        if outcome.session is not None:
            self.set_cookie(response, outcome.session)
        return outcome

    def logout(self, request: Request, response: Response) -> None:
        sid = self.session_id(request)
        if sid:
            self.sessions.destroy(sid)
        self.clear_cookie(response)

    def change_password(
        self,
        request: Request,
        response: Response,
        user: CurrentUser,
        current_password: str,
        new_password: str,
        *,
        now: datetime | None = None,
    ) -> Account:
        """Change the user's own password, end all their sessions and start a fresh one for this browser.

        Raises AccountError / PasswordPolicyError (message_ja) when refused.
        """
        account = self.accounts.change_own_password(user.username, current_password, new_password, now=now)
        self.sessions.destroy_all_for(account.username)
        self.set_cookie(response, self.sessions.create(account.username, ip=client_ip(request), now=now))
        return account

    # -- cookie ---------------------------------------------------------------------------------------

    def set_cookie(self, response: Response, session: Session) -> None:
        response.set_cookie(
            self.settings.cookie_name,
            self._serializer.dumps(session.session_id),
            max_age=None,  # a browser-session cookie: closing the browser logs out too
            path="/",
            httponly=True,
            secure=self.settings.secure_cookie,
            samesite=self.settings.same_site,
        )

    def clear_cookie(self, response: Response) -> None:
        response.delete_cookie(
            self.settings.cookie_name,
            path="/",
            httponly=True,
            secure=self.settings.secure_cookie,
            samesite=self.settings.same_site,
        )

    def session_id(self, request: Request) -> str | None:
        raw = request.cookies.get(self.settings.cookie_name)
        if not raw:
            return None
        try:
            sid = self._serializer.loads(raw, max_age=self.settings.absolute_timeout_seconds)
        except BadSignature:
            return None
        return sid if isinstance(sid, str) else None

    # -- current user ---------------------------------------------------------------------------------

    def current_user(self, request: Request, *, now: datetime | None = None) -> CurrentUser | None:
        """The logged-in, enabled user of this request, or None. Cached on request.state for the request."""
        cached = getattr(request.state, "shakyo_user", None)
        if cached is not None:
            return cached
        sid = self.session_id(request)
        session = self.sessions.get(sid, now=now) if sid else None
        if session is None:
            return None
        account = self.accounts.get(session.username)
        # Checked on every request so disabling an account or changing its password takes effect at once.
        if account is None or account.disabled or session.created_at < account.password_changed_at:
            self.sessions.destroy(session.session_id)
            return None
        user = CurrentUser(account=account, session=session)
        request.state.shakyo_user = user
        return user

    def require_login(self, request: Request) -> CurrentUser:
        """Dependency: the current user, else a redirect to the login page (allows a pending password change)."""
        user = self.current_user(request)
        if user is None:
            raise _redirect(f"{LOGIN_PATH}?next={quote(_request_path(request), safe='/')}")
        return user

    def require_user(self, request: Request) -> CurrentUser:
        """Dependency for every ordinary page: logged in, and no password change pending."""
        user = self.require_login(request)
        if user.account.password_change_reason(now_jst(), self.accounts.policy):
            raise _redirect(PASSWORD_PATH)
        return user

    def require_role(self, role: Role) -> Callable[[Request], CurrentUser]:
        """Dependency factory: `Depends(security.require_role(Role.CHIEF))`; 403 in Japanese when too low."""

        def dependency(request: Request) -> CurrentUser:
            user = self.require_user(request)
            if not user.role.at_least(role):
                raise HTTPException(status_code=403, detail=f"この操作には{role.ja}以上の権限が必要です。")
            return user

        return dependency

    # -- CSRF -----------------------------------------------------------------------------------------

    @staticmethod
    def csrf_matches(session: Session, submitted: str | None) -> bool:
        return bool(submitted) and hmac.compare_digest(session.csrf_token.encode(), str(submitted).encode())

    async def require_csrf(self, request: Request) -> None:
        """Dependency for state-changing requests: the session's token from the form field or the header."""
        user = self.current_user(request)
        submitted = request.headers.get(CSRF_HEADER)
        if submitted is None and request.headers.get("content-type", "").startswith(
            ("application/x-www-form-urlencoded", "multipart/form-data")
        ):
            # Starlette caches the parsed form, so the route can still read it.
            submitted = (await request.form()).get(CSRF_FIELD)
        if user is None or not self.csrf_matches(
            user.session, submitted if isinstance(submitted, str) else None
        ):
            raise HTTPException(
                status_code=403,
                detail="画面の有効期限が切れたか、不正な送信です。ページを開き直してから、もう一度操作してください。",
            )


def client_ip(request: Request) -> str:
    """The peer address. X-Forwarded-For is not trusted here: uvicorn's --proxy-headers rewrites the peer."""
    return request.client.host if request.client else ""


def safe_next(path: str | None, default: str = "/") -> str:
    """A same-site path to return to after login; anything else (other hosts, schemes) becomes `default`."""
    if not path or not path.startswith("/") or path.startswith("//") or "\\" in path:
        return default
    return path


def _request_path(request: Request) -> str:
    q = request.url.query
    return request.url.path + (f"?{q}" if q else "")


def _redirect(location: str) -> HTTPException:
    # FastAPI's default handler turns this into a 303 with the Location header; browsers follow it.
    return HTTPException(status_code=303, detail="ログインしてください。", headers={"Location": location})
