"""Structured log lines: JSON, comment text only at DEBUG, secret-named fields never."""

from __future__ import annotations

import json
import logging

from service.logs import JsonFormatter


def _line(level: int, **extra: object) -> dict[str, object]:
    record = logging.getLogger("t").makeRecord(
        "t", level, __file__, 1, "comment event applied", (), None, extra=extra
    )
    return json.loads(JsonFormatter().format(record))


def test_fields_are_kept_and_text_only_at_debug() -> None:
    info = _line(logging.INFO, item_id="facebook:1_2", text="死ねよクズ", flagged=True)
    assert info["msg"] == "comment event applied" and info["level"] == "info"
    assert info["item_id"] == "facebook:1_2" and info["flagged"] is True
    assert "text" not in info
    assert _line(logging.DEBUG, text="死ねよクズ")["text"] == "死ねよクズ"


def test_secret_named_fields_are_dropped() -> None:
    line = _line(
        logging.ERROR, token="EAAB-page-token", app_secret="s", verify_token="v", platform="facebook"
    )
    assert set(line) >= {"platform"} and not {"token", "app_secret", "verify_token"} & set(line)
