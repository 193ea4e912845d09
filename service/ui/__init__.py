"""The staff web UI (Japanese, server-rendered, works without JavaScript).

`install(app, r, settings)` mounts the static files, the page routers and the error pages on the app.
"""

from __future__ import annotations

import redis
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException

from service.authors import web as authors_web
from service.evidence import web as evidence_web
from service.live import web as live_web
from service.settings import Settings
from service.ui import admin, auth, kept, queue, replies, reports, review, support
from service.ui.common import STATIC_DIR, LazyUI, render, ui

_ERROR_TITLES = {403: "権限がありません", 404: "見つかりません", 405: "この操作はできません"}


def install(app: FastAPI, r: redis.Redis, settings: Settings) -> None:
    app.state.ui = LazyUI(r, settings)
    app.mount("/static", StaticFiles(directory=str(STATIC_DIR)), name="static")
    for module in (
        auth,
        support,
        queue,
        review,
        replies,
        admin,
        reports,
        evidence_web,
        authors_web,
        live_web,
    ):
        app.include_router(module.router)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        headers = dict(exc.headers or {})
        if exc.status_code in (301, 302, 303, 307) or request.url.path.startswith(
            ("/webhooks", "/readyz", "/metrics")
        ):
            return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=headers)
        ctx = ui(request)
        user = ctx.security.current_user(request)
        if exc.status_code == 403 and user is None and request.method == "POST":
            # The session lapsed while the page was open: log in again and come back with what was typed.
            form = await request.form()
            return kept.keep_and_login(ctx.r, request, form, secure=ctx.settings.secure_cookies)
        title = _ERROR_TITLES.get(exc.status_code, "エラー")
        return render(request, "error.html", user, exc.status_code, title=title, message=str(exc.detail))
