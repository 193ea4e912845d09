"""`GET /live/events`: a server-sent-event stream for the open staff page.

Events: `change` (data: the changed item ids, space-separated, or `*` for "anything"), `presence` (with
`?item=`: JSON list of the other people who have that item open), `expired` (the session ended; the page
stops listening). Listening does not count as activity: the session's idle clock is read, never restarted,
so an open tab still logs its user out on time.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator

import anyio
import redis.asyncio
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from service.accounts import Account
from service.live import STOPPING, presence
from service.live.hub import RESYNC, LiveHub
from service.ui.common import ui
from service.web_security import WebSecurity

router = APIRouter()

_WAIT_SECONDS = 1.0  # how often a quiet stream looks at STOPPING and its timers
_KEEPALIVE_SECONDS = 15.0  # proxies close a connection that says nothing for long
_SESSION_CHECK_SECONDS = 30.0


@router.get("/live/events", include_in_schema=False)
async def events(request: Request, item: str = "") -> Response:
    security = ui(request).security
    account = await run_in_threadpool(_viewer, security, request)
    if account is None:
        return Response(status_code=401)  # EventSource gives up on a non-200 answer
    hub = _hub(request.app)
    queue = hub.join()
    stream = _stream(request, security, hub, queue, account, item)
    headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    return StreamingResponse(stream, media_type="text/event-stream", headers=headers)


def _hub(app: FastAPI) -> LiveHub:
    hub = getattr(app.state, "live_hub", None)
    if hub is None:
        hub = app.state.live_hub = LiveHub(app.state.redis)
    return hub


def _viewer(security: WebSecurity, request: Request) -> Account | None:
    sid = security.session_id(request)
    session = security.sessions.get(sid, touch=False) if sid else None
    if session is None:
        return None
    account = security.accounts.get(session.username)
    if account is None or account.disabled or session.created_at < account.password_changed_at:
        return None
    return account


def _event(name: str, data: str) -> str:
    return f"event: {name}\ndata: {data}\n\n"


async def _stream(
    request: Request,
    security: WebSecurity,
    hub: LiveHub,
    queue: asyncio.Queue[str],
    account: Account,
    item: str,
) -> AsyncIterator[str]:
    r: redis.asyncio.Redis = request.app.state.redis
    me, label = account.username, account.display_name or account.username
    try:
        yield "retry: 2000\n\n"
        await hub.subscribed.wait()
        if item:
            await presence.renew(r, item, me, label, announce=True)
            yield _event("presence", json.dumps(await presence.present(r, item, me), ensure_ascii=False))
        yield ": ready\n\n"
        renewed = checked = spoke = time.monotonic()
        while not STOPPING.is_set():
            try:
                first = await asyncio.wait_for(queue.get(), _WAIT_SECONDS)
            except TimeoutError:
                first = None
            if first is not None:
                # A worker batch publishes one message per comment: one event says it all.
                messages = [first]
                while not queue.empty():
                    messages.append(queue.get_nowait())
                changed = [m for m in dict.fromkeys(messages) if not m.startswith("presence ")]
                if changed:
                    yield _event("change", RESYNC if RESYNC in changed else " ".join(changed))
                    spoke = time.monotonic()
                if item and f"presence {item}" in messages:
                    yield _event(
                        "presence", json.dumps(await presence.present(r, item, me), ensure_ascii=False)
                    )
                    spoke = time.monotonic()
            now = time.monotonic()
            if item and now - renewed >= presence.RENEW_SECONDS:
                await presence.renew(r, item, me, label, announce=False)
                renewed = now
            if now - checked >= _SESSION_CHECK_SECONDS:
                checked = now
                if await run_in_threadpool(_viewer, security, request) is None:
                    yield _event("expired", "")
                    return
            if now - spoke >= _KEEPALIVE_SECONDS:
                yield ": keepalive\n\n"
                spoke = now
    finally:
        hub.leave(queue)
        if item:
            # The stream is being cancelled (the page closed): the clean-up must still reach Redis.
            with anyio.CancelScope(shield=True):
                await presence.leave(r, item, me, label)
