"""Graph API client for the two moderation actions: delete and hide (or unhide) a comment.

Facebook: `DELETE /{comment-id}`, `POST /{comment-id}` with `is_hidden`.
Instagram: `DELETE /{ig-comment-id}`, `POST /{ig-comment-id}` with `hide`.
`base_url` includes the API version, e.g. `https://graph.facebook.com/v26.0`.

Every call carries `appsecret_proof`. The token and the proof travel in the form-encoded body,
never in the URL, so no URL that reaches a log (ours, requests' or urllib3's) holds them.

Retries: one loop with one budget (`max_retries`) for connection errors, timeouts, HTTP 5xx/429,
and Graph errors that Meta documents as temporary (throttling codes 4, 17, 32, 613, the
Business Use Case codes 80001 Pages / 80002 Instagram, codes 1 and 2, or `is_transient`).
urllib3's `Retry` is not used: it cannot see Graph's error codes, which arrive with HTTP 400/403,
and two nested retry layers would make the attempt count and the total wait hard to bound.
Delays grow as `backoff * 2**n` (capped), or follow a longer `Retry-After`.
A `GraphClient` holds a `requests.Session`; use one client per thread.

Blocking a person from the Page (`block_from_page`): `POST /{page-id}/blocked` with `uid`, through `request()`.

Replies (`reply_to_comment`): Facebook `POST /{comment-id}/comments`, Instagram `POST /{ig-comment-id}/replies`,
both with `message`, answered with the new comment's `id`. Unlike delete and hide, posting twice posts two
replies, so only an answer that proves nothing was created (throttling, HTTP 429, a connection never made) is
simply sent again. After an ambiguous one (5xx, a timeout or a connection dropped once the request was out) the
comment's replies are read back (`GET /{comment-id}/comments`, `GET /{ig-comment-id}/replies`) and a reply from
our own Page/account with the same text found there counts as sent; the message is posted again only when the
read-back shows it is not there.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import time
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Literal

import requests

from webhooks.events import Platform

log = logging.getLogger(__name__)

Outcome = Literal["done", "already_gone", "token_expired", "permission", "failed"]

RATE_LIMIT_CODES = frozenset({4, 17, 32, 613, 80001, 80002})
_TEMPORARY_CODES = frozenset({1, 2})
_TOKEN_CODES = frozenset({102, 190})
_PERMISSION_CODES = frozenset({10, *range(200, 300)})
_NOT_FOUND = (100, 33)
_MAX_DELAY = 30.0  # seconds; a longer throttle is better retried later from the queue
_COMMENT_ID = re.compile(r"[0-9A-Za-z_]{1,128}")

_MSG_DONE = {
    "delete": "コメントを削除しました。",
    "hide": "コメントを非表示にしました。",
    "unhide": "コメントの非表示を解除しました。",
    "reply": "返信を投稿しました。",
}
_MSG_GONE = "コメントはすでに削除されているか、見つかりませんでした。処理済みとして扱います。"
_MSG_TOKEN_EXPIRED = (
    "アクセストークンの有効期限が切れています。管理者がMetaの設定画面でトークンを更新してください。"  # nosec B105  # a message to staff
)
_MSG_TOKEN_PASSWORD = (
    "Metaアカウントのパスワードが変更されたため、アクセストークンが使えなくなりました。"  # nosec B105  # a message to staff
    "管理者がMetaの設定画面でトークンを更新してください。"
)
_MSG_TOKEN_MISSING = "アクセストークンが設定されていません。管理者が設定画面でトークンを登録してください。"  # nosec B105  # a message to staff
_MSG_PERMISSION = (
    "この操作を行う権限がアプリにありません。管理者がMetaの設定画面でアプリの権限を確認してください。"
)
_MSG_RATE_LIMIT = (
    "Metaの利用回数の上限に達したため、処理できませんでした。時間をおいてから、もう一度お試しください。"
)
_MSG_SERVER = (
    "Metaのサーバーで一時的な障害が起きているため、処理できませんでした。"
    "時間をおいてから、もう一度お試しください。"
)
_MSG_CONNECTION = (
    "Metaのサーバーに接続できませんでした。ネットワークを確認し、時間をおいてから、もう一度お試しください。"
)
_MSG_BAD_ID = "コメントIDの形式が正しくないため、処理できませんでした。"
_MSG_BAD_USER = "ページIDまたは投稿者IDの形式が正しくないため、ブロックできませんでした。"
_MSG_BLOCKED = "投稿者をFacebookページからブロックしました。"
_MSG_REPLY_GONE = "返信先のコメントは削除されているか、見つかりませんでした。返信は投稿されていません。"
_MSG_REPLY_UNKNOWN = (
    "Metaからの応答が途中で途切れ、返信が投稿されたかどうかを確かめられませんでした。"
    "Facebook・Instagramの画面で確認してから、必要ならもう一度送ってください。"
)
# A reply of ours found on read-back may have been written this long before the request (clock skew).
_READBACK_SLACK = 600.0
_READBACK_LIMIT = "100"


@dataclass(frozen=True, slots=True)
class ActionResult:
    ok: bool
    outcome: Outcome
    message_ja: str  # shown to staff as is
    code: int | None = None  # Graph error code, when Meta sent one
    subcode: int | None = None
    attempts: int = 0  # HTTP requests sent
    reply_id: str = ""  # the reply's id on Meta, once a reply is known to be there


def appsecret_proof(access_token: str, app_secret: str) -> str:
    """HMAC-SHA256 of the access token keyed with the app secret, as hex (Meta's `appsecret_proof`)."""
    return hmac.new(app_secret.encode("utf-8"), access_token.encode("utf-8"), hashlib.sha256).hexdigest()


@dataclass(frozen=True, slots=True)
class GraphReply:
    """What `GraphClient.request` got: the JSON body, or Graph's error code and (English) message."""

    ok: bool
    status: int  # HTTP status; 0 when Meta could not be reached
    body: Any
    code: int | None = None
    subcode: int | None = None
    message: str = ""
    # Meta's rate-limit headers (X-App-Usage, X-Business-Use-Case-Usage), for callers that pace a long read.
    usage: dict[str, str] = field(default_factory=dict)


USAGE_HEADERS = ("X-App-Usage", "X-Business-Use-Case-Usage")


def _usage(response: requests.Response) -> dict[str, str]:
    return {name: response.headers[name] for name in USAGE_HEADERS if name in response.headers}


@dataclass(frozen=True, slots=True)
class _GraphError:
    code: int | None
    subcode: int | None
    transient: bool
    trace: str | None
    message: str = ""


class GraphClient:
    def __init__(
        self,
        base_url: str,
        app_secret: str,
        *,
        timeout: float = 10,
        max_retries: int = 4,
        backoff: float = 0.5,
        session: requests.Session | None = None,
    ) -> None:
        self._base_url = base_url.rstrip("/")
        self._app_secret = app_secret
        self._timeout = timeout
        self._max_retries = max(0, max_retries)
        self._backoff = max(0.0, backoff)
        self._owns_session = session is None
        self._session = session if session is not None else requests.Session()

    def close(self) -> None:
        """Close the HTTP session if this client created it."""
        if self._owns_session:
            self._session.close()

    def delete_comment(self, platform: Platform, comment_id: str, access_token: str) -> ActionResult:
        _check_platform(platform)
        return self._call("DELETE", "delete", platform, comment_id, access_token, {})

    def hide_comment(
        self, platform: Platform, comment_id: str, access_token: str, hidden: bool = True
    ) -> ActionResult:
        _check_platform(platform)
        flag = "is_hidden" if platform == "facebook" else "hide"
        action = "hide" if hidden else "unhide"
        params = {flag: "true" if hidden else "false"}
        return self._call("POST", action, platform, comment_id, access_token, params)

    def block_from_page(self, page_id: str, user_id: str, access_token: str) -> ActionResult:
        """Block a person from the Facebook Page: `POST /{page-id}/blocked` with `uid` (Page access token).

        Blocking again is harmless, so the retries `request()` makes are safe. Instagram has no such edge:
        a person is restricted or blocked in the Instagram app.
        """
        if not (_COMMENT_ID.fullmatch(page_id) and _COMMENT_ID.fullmatch(user_id)):
            return ActionResult(False, "failed", _MSG_BAD_USER)
        if not access_token:
            return ActionResult(False, "token_expired", _MSG_TOKEN_MISSING)
        got = self.request("POST", f"{page_id}/blocked", access_token, {"uid": user_id})
        if got.ok:
            # Graph answers with a map of each id to whether it is now blocked.
            if isinstance(got.body, dict) and got.body.get(user_id) is False:
                return ActionResult(False, "failed", _other_message(None))
            return ActionResult(True, "done", _MSG_BLOCKED)
        if got.status == 0:
            return ActionResult(False, "failed", _MSG_CONNECTION)
        if got.code in _TOKEN_CODES:
            message = _MSG_TOKEN_PASSWORD if got.subcode == 460 else _MSG_TOKEN_EXPIRED
            return ActionResult(False, "token_expired", message, got.code, got.subcode)
        if got.code in _PERMISSION_CODES:
            return ActionResult(False, "permission", _MSG_PERMISSION, got.code, got.subcode)
        if got.code in RATE_LIMIT_CODES or got.status == 429:
            return ActionResult(False, "failed", _MSG_RATE_LIMIT, got.code, got.subcode)
        if got.status >= 500:
            return ActionResult(False, "failed", _MSG_SERVER, got.code, got.subcode)
        return ActionResult(False, "failed", _other_message(got.code), got.code, got.subcode)

    def reply_to_comment(
        self,
        platform: Platform,
        comment_id: str,
        message: str,
        access_token: str,
        *,
        own_id: str,
        since: float,
        read_back_first: bool = False,
        thread_ids: tuple[str, ...] = (),
        known_ids: frozenset[str] = frozenset(),
    ) -> ActionResult:
        """Post `message` as a reply to the comment, at most once (see the module docstring).

        `own_id` is the Page or Instagram account id replies come from; `since` (epoch seconds) the time the
        reply was asked for; `read_back_first` says an earlier attempt may have reached Meta (a worker died,
        or the last try ended ambiguously), so the replies are read before anything is posted. `thread_ids`
        are further comments whose replies may hold ours (an Instagram reply to a reply is added to the
        top-level comment), and `known_ids` replies already accounted for by other requests.
        """
        _check_platform(platform)
        if not _COMMENT_ID.fullmatch(comment_id):
            return ActionResult(False, "failed", _MSG_BAD_ID)
        if not access_token:
            return ActionResult(False, "token_expired", _MSG_TOKEN_MISSING)
        edge = "comments" if platform == "facebook" else "replies"
        url = f"{self._base_url}/{comment_id}/{edge}"
        body = {
            "message": message,
            "access_token": access_token,
            "appsecret_proof": appsecret_proof(access_token, self._app_secret),
        }
        target = _ReplyTarget(platform, (comment_id, *thread_ids), message, own_id, since, known_ids)
        maybe_sent = read_back_first
        attempts = 0
        while True:
            if maybe_sent:
                found = self._find_reply(target, access_token)
                if isinstance(found, ActionResult):
                    return replace(found, attempts=attempts)
                if found is None:  # unreadable now: posting blind could post twice
                    return ActionResult(False, "failed", _MSG_REPLY_UNKNOWN, attempts=attempts)
                if found:
                    return ActionResult(True, "done", _MSG_DONE["reply"], attempts=attempts, reply_id=found)
            attempts += 1
            retry_after: float | None = None
            try:
                response = self._session.post(url, data=body, timeout=self._timeout)
            except requests.RequestException as exc:
                log.warning(
                    "graph reply %s %s: %s (attempt %d)", platform, comment_id, type(exc).__name__, attempts
                )
                # Only a connection never made proves the request did not reach Meta.
                maybe_sent = maybe_sent or not isinstance(exc, requests.ConnectTimeout)
                if attempts > self._max_retries:
                    return self._unconfirmed(target, access_token, maybe_sent, _MSG_CONNECTION, attempts)
            else:
                result = self._interpret(response, "reply", platform, comment_id, attempts)
                if result is not None and result.ok:
                    if result.outcome == "already_gone":
                        return replace(result, ok=False, message_ja=_MSG_REPLY_GONE)
                    reply_id = _reply_id(response)
                    if reply_id:
                        return replace(result, reply_id=reply_id)
                    maybe_sent = True  # a 2xx without the new id: look for the reply before anything else
                elif result is not None:
                    return result
                else:
                    error = _graph_error(response)
                    throttled = response.status_code == 429 or (
                        error is not None and error.code in RATE_LIMIT_CODES
                    )
                    maybe_sent = maybe_sent or not throttled
                    retry_after = _retry_after(response)
                if attempts > self._max_retries:
                    return self._unconfirmed(target, access_token, maybe_sent, None, attempts, response)
            time.sleep(self._delay(attempts, retry_after))

    def _unconfirmed(
        self,
        target: _ReplyTarget,
        access_token: str,
        maybe_sent: bool,
        message: str | None,
        attempts: int,
        response: requests.Response | None = None,
    ) -> ActionResult:
        """The retries are spent: a last read-back tells a reply that did get through from one that did not."""
        if maybe_sent:
            found = self._find_reply(target, access_token)
            if isinstance(found, ActionResult):
                return replace(found, attempts=attempts)
            if found is None:
                return ActionResult(False, "failed", _MSG_REPLY_UNKNOWN, attempts=attempts)
            if found:
                return ActionResult(True, "done", _MSG_DONE["reply"], attempts=attempts, reply_id=found)
        if response is not None:
            return self._exhausted(response, attempts)
        return ActionResult(False, "failed", message or _MSG_CONNECTION, attempts=attempts)

    def _find_reply(self, target: _ReplyTarget, access_token: str) -> str | ActionResult | None:
        """Our reply's id when the read-back shows it, "" when it shows it is not there, and for a read that
        failed: the ActionResult to report (token or permission trouble) or None (try again later)."""
        if target.platform == "facebook":
            edge, params = (
                "comments",
                {
                    "fields": "id,message,from,created_time",
                    "filter": "stream",
                    "order": "reverse_chronological",
                    "limit": _READBACK_LIMIT,
                },
            )
        else:
            edge, params = "replies", {"fields": "id,text,from,timestamp", "limit": _READBACK_LIMIT}
        for node in dict.fromkeys(target.threads):
            got = self.request("GET", f"{node}/{edge}", access_token, params)
            if not got.ok:
                if got.code in _TOKEN_CODES:
                    message = _MSG_TOKEN_PASSWORD if got.subcode == 460 else _MSG_TOKEN_EXPIRED
                    return ActionResult(False, "token_expired", message, got.code, got.subcode)
                if got.code in _PERMISSION_CODES:
                    return ActionResult(False, "permission", _MSG_PERMISSION, got.code, got.subcode)
                if (got.code, got.subcode) == _NOT_FOUND and node != target.threads[0]:
                    continue
                return None
            for entry in _data(got.body):
                if target.matches(entry):
                    return str(entry["id"])
        return ""

    def _call(
        self,
        method: str,
        action: str,
        platform: str,
        comment_id: str,
        access_token: str,
        params: dict[str, str],
    ) -> ActionResult:
        if not _COMMENT_ID.fullmatch(comment_id):
            return ActionResult(False, "failed", _MSG_BAD_ID)
        if not access_token:
            return ActionResult(False, "token_expired", _MSG_TOKEN_MISSING)
        body = {
            **params,
            "access_token": access_token,
            "appsecret_proof": appsecret_proof(access_token, self._app_secret),
        }
        url = f"{self._base_url}/{comment_id}"
        attempts = 0
        while True:
            attempts += 1
            retry_after: float | None = None
            try:
                response = self._session.request(method, url, data=body, timeout=self._timeout)
            except requests.RequestException as exc:
                # The exception text may quote the request; log its type only.
                log.warning(
                    "graph %s %s %s: %s (attempt %d)",
                    action,
                    platform,
                    comment_id,
                    type(exc).__name__,
                    attempts,
                )
                if attempts > self._max_retries:
                    return ActionResult(False, "failed", _MSG_CONNECTION, attempts=attempts)
            else:
                result = self._interpret(response, action, platform, comment_id, attempts)
                if result is not None:
                    return result
                retry_after = _retry_after(response)
                if attempts > self._max_retries:
                    return self._exhausted(response, attempts)
            time.sleep(self._delay(attempts, retry_after))

    def _interpret(
        self, response: requests.Response, action: str, platform: str, comment_id: str, attempts: int
    ) -> ActionResult | None:
        """The final result for this response, or None when it is worth another attempt."""
        status = response.status_code
        error = _graph_error(response)
        if 200 <= status < 300 and error is None:
            if _json(response) == {"success": False}:
                return ActionResult(False, "failed", _other_message(None), attempts=attempts)
            return ActionResult(True, "done", _MSG_DONE[action], attempts=attempts)
        code = error.code if error else None
        subcode = error.subcode if error else None
        log.warning(
            "graph %s %s %s: HTTP %d code=%s subcode=%s fbtrace_id=%s (attempt %d)",
            action,
            platform,
            comment_id,
            status,
            code,
            subcode,
            error.trace if error else None,
            attempts,
        )
        if (code, subcode) == _NOT_FOUND:
            return ActionResult(True, "already_gone", _MSG_GONE, code, subcode, attempts)
        if code in _TOKEN_CODES:
            message = _MSG_TOKEN_PASSWORD if subcode == 460 else _MSG_TOKEN_EXPIRED
            return ActionResult(False, "token_expired", message, code, subcode, attempts)
        if code in _PERMISSION_CODES:
            return ActionResult(False, "permission", _MSG_PERMISSION, code, subcode, attempts)
        if _retryable(status, error):
            return None
        return ActionResult(False, "failed", _other_message(code), code, subcode, attempts)

    def request(
        self,
        method: Literal["GET", "POST"],
        path: str,
        access_token: str,
        params: dict[str, str] | None = None,
        *,
        base_url: str | None = None,
        proof: bool = True,
    ) -> GraphReply:
        """One Graph call for setup and status (webhooks.connect), with the same retries as the actions.

        Graph reads take their parameters in the query string, so a GET carries the token in its URL;
        nothing here logs a URL (service.logs keeps urllib3's URL lines out). `base_url` serves the
        Instagram host; `proof=False` where the Meta app secret is not the key (Instagram Login).
        """
        values = {**(params or {}), "access_token": access_token}
        if proof:
            values["appsecret_proof"] = appsecret_proof(access_token, self._app_secret)
        url = f"{(base_url or self._base_url).rstrip('/')}/{path.lstrip('/')}"
        attempts = 0
        while True:
            attempts += 1
            try:
                if method == "GET":
                    response = self._session.get(url, params=values, timeout=self._timeout)
                else:
                    response = self._session.post(url, data=values, timeout=self._timeout)
            except requests.RequestException as exc:
                log.warning("graph %s %s: %s (attempt %d)", method, path, type(exc).__name__, attempts)
                if attempts > self._max_retries:
                    return GraphReply(False, 0, None, message="connection failed")
                time.sleep(self._delay(attempts, None))
                continue
            error = _graph_error(response)
            if 200 <= response.status_code < 300 and error is None:
                return GraphReply(True, response.status_code, _json(response), usage=_usage(response))
            if _retryable(response.status_code, error) and attempts <= self._max_retries:
                time.sleep(self._delay(attempts, _retry_after(response)))
                continue
            log.warning(
                "graph %s %s: HTTP %d code=%s subcode=%s fbtrace_id=%s",
                method,
                path,
                response.status_code,
                error.code if error else None,
                error.subcode if error else None,
                error.trace if error else None,
            )
            return GraphReply(
                False,
                response.status_code,
                _json(response),
                error.code if error else None,
                error.subcode if error else None,
                error.message if error else "",
                _usage(response),
            )

    def _exhausted(self, response: requests.Response, attempts: int) -> ActionResult:
        error = _graph_error(response)
        code = error.code if error else None
        subcode = error.subcode if error else None
        throttled = code in RATE_LIMIT_CODES or response.status_code == 429
        message = _MSG_RATE_LIMIT if throttled else _MSG_SERVER
        return ActionResult(False, "failed", message, code, subcode, attempts)

    def _delay(self, attempts: int, retry_after: float | None) -> float:
        delay = self._backoff * 2 ** (attempts - 1)
        if retry_after is not None:
            delay = max(delay, retry_after)
        return min(delay, _MAX_DELAY)


@dataclass(frozen=True, slots=True)
class _ReplyTarget:
    """What our reply looks like when read back: its text, its author (our Page/account), its time."""

    platform: str
    threads: tuple[str, ...]
    message: str
    own_id: str
    since: float
    known_ids: frozenset[str]

    def matches(self, entry: Any) -> bool:
        if (
            not isinstance(entry, dict)
            or not isinstance(entry.get("id"), str)
            or entry["id"] in self.known_ids
        ):
            return False
        text = entry.get("message" if self.platform == "facebook" else "text")
        if not isinstance(text, str) or _same_text(text) != _same_text(self.message):
            return False
        author = entry.get("from")
        # Graph leaves `from` out where it may not show the author; our own Page/account is always shown.
        if isinstance(author, dict) and author.get("id") and self.own_id and str(author["id"]) != self.own_id:
            return False
        written = _graph_time(entry.get("created_time" if self.platform == "facebook" else "timestamp"))
        return written is None or written >= self.since - _READBACK_SLACK


def _same_text(text: str) -> str:
    """Text as compared on read-back: line breaks in one form, no surrounding space."""
    return text.replace("\r\n", "\n").replace("\r", "\n").strip()


def _data(body: Any) -> list[Any]:
    data = body.get("data") if isinstance(body, dict) else None
    return data if isinstance(data, list) else []


def _graph_time(raw: Any) -> float | None:
    """Graph's `2026-12-02T01:21:08+0000` as epoch seconds (None when absent or unreadable)."""
    if not isinstance(raw, str):
        return None
    try:
        return datetime.strptime(raw, "%Y-%m-%dT%H:%M:%S%z").timestamp()
    except ValueError:
        return None


def _reply_id(response: requests.Response) -> str:
    body = _json(response)
    reply_id = body.get("id") if isinstance(body, dict) else None
    return str(reply_id) if isinstance(reply_id, str | int) and not isinstance(reply_id, bool) else ""


def _check_platform(platform: str) -> None:
    if platform not in ("facebook", "instagram"):
        raise ValueError(f"unknown platform {platform!r}")


def _retryable(status: int, error: _GraphError | None) -> bool:
    if status >= 500 or status == 429:
        return True
    if error is None:
        return False
    return error.transient or error.code in RATE_LIMIT_CODES or error.code in _TEMPORARY_CODES


def _json(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _graph_error(response: requests.Response) -> _GraphError | None:
    """The `{"error": {...}}` object Graph sends with a failure, if the body has one."""
    body = _json(response)
    if not isinstance(body, dict) or not isinstance(body.get("error"), dict):
        return None
    error = body["error"]
    trace = error.get("fbtrace_id")
    return _GraphError(
        code=_int(error.get("code")),
        subcode=_int(error.get("error_subcode")),
        transient=error.get("is_transient") is True,
        trace=trace if isinstance(trace, str) else None,
        message=str(error.get("message") or ""),
    )


def _int(raw: Any) -> int | None:
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        return raw
    if isinstance(raw, str) and raw.isascii() and raw.isdigit():
        return int(raw)
    return None


def _retry_after(response: requests.Response) -> float | None:
    raw = response.headers.get("Retry-After", "")
    try:
        seconds = float(raw)
    except ValueError:
        return None
    return seconds if 0 <= seconds < float("inf") else None


def _other_message(code: int | None) -> str:
    detail = f"（エラーコード {code}）" if code is not None else ""
    return f"Metaがこの操作を受け付けませんでした{detail}。管理者に連絡してください。"
