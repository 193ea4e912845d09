"""Meta's `X-Hub-Signature-256` check, done over the raw request bytes before any parsing."""

from __future__ import annotations

import hashlib
import hmac
import re

_PREFIX = "sha256="
_HEX_DIGEST = re.compile(r"[0-9a-f]{64}")


def verify_signature(raw_body: bytes, header_value: str | None, app_secret: str) -> bool:
    """True when `header_value` is `sha256=<hex>` of HMAC-SHA256(raw_body, key=app_secret).

    Anything malformed (missing header, other algorithm, wrong length, non-hex) is simply False,
    and so is an empty app secret: an unconfigured secret must never accept a body.
    """
    if not app_secret or not header_value:
        return False
    value = header_value.strip()
    if value[: len(_PREFIX)].lower() != _PREFIX:
        return False
    # Hex is case-insensitive; folding first keeps compare_digest on ASCII of equal length.
    given = value[len(_PREFIX) :].lower()
    if not _HEX_DIGEST.fullmatch(given):
        return False
    expected = hmac.new(app_secret.encode("utf-8"), raw_body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, given)
