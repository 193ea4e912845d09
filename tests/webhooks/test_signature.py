"""X-Hub-Signature-256 verification over the raw body."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest

import webhooks.signature as signature_module
from tests.webhooks.payloads import APP_SECRET, PAGE_ID, fb_comment, fb_payload, sign, to_body
from webhooks.signature import verify_signature

BODY = to_body(fb_payload(PAGE_ID, [fb_comment("5550001_1", "いつもありがとうございます")]))


def test_right_signature_is_accepted() -> None:
    assert verify_signature(BODY, sign(BODY, APP_SECRET), APP_SECRET)


def test_raw_utf8_body_is_signed_over_its_bytes() -> None:
    body = to_body(fb_payload(PAGE_ID, [fb_comment("5550001_1", "こんにちは")]), ascii_only=False)
    assert verify_signature(body, sign(body, APP_SECRET), APP_SECRET)


def test_uppercase_hex_and_surrounding_spaces_are_accepted() -> None:
    digest = hmac.new(APP_SECRET.encode(), BODY, hashlib.sha256).hexdigest().upper()
    assert verify_signature(BODY, f"  sha256={digest} ", APP_SECRET)


@pytest.mark.parametrize("header", [None, ""])
def test_missing_header_is_rejected(header: str | None) -> None:
    assert not verify_signature(BODY, header, APP_SECRET)


def test_signature_made_with_another_secret_is_rejected() -> None:
    assert not verify_signature(BODY, sign(BODY, "someone-elses-secret"), APP_SECRET)


def test_tampered_body_is_rejected() -> None:
    header = sign(BODY, APP_SECRET)
    tampered = BODY.replace(b"5550001_1", b"5550001_9")
    assert not verify_signature(tampered, header, APP_SECRET)


def test_same_json_with_other_spacing_is_rejected() -> None:
    """The check is over the bytes Meta sent, not over a re-serialisation of the JSON."""
    header = sign(BODY, APP_SECRET)
    respaced = json.dumps(json.loads(BODY)).encode("utf-8")
    assert respaced != BODY
    assert not verify_signature(respaced, header, APP_SECRET)


def test_empty_app_secret_never_accepts() -> None:
    assert not verify_signature(BODY, sign(BODY, ""), "")


@pytest.mark.parametrize(
    "header",
    [
        "sha256",
        "sha256=",
        "sha1=" + hashlib.sha1(BODY).hexdigest(),
        "md5=abc",
        "sha256=" + "g" * 64,
        "sha256=" + "a" * 63,
        "sha256=" + "a" * 65,
        "sha256=" + "ａ" * 64,  # full-width letters
        "sha256:" + "a" * 64,
        "SHA256 " + "a" * 64,
        "sha256=\x00" + "a" * 63,
    ],
)
def test_malformed_header_is_rejected(header: str) -> None:
    assert not verify_signature(BODY, header, APP_SECRET)


def test_malformed_variant_of_the_right_digest_is_rejected() -> None:
    """A right digest with a wrong prefix or trailing junk still fails."""
    digest = sign(BODY, APP_SECRET).removeprefix("sha256=")
    assert not verify_signature(BODY, "sha1=" + digest, APP_SECRET)
    assert not verify_signature(BODY, "sha256=" + digest + "00", APP_SECRET)
    assert not verify_signature(BODY, digest, APP_SECRET)


def test_digests_are_compared_with_compare_digest(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[tuple[str, str]] = []
    real = hmac.compare_digest

    def spy(a: str, b: str) -> bool:
        seen.append((a, b))
        return real(a, b)

    monkeypatch.setattr(signature_module.hmac, "compare_digest", spy)
    assert verify_signature(BODY, sign(BODY, APP_SECRET), APP_SECRET)
    assert not verify_signature(BODY, sign(BODY, "other"), APP_SECRET)
    assert len(seen) == 2
