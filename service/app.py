"""The FastAPI application: Meta webhooks, health, readiness and metrics.

POST /webhooks/meta checks size, then the signature over the raw bytes, and only then parses; each
comment event is in the Redis stream (deduplicated, atomically) before the 200. Everything on the
request path uses redis.asyncio, so the event loop never waits on a socket.

Every response but /static carries `Cache-Control: no-store` (staff pages show comments and names that
must not stay in a shared browser's cache), and the OpenAPI schema is served to logged-in 管理者 only.
"""

from __future__ import annotations

import hmac
import json
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

import redis.asyncio
import uvicorn
from fastapi import Depends, FastAPI, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect

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
from webhooks.parse import parse_payload
from webhooks.signature import verify_signature
from webhooks.subscription import verify_subscription

log = logging.getLogger(__name__)

WEBHOOK_PATH = "/webhooks/meta"


def _reply(status: int, result: str) -> Response:
    metrics.WEBHOOK_REQUESTS.labels(result).inc()
    return Response(content=json.dumps({"result": result}), status_code=status, media_type="application/json")


def create_app(settings: Settings, target: RedisTarget) -> FastAPI:
    """Build the app. Its Redis client is created in the lifespan, on the server's own event loop."""
    app_secret = settings.secret("meta_app_secret")
    verify_token = settings.secret("meta_verify_token")
    metrics_token = settings.secret("metrics_token")
    limit = settings.max_body_bytes

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        client = target.async_client()
        try:
            # Hold a connection from the start: an embedded server counts its clients before stopping.
            await client.ping()
        except redis.RedisError as exc:
            log.error("redis unreachable at start-up", extra={"error": type(exc).__name__})
        app.state.redis = client
        app.state.ingestor = Ingestor(
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

    @app.post(WEBHOOK_PATH)
    async def receive(request: Request) -> Response:
        if not app_secret:
            # Not "bad_signature": nothing could be checked yet. Still non-200, so nothing is accepted and
            # Meta keeps retrying until the app secret is set.
            return _reply(503, "not_configured")
        declared = request.headers.get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            return _reply(
                413 if declared.isdigit() else 400, "too_large" if declared.isdigit() else "bad_request"
            )
        body = bytearray()
        try:
            async for chunk in request.stream():  # the declared length may lie, or be absent (chunked)
                body += chunk
                if len(body) > limit:
                    return _reply(413, "too_large")
        except ClientDisconnect:
            log.debug("webhook sender disconnected mid-body")
            return _reply(400, "disconnected")
        raw = bytes(body)
        received_at = time.time()
        if not verify_signature(raw, request.headers.get("x-hub-signature-256"), app_secret):
            log.warning("webhook signature rejected", extra={"bytes": len(raw)})
            return _reply(403, "bad_signature")
        try:
            payload: Any = json.loads(raw)
        except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError; nesting too deep to decode
            return _reply(400, "bad_json")
        parsed = parse_payload(
            payload,
            facebook_page_id=settings.facebook_page_id,
            instagram_account_id=settings.instagram_account_id,
            received_at=received_at,
        )
        if parsed.ignored:
            log.debug("webhook parts ignored", extra={"reasons": parsed.ignored})
        if not parsed.events:
            return _reply(200, "ignored")
        try:
            stored = await request.app.state.ingestor.ingest(parsed.events, received_at=received_at, raw=raw)
        except redis.RedisError as exc:
            # No 200: Meta retries the delivery, and dedup makes the retry safe.
            log.error("webhook not stored: redis error", extra={"error": type(exc).__name__})
            return _reply(503, "error")
        for event, stream_id in zip(parsed.events, stored.stream_ids, strict=True):
            if stream_id:
                metrics.EVENTS_INGESTED.labels(event.platform).inc()
            else:
                metrics.REDELIVERIES.inc()
            log.info(
                "webhook event",
                extra={
                    "platform": event.platform,
                    "comment_id": event.comment_id,
                    "verb": event.verb,
                    "is_own": event.is_own,
                    "stream_id": stream_id or None,
                    "redelivery": not stream_id,
                    "notes": event.notes,
                },
            )
        return _reply(200, "ok")

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

    return app


def uvicorn_config(app: FastAPI, settings: Settings, *, host: str, port: int) -> uvicorn.Config:
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
