"""A fake Graph API for comment moderation, served over real HTTP on 127.0.0.1.

It answers like Meta's Graph API for the two calls the service makes:

- `DELETE /{version}/{comment-id}` → `{"success": true}`, or error 100/33 once the comment is gone;
- `POST /{version}/{comment-id}` with `is_hidden=true|false` (Facebook comments) or `hide=true|false`
  (Instagram comments) → `{"success": true}`.

For `shakyo-mod meta connect` it also answers the setup reads and writes (`add_token`, `add_page`,
`subscribe_app` set the scene): `GET /debug_token` (with the app token `{app_id}|{app_secret}`), `GET /me`,
`/me/accounts` and `/me/permissions`, `GET|POST /{page-id}/subscribed_apps`, `GET /{page-id}?fields=
instagram_business_account`, `GET /{app-id}/subscriptions`, and `GET|POST /{ig-user-id}/subscribed_apps` for
Instagram Login tokens (which carry no appsecret_proof). A token past its expiry is refused with 190/463.

Parameters are read from the query string and the form body, as Graph does. Each call must carry a
known `access_token` and the matching `appsecret_proof` (as when the app requires it); errors use Graph's JSON shape
`{"error": {"message", "type", "code", "error_subcode", "fbtrace_id"}}`. Every call is recorded.
Replies can be scripted per comment id (consumed in order): 5xx, throttling, "does not exist",
expired token, permission errors, and delays.

Blocking from a Page: `POST /{page-id}/blocked` with `uid` (comma-separated) → `{uid: true}` and `GET` lists them
(`blocked`).

Replies as the Page/account: `POST /{comment-id}/comments` (Facebook) and `POST /{ig-comment-id}/replies`
(Instagram) with `message` → `{"id": …}`, written as the comment's account (`add_comment(account_id=…)`);
`GET` on the same edges reads them back (`data` of `id`, `message`/`text`, `from`, `created_time`/`timestamp`).
A script may name the method (`script(path, …, method="POST")`) so a read-back does not take a reply meant
for the post, and `Reply.applied(…)` carries the call out before answering with an error, as Meta may do.

    with FakeGraph(app_secret="s", tokens={"tok"}) as graph:
        graph.add_comment("111_222", platform="facebook")
        graph.script("111_222", Reply.server_error(), Reply.rate_limited(4))
        client = GraphClient(graph.base_url, "s", backoff=0.001)
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import threading
import time
from collections import defaultdict, deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal
from urllib.parse import parse_qs, urlsplit

FakePlatform = Literal["facebook", "instagram"]
_trace_ids = itertools.count(1)


def _error(
    status: int,
    code: int,
    message: str,
    *,
    subcode: int | None = None,
    kind: str = "OAuthException",
    transient: bool = False,
) -> tuple[int, dict[str, Any]]:
    error: dict[str, Any] = {"message": message, "type": kind, "code": code}
    if subcode is not None:
        error["error_subcode"] = subcode
    if transient:
        error["is_transient"] = True
    error["fbtrace_id"] = f"FakeTrace{next(_trace_ids):06d}"
    return status, {"error": error}


@dataclass(frozen=True, slots=True)
class Reply:
    """One scripted answer. `status`/`body` None means "answer normally" (after `delay`)."""

    status: int | None = None
    body: dict[str, Any] | None = None
    delay: float = 0.0
    headers: tuple[tuple[str, str], ...] = ()
    drop: bool = False  # close the connection without answering (nothing is applied)
    apply: bool = False  # carry the call out first, then drop, stall or answer as scripted (never twice)

    @classmethod
    def server_error(cls, status: int = 500) -> Reply:
        status, body = _error(status, 2, "Temporary failure in the fake, try again", transient=True)
        return cls(status, body)

    @classmethod
    def rate_limited(cls, code: int = 4, *, status: int = 400, retry_after: float | None = None) -> Reply:
        messages = {
            4: "(#4) Too many calls from this app",
            17: "(#17) Too many calls for this user",
            32: "(#32) Too many calls for this Page",
            613: "(#613) Rate limit exceeded for this method",
            80001: "(#80001) Too many calls for this Page (business use case)",
            80002: "(#80002) Too many calls for this Instagram account (business use case)",
        }
        status, body = _error(status, code, messages.get(code, f"(#{code}) Throttled"), transient=True)
        headers = (("Retry-After", str(retry_after)),) if retry_after is not None else ()
        return cls(status, body, headers=headers)

    @classmethod
    def does_not_exist(cls) -> Reply:
        return cls(*_not_found())

    @classmethod
    def token_expired(cls, subcode: int = 463) -> Reply:
        messages = {
            463: "Access token check failed: the token has expired",
            460: "Access token check failed: invalidated by a password change",
        }
        return cls(*_error(400, 190, messages.get(subcode, "Access token check failed"), subcode=subcode))

    @classmethod
    def permission_denied(cls, code: int = 200) -> Reply:
        return cls(*_error(403, code, f"(#{code}) Permissions error", kind="OAuthException"))

    @classmethod
    def error(cls, status: int, code: int, message: str, *, subcode: int | None = None) -> Reply:
        return cls(*_error(status, code, message, subcode=subcode))

    @classmethod
    def dropped(cls) -> Reply:
        """Close the connection without a status line: the client sees the connection reset."""
        return cls(drop=True)

    @classmethod
    def applied(cls, reply: Reply) -> Reply:
        """Carry the call out at once, then behave as `reply`: a 5xx, a dropped connection or a stall once the
        write has happened (token checks are skipped: a script stands in for Meta's answer)."""
        return cls(reply.status, reply.body, reply.delay, reply.headers, reply.drop, apply=True)

    @classmethod
    def delayed(cls, seconds: float) -> Reply:
        """Sleep, then answer normally (to make a client time out)."""
        return cls(delay=seconds)


def _not_found() -> tuple[int, dict[str, Any]]:
    return _error(
        400,
        100,
        "Object not found: it does not exist or cannot be loaded",
        subcode=33,
        kind="GraphMethodException",
    )


@dataclass(frozen=True, slots=True)
class Call:
    """One request as the fake saw it."""

    method: str
    version: str
    comment_id: str
    query: dict[str, str]  # parameters in the URL
    form: dict[str, str]  # parameters in the body
    status: int  # what the fake answered
    at: float = field(default_factory=time.time)

    @property
    def params(self) -> dict[str, str]:
        return {**self.query, **self.form}


@dataclass(slots=True)
class FakeToken:
    """What the fake knows of a token: its kind, owner, permissions and expiry (epoch seconds, 0: never)."""

    kind: Literal["PAGE", "USER", "INSTAGRAM"] = "PAGE"
    owner_id: str = ""
    owner_name: str = ""
    scopes: tuple[str, ...] = ()
    expires_at: int = 0
    data_access_expires_at: int = 0
    app_id: str = ""  # "" means the fake's own app
    pages: tuple[str, ...] = ()  # a USER token: the Pages this person manages

    def lapsed(self) -> bool:
        now = time.time()
        return any(0 < t <= now for t in (self.expires_at, self.data_access_expires_at))


@dataclass(slots=True)
class FakePage:
    name: str
    instagram_account_id: str = ""
    subscribed: dict[str, list[str]] = field(default_factory=dict)  # app id -> fields


@dataclass(slots=True)
class _Comment:
    platform: FakePlatform
    hidden: bool = False
    deleted: bool = False
    account_id: str = ""  # the Page / Instagram account the comment is on; replies are written as it
    replies: list[dict[str, Any]] = field(default_factory=list)
    # For the reconciliation reads: the post/media it is on, its text, author and time, its parent comment.
    post_id: str = ""
    text: str = ""
    author: tuple[str, str] = ("", "")  # (id, name or username)
    created: float = 0.0
    parent_id: str = ""


@dataclass(slots=True)
class _Post:
    platform: FakePlatform
    account_id: str
    created: float


class FakeGraph:
    def __init__(
        self,
        *,
        app_secret: str = "fake-app-secret",
        tokens: Iterable[str] = ("fake-page-token",),
        version: str = "v26.0",
        app_id: str = "1234567890",
    ) -> None:
        self.app_secret = app_secret
        self.tokens = set(tokens)
        self.version = version
        self.app_id = app_id
        self.token_info: dict[str, FakeToken] = {}
        self.pages: dict[str, FakePage] = {}
        self.app_subscriptions: dict[str, list[str]] = {}  # webhook object -> fields (app level)
        self.ig_subscriptions: dict[str, list[str]] = {}  # Instagram Login: account id -> fields
        self._lock = threading.Lock()
        self._calls: list[Call] = []
        self._scripts: dict[str, deque[Reply]] = defaultdict(deque)
        self._comments: dict[str, _Comment] = {}
        self._posts: dict[str, _Post] = {}
        self.blocked: dict[str, set[str]] = {}  # page id -> ids blocked through /{page-id}/blocked
        self.page_size = 25  # items per page of a listing (posts, media, comments)
        self.usage_headers: tuple[tuple[str, str], ...] = ()  # sent with every listing answer
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self) -> str:
        """Start serving on a free loopback port; returns the base URL (with the version)."""
        if self._server is not None:
            return self.base_url
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_DELETE(self) -> None:
                fake._handle(self)

            def do_GET(self) -> None:
                fake._handle(self)

            def do_POST(self) -> None:
                fake._handle(self)

            def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
                return

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        self._server = server
        # A short poll keeps stop() quick; the default half second adds up over a test run.
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.02}, name="fake-graph", daemon=True
        )
        self._thread.start()
        return self.base_url

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> FakeGraph:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("FakeGraph is not started")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/{self.version}"

    # -- state and scripting ---------------------------------------------------------------------

    def add_comment(
        self,
        comment_id: str,
        *,
        platform: FakePlatform = "facebook",
        account_id: str = "",
        post_id: str = "",
        text: str = "",
        author: tuple[str, str] = ("", ""),
        created: float | None = None,
        parent_id: str = "",
        hidden: bool = False,
    ) -> None:
        with self._lock:
            self._comments[comment_id] = _Comment(
                platform=platform,
                account_id=account_id,
                hidden=hidden,
                post_id=post_id,
                text=text,
                author=author,
                created=time.time() if created is None else created,
                parent_id=parent_id,
            )

    def add_post(
        self,
        post_id: str,
        *,
        platform: FakePlatform = "facebook",
        account_id: str,
        created: float | None = None,
    ) -> None:
        """A Page post or Instagram media, listed by `GET /{page-id}/posts` / `GET /{ig-user-id}/media`."""
        with self._lock:
            self._posts[post_id] = _Post(platform, account_id, time.time() if created is None else created)

    def replies(self, comment_id: str) -> list[dict[str, Any]]:
        """The replies written on a comment, oldest first, as a read-back returns them."""
        with self._lock:
            return [dict(reply) for reply in self._comments[comment_id].replies]

    def add_token(self, token: str, info: FakeToken) -> None:
        with self._lock:
            self.tokens.add(token)
            self.token_info[token] = info

    def add_page(self, page_id: str, name: str, *, instagram_account_id: str = "") -> FakePage:
        with self._lock:
            page = self.pages[page_id] = FakePage(name, instagram_account_id)
            return page

    def subscribe_app(self, webhook_object: str, *fields: str) -> None:
        """What the App Dashboard's Webhooks page would have subscribed (app level)."""
        with self._lock:
            self.app_subscriptions[webhook_object] = list(fields)

    @property
    def app_token(self) -> str:
        return f"{self.app_id}|{self.app_secret}"

    def script(self, comment_id: str, *replies: Reply, method: str | None = None) -> None:
        """Queue replies for the next calls on `comment_id` (with `method`: only calls of that method);
        afterwards the fake answers normally."""
        with self._lock:
            self._scripts[f"{method} {comment_id}" if method else comment_id].extend(replies)

    def is_hidden(self, comment_id: str) -> bool:
        with self._lock:
            return self._comments[comment_id].hidden

    def is_deleted(self, comment_id: str) -> bool:
        with self._lock:
            return self._comments[comment_id].deleted

    @property
    def calls(self) -> list[Call]:
        with self._lock:
            return list(self._calls)

    def calls_for(self, comment_id: str) -> list[Call]:
        return [call for call in self.calls if call.comment_id == comment_id]

    # -- request handling ------------------------------------------------------------------------

    def _handle(self, request: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(request.path)
        query = _flat(parse_qs(parts.query, keep_blank_values=True))
        length = int(request.headers.get("Content-Length") or 0)
        raw = request.rfile.read(length) if length else b""
        form = _flat(parse_qs(raw.decode("utf-8", "replace"), keep_blank_values=True))
        segments = [s for s in parts.path.split("/") if s]
        version = segments[0] if segments else ""
        comment_id = "/".join(segments[1:])
        with self._lock:
            queue = self._scripts.get(f"{request.command} {comment_id}") or self._scripts.get(comment_id)
            scripted = queue.popleft() if queue else None
        carried = None
        if scripted is not None and scripted.apply:
            params = {**query, **form}
            if comment_id.endswith(("/comments", "/replies")):
                carried = self._replies(request.command, comment_id, params)
            else:
                carried = self._default(request.command, comment_id, params)
        if scripted is not None and scripted.drop:
            with self._lock:
                self._calls.append(Call(request.command, version, comment_id, query, form, 0))
            request.close_connection = True
            return
        if scripted is not None and scripted.delay:
            time.sleep(scripted.delay)
        if scripted is not None and carried is not None:
            status, body = (scripted.status, scripted.body or {}) if scripted.status is not None else carried
            headers = scripted.headers
        else:
            status, body, headers = self._answer(
                request.command, version, comment_id, {**query, **form}, scripted
            )
        with self._lock:
            self._calls.append(Call(request.command, version, comment_id, query, form, status))
        payload = json.dumps(body).encode("utf-8")
        try:
            request.send_response(status)
            request.send_header("Content-Type", "application/json; charset=UTF-8")
            request.send_header("Content-Length", str(len(payload)))
            for name, value in headers:
                request.send_header(name, value)
            request.end_headers()
            request.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout test)
            return

    def _answer(
        self, method: str, version: str, comment_id: str, params: dict[str, str], scripted: Reply | None
    ) -> tuple[int, dict[str, Any], tuple[tuple[str, str], ...]]:
        reply_edge = comment_id.endswith(("/comments", "/replies"))
        block_edge = comment_id.endswith("/blocked") and comment_id.count("/") == 1
        setup = not (reply_edge or block_edge) and (method == "GET" or comment_id.endswith("/subscribed_apps"))
        if version != self.version or not comment_id or (
            "/" in comment_id and not (setup or reply_edge or block_edge)
        ):
            status, body = _error(400, 2500, "Path not known to the fake", kind="OAuthException")
            return status, body, ()
        token = params.get("access_token")
        if not token:
            return (*_error(400, 104, "access_token is missing"), ())
        if token not in self.tokens and not (setup and token == self.app_token):
            return (*_error(400, 190, "access_token is not valid"), ())
        info = self.token_info.get(token)
        if info is not None and info.lapsed():
            return (*_error(400, 190, "Error validating access token: Session has expired", subcode=463), ())
        proof = params.get("appsecret_proof")
        if info is not None and info.kind == "INSTAGRAM":  # Instagram Login: no Meta app secret proof
            proof = hmac.new(self.app_secret.encode(), token.encode(), hashlib.sha256).hexdigest()
        expected = hmac.new(self.app_secret.encode(), token.encode(), hashlib.sha256).hexdigest()
        if not proof:
            return (*_error(400, 100, "appsecret_proof is missing", kind="GraphMethodException"), ())
        if not hmac.compare_digest(proof.encode(), expected.encode()):
            return (
                *_error(400, 100, "appsecret_proof does not match the token", kind="GraphMethodException"),
                (),
            )
        if scripted is not None and scripted.status is not None:
            return scripted.status, scripted.body or {}, scripted.headers
        if block_edge:
            return (*self._block(method, comment_id.split("/")[0], params), ())
        if method == "GET":
            listed = self._listing(comment_id, params)
            if listed is not None:
                return (*listed, self.usage_headers)
        if setup:
            return (*self._setup(method, comment_id, token, params), ())
        if reply_edge:
            return (*self._replies(method, comment_id, params), ())
        return (*self._default(method, comment_id, params), ())

    def _listing(self, path: str, params: dict[str, str]) -> tuple[int, dict[str, Any]] | None:
        """The reconciliation reads, cursor-paged like Graph; None for any other path.

        `/{page-id}/posts` (since), `/{ig-user-id}/media` (newest first), `/{post-id}/comments` (Facebook:
        top-level only unless filter=stream, replies naming their `parent`), `/{ig-media-id}/comments` (top-level,
        replies nested under `replies`). Deleted comments are not listed.
        """
        node, _, edge = path.partition("/")
        with self._lock:
            if edge in ("posts", "media"):
                since = float(params.get("since") or 0)
                posts = [
                    (pid, p)
                    for pid, p in self._posts.items()
                    if p.account_id == node
                    and p.created >= since
                    and p.platform == ("facebook" if edge == "posts" else "instagram")
                ]
                posts.sort(key=lambda item: -item[1].created)
                nodes = [_post_node(pid, p) for pid, p in posts]
            elif edge == "comments" and node in self._posts:
                post = self._posts[node]
                live = [(cid, c) for cid, c in self._comments.items() if c.post_id == node and not c.deleted]
                live.sort(key=lambda item: item[1].created)
                if post.platform == "facebook":
                    stream = params.get("filter") == "stream"
                    nodes = [_fb_node(cid, c) for cid, c in live if stream or not c.parent_id]
                else:
                    nodes = [
                        {
                            **_ig_node(cid, c),
                            "replies": {"data": [_ig_node(rid, r) for rid, r in live if r.parent_id == cid]},
                        }
                        for cid, c in live
                        if not c.parent_id
                    ]
            else:
                return None
        start = int(params.get("after") or 0)
        page = nodes[start : start + self.page_size]
        body: dict[str, Any] = {"data": page}
        if start + self.page_size < len(nodes):
            after = str(start + self.page_size)
            body["paging"] = {
                "cursors": {"before": str(start), "after": after},
                "next": f"{self.base_url}/{path}?after={after}",
            }
        return 200, body

    def _replies(self, method: str, path: str, params: dict[str, str]) -> tuple[int, dict[str, Any]]:
        """Post a reply as the comment's account, or read the replies back (oldest first: `order` is ignored)."""
        node, _, edge = path.partition("/")
        with self._lock:
            comment = self._comments.get(node)
            if comment is None or comment.deleted:
                return _not_found()
            if edge != ("comments" if comment.platform == "facebook" else "replies"):
                return _error(
                    400, 100, f"(#100) Unknown edge {edge} for this comment", kind="GraphMethodException"
                )
            text_field, time_field = (
                ("message", "created_time") if comment.platform == "facebook" else ("text", "timestamp")
            )
            if method == "GET":
                return 200, {"data": [dict(reply) for reply in comment.replies]}
            message = params.get("message", "")
            if not message:
                return _error(400, 100, "(#100) The parameter message is required", kind="OAuthException")
            reply_id = (
                f"{node}_{len(comment.replies) + 1}"
                if comment.platform == "facebook"
                else (f"{node}{len(comment.replies) + 1:03d}")
            )
            comment.replies.append(
                {
                    "id": reply_id,
                    text_field: message,
                    "from": {"id": comment.account_id},
                    time_field: time.strftime("%Y-%m-%dT%H:%M:%S+0000", time.gmtime()),
                }
            )
            return 200, {"id": reply_id}

    def _setup(
        self, method: str, path: str, token: str, params: dict[str, str]
    ) -> tuple[int, dict[str, Any]]:
        """The reads and writes of `meta connect` / `meta status`."""
        with self._lock:
            if path == "debug_token":
                if token != self.app_token:
                    return _error(400, 190, "(#190) debug_token needs the app access token")
                return 200, {"data": self._debug(params.get("input_token", ""))}
            if path == f"{self.app_id}/subscriptions":
                if token != self.app_token:
                    return _error(400, 190, "(#190) app subscriptions need the app access token")
                data = [
                    {
                        "object": obj,
                        "callback_url": "https://example.org/webhooks/meta",
                        "active": True,
                        "fields": [{"name": f, "version": self.version} for f in fields],
                    }
                    for obj, fields in self.app_subscriptions.items()
                ]
                return 200, {"data": data}
            info = self.token_info.get(token)
            if info is None:
                return _error(400, 190, "The fake knows nothing of this token")
            if path == "me":
                if info.kind == "INSTAGRAM":
                    return 200, {"user_id": info.owner_id, "username": info.owner_name, "id": "ig-scoped"}
                return 200, {"id": info.owner_id, "name": info.owner_name}
            if path in ("me/accounts", "me/permissions"):
                if info.kind != "USER":
                    edge = path.split("/")[1]
                    return _error(
                        400, 100, f"(#100) Tried accessing nonexisting field ({edge}) on node type (Page)"
                    )
                if path == "me/permissions":
                    return 200, {"data": [{"permission": p, "status": "granted"} for p in info.scopes]}
                pages = [{"id": p, "name": self.pages[p].name} for p in info.pages if p in self.pages]
                return 200, {"data": pages}
            node, _, edge = path.partition("/")
            if info.kind == "INSTAGRAM":
                if edge != "subscribed_apps" or node != info.owner_id:
                    return _error(400, 100, "(#100) Unsupported request for this Instagram token")
                if method == "POST":
                    self.ig_subscriptions[node] = params.get("subscribed_fields", "").split(",")
                    return 200, {"success": True}
                fields = self.ig_subscriptions.get(node)
                return 200, {"data": [{"subscribed_fields": fields}] if fields else []}
            page = self.pages.get(node)
            if page is None:
                return _not_found()
            if info.kind != "PAGE" or info.owner_id != node:
                return _error(400, 190, "(#190) This method must be called with a Page Access Token")
            if not edge:
                body: dict[str, Any] = {"id": node}
                if page.instagram_account_id:
                    body["instagram_business_account"] = {"id": page.instagram_account_id}
                return 200, body
            if "pages_manage_metadata" not in info.scopes:
                return _error(403, 200, "(#200) Requires pages_manage_metadata permission")
            if method == "POST":
                fields = [f for f in params.get("subscribed_fields", "").split(",") if f]
                if not fields:
                    return _error(400, 100, "(#100) The parameter subscribed_fields is required")
                page.subscribed[info.app_id or self.app_id] = fields
                return 200, {"success": True}
            data = [
                {"id": app, "name": "Fake App", "subscribed_fields": fields}
                for app, fields in page.subscribed.items()
            ]
            return 200, {"data": data}

    def _debug(self, input_token: str) -> dict[str, Any]:
        info = self.token_info.get(input_token)
        if info is None:
            return {
                "is_valid": False,
                "scopes": [],
                "error": {"code": 190, "message": "Invalid OAuth access token."},
            }
        data: dict[str, Any] = {
            "app_id": info.app_id or self.app_id,
            "type": info.kind,
            "application": "Fake App",
            "expires_at": info.expires_at,
            "data_access_expires_at": info.data_access_expires_at,
            "is_valid": not info.lapsed(),
            "scopes": list(info.scopes),
            "user_id": info.owner_id,
        }
        if info.kind == "PAGE":
            data["profile_id"] = info.owner_id
        if info.lapsed():
            data["error"] = {"code": 190, "subcode": 463, "message": "Session has expired"}
        return data

    def _block(self, method: str, page_id: str, params: dict[str, str]) -> tuple[int, dict[str, Any]]:
        """`GET|POST /{page-id}/blocked`: the people blocked from a Page; POST blocks each id in `uid`."""
        with self._lock:
            blocked = self.blocked.setdefault(page_id, set())
            if method == "GET":
                return 200, {"data": [{"id": uid} for uid in sorted(blocked)]}
            ids = [uid for uid in params.get("uid", "").split(",") if uid]
            if method != "POST" or not ids:
                return _error(400, 100, "(#100) The parameter uid is required", kind="OAuthException")
            blocked.update(ids)
            return 200, {uid: True for uid in ids}

    def _default(self, method: str, comment_id: str, params: dict[str, str]) -> tuple[int, dict[str, Any]]:
        with self._lock:
            comment = self._comments.get(comment_id)
            if comment is None or comment.deleted:
                return _not_found()
            if method == "DELETE":
                comment.deleted = True
                return 200, {"success": True}
            flag = "is_hidden" if comment.platform == "facebook" else "hide"
            value = params.get(flag)
            if value not in ("true", "false"):
                return _error(400, 100, f"(#100) Param {flag} must be a boolean", kind="OAuthException")
            comment.hidden = value == "true"
            return 200, {"success": True}


