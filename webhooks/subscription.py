"""The `hub.*` GET handshake Meta sends when the webhook URL is registered or re-checked."""

from __future__ import annotations

import hmac
import re
from collections.abc import Mapping

# Meta's challenge is a number; echoing only a short URL-safe token keeps the endpoint from
# reflecting arbitrary text (markup, header tricks) back to whoever calls it.
_CHALLENGE = re.compile(r"[A-Za-z0-9_.\-]{1,256}")


def verify_subscription(params: Mapping[str, str], verify_token: str) -> str | None:
    """The challenge to echo when `hub.mode` is "subscribe" and `hub.verify_token` matches, else None."""
    if not verify_token:
        return None
    if params.get("hub.mode") != "subscribe":
        return None
    given = params.get("hub.verify_token")
    challenge = params.get("hub.challenge")
    if not isinstance(given, str) or not isinstance(challenge, str):
        return None
    if not hmac.compare_digest(given.encode("utf-8"), verify_token.encode("utf-8")):
        return None
    if not _CHALLENGE.fullmatch(challenge):
        return None
    return challenge
