"""Issue 11, operations: webhooks before Meta is configured answer "not_configured" (non-200), and /metrics
asks for SHAKYO_METRICS_TOKEN as a bearer token when it is set. Real HTTP on loopback against the app."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
import redis

from service.commands_queue import resolve_item
from service.moderation import ModerationError
from service.settings import Settings, SettingsError, load_settings
from service.store import Store
from tests.service.test_moderation import add_flagged
from tests.webhooks.payloads import sign

METRICS_TOKEN = "m3tr1cs-t0ken-for-tests"


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings(meta_app_secret=None, meta_verify_token=None, metrics_token=METRICS_TOKEN)


def test_webhooks_before_meta_is_configured(app_url: str) -> None:
    body = b'{"object":"page","entry":[]}'
    posted = httpx.post(f"{app_url}/webhooks/meta", content=body, headers={"x-hub-signature-256": sign(body)})
    assert posted.status_code == 503 and posted.json() == {"result": "not_configured"}
    handshake = httpx.get(
        f"{app_url}/webhooks/meta",
        params={"hub.mode": "subscribe", "hub.verify_token": "x", "hub.challenge": "42"},
    )
    assert handshake.status_code == 503 and handshake.json() == {"result": "not_configured"}


def test_metrics_needs_the_bearer_token(app_url: str) -> None:
    assert httpx.get(f"{app_url}/metrics").status_code == 401
    wrong = httpx.get(f"{app_url}/metrics", headers={"authorization": "Bearer nope"})
    assert wrong.status_code == 401 and wrong.headers["www-authenticate"].startswith("Bearer")
    ok = httpx.get(f"{app_url}/metrics", headers={"authorization": f"Bearer {METRICS_TOKEN}"})
    assert ok.status_code == 200 and "shakyo" in ok.text


def test_a_short_metrics_token_is_one_bilingual_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHAKYO_METRICS_TOKEN", "short")
    with pytest.raises(SettingsError) as exc:
        load_settings()
    message = str(exc.value)
    assert "SHAKYO_METRICS_TOKEN" in message and "\n" not in message.strip()


def test_queue_act_takes_a_bare_comment_id_when_unambiguous(r: redis.Redis) -> None:
    """Point 14: `queue act 555_1001 …` finds facebook:555_1001; an id on both platforms must be named."""
    store = Store(r)
    only = add_flagged(r, comment_id="555_9001")
    assert resolve_item(store, "555_9001") == only
    assert resolve_item(store, only) == only
    add_flagged(r, comment_id="777")
    add_flagged(r, comment_id="777", platform="instagram")
    with pytest.raises(ModerationError, match="facebook:777 または instagram:777"):
        resolve_item(store, "777")
    with pytest.raises(ModerationError, match="見つかりません"):
        resolve_item(store, "nothing")
