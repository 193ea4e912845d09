"""The web application: Meta webhooks, health, readiness, metrics, and the staff UI.

POST /webhooks/meta is answered by service.webhook_receiver in front of FastAPI (the hot path); the
subscription handshake, health, readiness, metrics and the staff pages are FastAPI routes. Everything on
the request path uses redis.asyncio, so the event loop never waits on a socket.

Every response but /static carries `Cache-Control: no-store` (staff pages show comments and names that
must not stay in a shared browser's cache), and the OpenAPI schema is served to logged-in 管理者 only.
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

import redis.asyncio
import uvicorn
from fastapi import Depends, FastAPI, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp

from classifiers.phases.model import model_info
from service import metrics
from service.actions import TOKEN_PROBLEM_KEY
from service.ingest import Ingestor
from service.redis_conn import RedisTarget
from service.response_headers import ResponseHeaders
from service.settings import Settings
from service.ui import install as install_ui
from service.ui.common import admin
from service.web_security import SECURITY_HEADERS, CurrentUser
from service.webhook_receiver import WEBHOOK_PATH, WebhookReceiver
from webhooks.subscription import verify_subscription

log = logging.getLogger(__name__)


def _reply(status: int, result: str) -> Response:
    metrics.WEBHOOK_REQUESTS.labels(result).inc()
    return Response(content=json.dumps({"result": result}), status_code=status, media_type="application/json")


def create_app(settings: Settings, target: RedisTarget) -> WebhookReceiver:
    """Build the app: the webhook receiver in front of FastAPI. The Redis client is created in the lifespan,
    on the server's own event loop."""
    verify_token = settings.secret("meta_verify_token")
    metrics_token = settings.secret("metrics_token")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        client = target.async_client()
        try:
            # Hold a connection from the start: an embedded server counts its clients before stopping.
            await client.ping()
        except redis.RedisError as exc:
            log.error("redis unreachable at start-up", extra={"error": type(exc).__name__})
        app.state.redis = client
        receiver.ingestor = Ingestor(
            client,
            dedup_ttl_seconds=settings.dedup_ttl_seconds,
            # The signed body is kept as long as its comment, for evidence records (service.evidence).
            raw_ttl_seconds=settings.retention_days * 86400,
        )
        try:
            yield
        finally:
            await client.aclose()
            app.state.ui.r.close()  # the staff UI's (sync) client, so an embedded server can stop

    app = FastAPI(
        title="shakyo-moderation", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None
    )
    install_ui(app, target.client(), settings)

    app.add_middleware(ResponseHeaders, html_headers=SECURITY_HEADERS)

    @app.get("/openapi.json", include_in_schema=False)
    def openapi(user: Annotated[CurrentUser, Depends(admin)]) -> JSONResponse:
        return JSONResponse(app.openapi())

    @app.get(WEBHOOK_PATH)
    async def subscribe(request: Request) -> Response:
        if not verify_token:
            return _reply(503, "not_configured")
        challenge = verify_subscription(request.query_params, verify_token)
        if challenge is None:
            log.warning("webhook subscription refused")
            return _reply(403, "forbidden")
        log.info("webhook subscription verified")
        metrics.WEBHOOK_REQUESTS.labels("subscribed").inc()
        return PlainTextResponse(challenge)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz")
    async def readyz(request: Request) -> JSONResponse:
        reasons: dict[str, str] = {}
        try:
            await request.app.state.redis.ping()
        except redis.RedisError as exc:
            reasons["redis"] = f"unreachable ({type(exc).__name__})"
        model = await run_in_threadpool(_model_status)
        if model is not None:
            reasons["model"] = model
        if reasons:
            return JSONResponse({"status": "not_ready", "reasons": reasons}, status_code=503)
        # Still serving, but delete/hide cannot reach Meta until an administrator renews the token.
        problems = await request.app.state.redis.hgetall(TOKEN_PROBLEM_KEY)
        if problems:
            return JSONResponse(
                {"status": "degraded", "degraded": {f"graph_token_{p}": m for p, m in problems.items()}}
            )
        return JSONResponse({"status": "ready"})

    @app.get("/metrics")
    async def prometheus(request: Request) -> Response:
        if metrics_token:
            scheme, _, given = request.headers.get("authorization", "").partition(" ")
            if scheme.lower() != "bearer" or not hmac.compare_digest(given.encode(), metrics_token.encode()):
                return Response(status_code=401, headers={"WWW-Authenticate": 'Bearer realm="metrics"'})
        return Response(await metrics.render(request.app.state.redis), media_type=CONTENT_TYPE_LATEST)

    receiver = WebhookReceiver(
        app,
        app_secret=settings.secret("meta_app_secret"),
        max_body_bytes=settings.max_body_bytes,
        facebook_page_id=settings.facebook_page_id,
        instagram_account_id=settings.instagram_account_id,
    )
    return receiver


def uvicorn_config(app: ASGIApp, settings: Settings, *, host: str, port: int) -> uvicorn.Config:
    """How `serve` runs the app. X-Forwarded-* headers are believed only from SHAKYO_TRUSTED_PROXIES:
    uvicorn's own default trusts 127.0.0.1, so any local client could pick its address and slip past
    the per-address login throttle."""
    trusted = ",".join(settings.trusted_proxies)
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=10,
        proxy_headers=bool(trusted),
        forwarded_allow_ips=trusted or None,
    )


def _model_status() -> str | None:
    """None when the classifier's model is loaded, else why not."""
    try:
        info = model_info()
    except Exception as exc:  # a broken model file must show up as "not ready", not as a 500
        return f"{type(exc).__name__}: {exc}"
    return None if info.get("loaded") else str(info.get("error") or "model not loaded")
