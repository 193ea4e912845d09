"""A fake Graph API for comment moderation, served over real HTTP on 127.0.0.1.

It answers like Meta's Graph API for the two calls the service makes:

- `DELETE /{version}/{comment-id}` → `{"success": true}`, or error 100/33 once the comment is gone;
- `POST /{version}/{comment-id}` with `is_hidden=true|false` (Facebook comments) or `hide=true|false`
  (Instagram comments) → `{"success": true}`.

Parameters are read from the query string and the form body, as Graph does. Each call must carry a
known `access_token` and the matching `appsecret_proof` (as when the app requires it); errors use Graph's JSON shape
`{"error": {"message", "type", "code", "error_subcode", "fbtrace_id"}}`. Every call is recorded.
Replies can be scripted per comment id (consumed in order): 5xx, throttling, "does not exist",
expired token, permission errors, and delays.

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
class _Comment:
    platform: FakePlatform
    hidden: bool = False
    deleted: bool = False


class FakeGraph:
    def __init__(
        self,
        *,
        app_secret: str = "fake-app-secret",
        tokens: Iterable[str] = ("fake-page-token",),
        version: str = "v26.0",
    ) -> None:
        self.app_secret = app_secret
        self.tokens = set(tokens)
        self.version = version
        self._lock = threading.Lock()
        self._calls: list[Call] = []
        self._scripts: dict[str, deque[Reply]] = defaultdict(deque)
        self._comments: dict[str, _Comment] = {}
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

    def add_comment(self, comment_id: str, *, platform: FakePlatform = "facebook") -> None:
        with self._lock:
            self._comments[comment_id] = _Comment(platform=platform)

    def script(self, comment_id: str, *replies: Reply) -> None:
        """Queue replies for the next calls on `comment_id`; afterwards the fake answers normally."""
        with self._lock:
            self._scripts[comment_id].extend(replies)

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
            queue = self._scripts.get(comment_id)
            scripted = queue.popleft() if queue else None
        if scripted is not None and scripted.delay:
            time.sleep(scripted.delay)
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
        if version != self.version or not comment_id or "/" in comment_id:
            status, body = _error(400, 2500, "Path not known to the fake", kind="OAuthException")
            return status, body, ()
        token = params.get("access_token")
        if not token:
            return (*_error(400, 104, "access_token is missing"), ())
        if token not in self.tokens:
            return (*_error(400, 190, "access_token is not valid"), ())
        proof = params.get("appsecret_proof")
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
        return (*self._default(method, comment_id, params), ())

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


def _flat(parsed: dict[str, list[str]]) -> dict[str, str]:
    return {key: values[-1] for key, values in parsed.items()}
