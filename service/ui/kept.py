"""What a person typed when their session had lapsed: kept across the login so nothing is lost.

After the idle timeout a button press (削除 with a memo, a reply) reaches us without a session. Instead of
an error page and a lost memo, the typed fields are kept for an hour under a random token (in Redis, since
a memo of 1,000 Japanese characters does not fit in a cookie), the person logs in and comes back to the same
page with the fields filled in, and is asked to press the button again — nothing is done on their behalf.
Key: `{shakyo}:ui:kept:<token>` (string, JSON, expires after KEEP_SECONDS).
"""

from __future__ import annotations

import json
import re
import secrets
from urllib.parse import quote

import redis
from fastapi import Request
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import FormData

from service.keys import TAG
from service.web_security import LOGIN_PATH, safe_next

KEEP_SECONDS = 3600
KEPT_COOKIE = "shakyo_kept"
_KEPT_FIELDS = ("note", "message")
_ITEM_ACTION = re.compile(r"^/items/([^/]+)/(act|reply)$")


def _key(token: str) -> str:
    return f"{TAG}ui:kept:{token}"


def return_path(request: Request, form: FormData) -> str:
    """The page the pressed button was on: the item for its buttons, the list for a bulk action."""
    path = request.url.path
    if m := _ITEM_ACTION.match(path):
        return f"/items/{m.group(1)}"
    if path == "/queue/bulk":
        return safe_next("/queue?" + str(form.get("back", "")), "/queue")
    if path == "/review/bulk":
        return "/review"
    return "/queue"


def keep_and_login(r: redis.Redis, request: Request, form: FormData, *, secure: bool) -> Response:
    """Keep the typed fields, then send the person to log in and come back to the same page."""
    back = return_path(request, form)
    kept = {name: str(form.get(name, "")) for name in _KEPT_FIELDS if form.get(name)}
    response = RedirectResponse(f"{LOGIN_PATH}?expired=1&next={quote(back, safe='/')}", status_code=303)
    if kept:
        token = secrets.token_urlsafe(24)
        r.set(_key(token), json.dumps({"path": back, **kept}, ensure_ascii=False), ex=KEEP_SECONDS)
        response.set_cookie(
            KEPT_COOKIE, token, max_age=KEEP_SECONDS, httponly=True, samesite="strict", secure=secure
        )
    return response


def take(r: redis.Redis, request: Request, path: str) -> dict[str, str]:
    """The fields kept for `path` (once: they are removed as they are read); {} when there are none."""
    token = request.cookies.get(KEPT_COOKIE, "")
    if not token or not re.fullmatch(r"[A-Za-z0-9_-]{16,64}", token):
        return {}
    raw = r.get(_key(token))
    if raw is None:
        return {}
    kept = json.loads(raw)
    if kept.get("path") != path:
        return {}
    r.delete(_key(token))
    return {k: str(v) for k, v in kept.items() if k in _KEPT_FIELDS}
