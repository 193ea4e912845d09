"""A real SMTP server on loopback (aiosmtpd) that keeps what it receives, for notification tests."""

from __future__ import annotations

import email
import email.policy
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session

from tests.conftest import free_port


class Inbox:
    """The aiosmtpd handler: every accepted message, parsed, with its envelope recipients."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.recipients: list[list[str]] = []
        self._arrived = threading.Condition()

    async def handle_DATA(self, server: Any, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or envelope.content
        data = raw if isinstance(raw, bytes) else str(raw).encode()
        parsed = email.message_from_bytes(data, policy=email.policy.default)
        with self._arrived:
            self.messages.append(parsed)  # type: ignore[arg-type]
            self.recipients.append(list(envelope.rcpt_tos))
            self._arrived.notify_all()
        return "250 OK"

    def wait_for(self, count: int, timeout: float = 10.0) -> list[EmailMessage]:
        """The messages once `count` have arrived (the sender may be another thread)."""
        with self._arrived:
            self._arrived.wait_for(lambda: len(self.messages) >= count, timeout)
            return list(self.messages)


def _authenticator(user: str, password: str) -> Any:
    def check(server: Any, session: Session, envelope: Envelope, mechanism: str, data: Any) -> AuthResult:
        ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
            user.encode(),
            password.encode(),
        )
        return AuthResult(success=ok, handled=False)

    return check


@contextmanager
def smtp_server(*, user: str | None = None, password: str = "") -> Iterator[tuple[int, Inbox]]:
    """An SMTP server on 127.0.0.1 (a free port); with `user`, it requires that login (plain text is allowed
    on loopback). Yields (port, inbox)."""
    inbox = Inbox()
    kwargs: dict[str, Any] = {}
    if user is not None:
        kwargs = {
            "authenticator": _authenticator(user, password),
            "auth_required": True,
            "auth_require_tls": False,
        }
    # aiosmtpd checks its own start by connecting to the port it was given, so it cannot be 0.
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port, **kwargs)
    controller.start()
    try:
        yield port, inbox
    finally:
        controller.stop()