def _graph_time(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S+0000", time.gmtime(epoch))


def _post_node(post_id: str, post: _Post) -> dict[str, Any]:
    if post.platform == "facebook":
        link = f"https://www.facebook.com/{post_id}"
        return {"id": post_id, "created_time": _graph_time(post.created), "permalink_url": link}
    link = f"https://www.instagram.com/p/{post_id}/"
    return {
        "id": post_id,
        "timestamp": _graph_time(post.created),
        "permalink": link,
        "media_product_type": "FEED",
    }


def _fb_node(comment_id: str, c: _Comment) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": comment_id,
        "message": c.text,
        "created_time": _graph_time(c.created),
        "is_hidden": c.hidden,
    }
    if c.author[0]:
        out["from"] = {"id": c.author[0], "name": c.author[1]}
    if c.parent_id:
        out["parent"] = {"id": c.parent_id}
    return out


def _ig_node(comment_id: str, c: _Comment) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": comment_id,
        "text": c.text,
        "username": c.author[1],
        "timestamp": _graph_time(c.created),
        "hidden": c.hidden,
    }
    if c.author[0]:
        out["from"] = {"id": c.author[0], "username": c.author[1]}
    if c.parent_id:
        out["parent_id"] = c.parent_id
    return out


def _flat(parsed: dict[str, list[str]]) -> dict[str, str]:
    return {key: values[-1] for key, values in parsed.items()}
