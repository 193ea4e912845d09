"""POST /webhooks/meta as plain ASGI, in front of the FastAPI app.

Meta needs its 200 within milliseconds, at whatever rate comments arrive. Going through FastAPI costs
more than the work itself: its middleware stack and a route search across every staff page, a Request
object, a Response object. This receiver answers the one path and method before any of that and hands
everything else (the subscription handshake GET included) to the app unchanged.

The order of the checks is the contract with Meta: the declared size, then the size actually read, then
the signature over the raw bytes, and only then the JSON. Each comment event is in the Redis stream
(deduplicated, atomically: service.ingest) before the 200; a Redis failure answers 503 so Meta retries.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

import redis
from starlette.types import ASGIApp, Receive, Scope, Send

from service import metrics
from service.ingest import Ingestor
from webhooks.parse import parse_payload
from webhooks.signature import verify_signature

log = logging.getLogger(__name__)

WEBHOOK_PATH = "/webhooks/meta"

_STATUS = {
    "ok": 200,
    "ignored": 200,
    "bad_request": 400,
    "disconnected": 400,
    "bad_json": 400,
    "bad_signature": 403,
    "too_large": 413,
    "not_configured": 503,
    "error": 503,
}
# The answers are few and fixed: built once, not per request.
_ANSWERS = {
    result: (
        status,
        body := json.dumps({"result": result}).encode(),
        [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"cache-control", b"no-store"),
        ],
    )
    for result, status in _STATUS.items()
}


class WebhookReceiver:
    def __init__(
        self,
        app: ASGIApp,
        *,
        app_secret: str,
        max_body_bytes: int,
        facebook_page_id: str | None,
        instagram_account_id: str | None,
    ) -> None:
        self.app = app
        self._secret = app_secret
        self._limit = max_body_bytes
        self._facebook = facebook_page_id
        self._instagram = instagram_account_id
        # Set by the app's lifespan, on the server's own event loop.
        self.ingestor: Ingestor | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] != WEBHOOK_PATH:
            await self.app(scope, receive, send)
            return
        result = await self._handle(scope, receive)
        metrics.WEBHOOK_REQUESTS.labels(result).inc()
        status, body, headers = _ANSWERS[result]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def _handle(self, scope: Scope, receive: Receive) -> str:
        if not self._secret or self.ingestor is None:
            # Not "bad_signature": nothing could be checked yet. Still non-200, so nothing is accepted and
            # Meta keeps retrying until the app secret is set.
            return "not_configured"
        declared: bytes | None = None
        signature: bytes | None = None
        for name, value in scope["headers"]:
            if name == b"content-length":
                declared = value
            elif name == b"x-hub-signature-256":
                signature = value
        if declared is not None:
            if not declared.isdigit():
                return "bad_request"
            if int(declared) > self._limit:
                return "too_large"
        raw = await self._read_body(receive)  # the declared length may lie, or be absent (chunked)
        if isinstance(raw, str):
            return raw
        received_at = time.time()
        if not verify_signature(raw, signature.decode("latin-1") if signature else None, self._secret):
            log.warning("webhook signature rejected", extra={"bytes": len(raw)})
            return "bad_signature"
        try:
            payload: Any = json.loads(raw)
        except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError; nesting too deep to decode
            return "bad_json"
        parsed = parse_payload(
            payload,
            facebook_page_id=self._facebook,
            instagram_account_id=self._instagram,
            received_at=received_at,
        )
        if parsed.ignored:
            log.debug("webhook parts ignored", extra={"reasons": parsed.ignored})
        if not parsed.events:
            return "ignored"
        try:
            stored = await self.ingestor.ingest(parsed.events, received_at=received_at, raw=raw)
        except redis.RedisError as exc:
            # No 200: Meta retries the delivery, and dedup makes the retry safe.
            log.error("webhook not stored: redis error", extra={"error": type(exc).__name__})
            return "error"
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
        return "ok"

    async def _read_body(self, receive: Receive) -> bytes | str:
        """The whole body, or the result to answer with when it is too large or the sender went away."""
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                log.debug("webhook sender disconnected mid-body")
                return "disconnected"
            body += message.get("body", b"")
            if len(body) > self._limit:
                return "too_large"
            if not message.get("more_body", False):
                return bytes(body)
