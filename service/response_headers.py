"""Headers every response gets, added as plain ASGI middleware.

Starlette's ``@app.middleware("http")`` wraps each request and response in extra objects and tasks; this
middleware only edits the headers of the response-start message as it passes. (The webhook POST never
reaches it: service.webhook_receiver answers it in front of the app, with its own ``no-store``.)
"""

from __future__ import annotations

from collections.abc import Mapping

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class ResponseHeaders:
    """``Cache-Control: no-store`` on everything but ``/static/`` (staff pages hold personal data), and the
    security headers on every HTML page."""

    def __init__(self, app: ASGIApp, html_headers: Mapping[str, str]) -> None:
        self.app = app
        self.html_headers = dict(html_headers)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cacheable = scope["path"].startswith("/static/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                if not cacheable:
                    headers.setdefault("Cache-Control", "no-store")
                if headers.get("content-type", "").startswith("text/html"):
                    for name, value in self.html_headers.items():
                        headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)
