"""Structured logging: one JSON object per line on stderr.

Call sites pass their fields with `extra={...}`. Secrets never reach a log line: settings hold them
as SecretStr, and the fields listed in `_NEVER_LOGGED` are dropped here as a second guard. Comment
text is logged only at DEBUG (callers put it in the `text` field, which is dropped above DEBUG).
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

# Attributes every LogRecord has; anything else on a record came from `extra=`.
_RECORD_ATTRS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}
_NOISE = frozenset({"color_message"})  # uvicorn's ANSI-coloured copy of msg
_NEVER_LOGGED = frozenset({"token", "secret", "app_secret", "verify_token", "access_token", "password"})
_DEBUG_ONLY = frozenset({"text"})


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for name, value in vars(record).items():
            if name in _RECORD_ATTRS or name in _NEVER_LOGGED or name in _NOISE:
                continue
            if name in _DEBUG_ONLY and record.levelno > logging.DEBUG:
                continue
            line[name] = value
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


def configure_logging(level: str = "INFO") -> None:
    """Route the root logger (and uvicorn's) to one JSON handler on stderr."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    # Access lines would carry the query string, and the subscription handshake puts the verify token there.
    logging.getLogger("uvicorn.access").disabled = True
    # urllib3 logs each request's URL at DEBUG, and Graph API reads carry the access token in the query.
    logging.getLogger("urllib3").setLevel(max(logging.INFO, root.level))
