"""The hub.* GET handshake."""

from __future__ import annotations

import pytest

from webhooks.subscription import verify_subscription

TOKEN = "shakyo-verify-7f3a"


def params(**overrides: str) -> dict[str, str]:
    base = {"hub.mode": "subscribe", "hub.verify_token": TOKEN, "hub.challenge": "1158201444"}
    base.update({f"hub.{key}": value for key, value in overrides.items()})
    return base


def test_matching_token_echoes_the_challenge() -> None:
    assert verify_subscription(params(), TOKEN) == "1158201444"


def test_wrong_token_is_refused() -> None:
    assert verify_subscription(params(verify_token="guess"), TOKEN) is None


def test_token_differing_only_in_case_is_refused() -> None:
    assert verify_subscription(params(verify_token=TOKEN.upper()), TOKEN) is None


def test_other_mode_is_refused() -> None:
    assert verify_subscription(params(mode="unsubscribe"), TOKEN) is None


@pytest.mark.parametrize("missing", ["hub.mode", "hub.verify_token", "hub.challenge"])
def test_missing_parameter_is_refused(missing: str) -> None:
    query = params()
    del query[missing]
    assert verify_subscription(query, TOKEN) is None


def test_unconfigured_token_refuses_everything() -> None:
    assert verify_subscription(params(verify_token=""), "") is None


def test_non_ascii_token_is_compared_safely() -> None:
    assert verify_subscription(params(verify_token="社協トークン"), "社協トークン") == "1158201444"
    assert verify_subscription(params(verify_token="社協トークン"), TOKEN) is None


@pytest.mark.parametrize(
    "challenge", ["", "<script>alert(1)</script>", "a b", "x" * 257, "1\r\nSet-Cookie: a=b"]
)
def test_challenge_that_is_not_a_short_plain_token_is_not_echoed(challenge: str) -> None:
    assert verify_subscription(params(challenge=challenge), TOKEN) is None


def test_plain_text_challenge_is_echoed() -> None:
    assert verify_subscription(params(challenge="abc-DEF_123.x"), TOKEN) == "abc-DEF_123.x"
