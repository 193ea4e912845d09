"""A hostile sender against POST /webhooks/meta, over real HTTP on loopback with a real Redis server.

Every delivery that is well signed and parses as JSON is either stored or answered with a 4xx that says
why; nothing answers 5xx (Meta would resend it, and the valid comments batched with it, for hours), and
nothing reaches uvicorn as an unhandled exception. The hypothesis fuzzer at the end generates signed
bodies of every shape; it is bounded (FUZZ_EXAMPLES) so the suite stays a few seconds.
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from service import keys
from service.settings import Settings
from tests.conftest import TOXIC
from tests.webhooks.payloads import (
    APP_SECRET,
    IG_ACCOUNT_ID,
    PAGE_ID,
    TIME,
    fb_comment,
    fb_payload,
    ig_comment,
    ig_payload,
    sign,
    to_body,
)
from webhooks.events import CommentEvent

FUZZ_EXAMPLES = 300


@pytest.fixture
def client(app_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=app_url, timeout=30) as c:
        yield c


@pytest.fixture
def server_errors(caplog: pytest.LogCaptureFixture) -> Iterator[list[logging.LogRecord]]:
    """ERROR records from uvicorn (an exception no handler caught); the server runs in this process."""
    caplog.set_level(logging.ERROR, logger="uvicorn.error")
    errors: list[logging.LogRecord] = []
    yield errors
    errors.extend(r for r in caplog.records if r.name.startswith("uvicorn") and r.levelno >= logging.ERROR)
    assert not errors, [r.getMessage() for r in errors]


def post(
    client: httpx.Client, body: bytes, *, signature: str | None = "auto", **headers: str
) -> httpx.Response:
    if signature == "auto":
        signature = sign(body)
    if signature is not None:
        headers["X-Hub-Signature-256"] = signature
    return client.post("/webhooks/meta", content=body, headers=headers)


def stream_events(r: redis.Redis) -> list[CommentEvent]:
    return [CommentEvent.from_json(f["event"]) for _id, f in r.xrange(keys.EVENTS)]


# -- defect 2: lone UTF-16 surrogates -------------------------------------------------------------------


def test_lone_surrogates_anywhere_are_repaired_and_the_whole_batch_stored(
    client: httpx.Client, r: redis.Redis, server_errors: list[logging.LogRecord]
) -> None:
    # json.dumps writes a lone surrogate as the escape "\ud800", exactly as a hostile sender would.
    in_text = fb_comment(f"{PAGE_ID}_1_1", "abc\ud800")
    in_name = fb_comment(f"{PAGE_ID}_1_2", "こんにちは", from_name="\udfff名前")
    in_id = fb_comment(f"{PAGE_ID}_1_3\udc00", "ありがとう")
    valid = fb_comment(f"{PAGE_ID}_1_4", "いつもありがとうございます")
    body = to_body(fb_payload(PAGE_ID, [in_text, in_name, in_id, valid]))
    assert b"\\ud800" in body

    resp = post(client, body)

    assert resp.status_code == 200, resp.text
    events = {e.comment_id: e for e in stream_events(r)}
    assert events[f"{PAGE_ID}_1_1"].text == "abc\ufffd"
    assert events[f"{PAGE_ID}_1_1"].notes == ("text_repaired",)
    assert events[f"{PAGE_ID}_1_2"].author_name == "\ufffd名前"
    assert events[f"{PAGE_ID}_1_2"].notes == ("author_name_repaired",)
    assert events[f"{PAGE_ID}_1_3\ufffd"].notes == ("comment_id_repaired",)
    assert events[f"{PAGE_ID}_1_4"].notes == ()
    # Meta's retry of the same delivery is recognised as one (the repaired text has one dedup key).
    assert post(client, body).status_code == 200
    assert r.xlen(keys.EVENTS) == 4


def test_lone_surrogate_in_instagram_text_and_username(client: httpx.Client, r: redis.Redis) -> None:
    body = to_body(ig_payload(IG_ACCOUNT_ID, [ig_comment("17850000000000001", "\ud83d", username="a\udbff")]))
    assert post(client, body).status_code == 200
    (event,) = stream_events(r)
    assert (event.text, event.author_name) == ("\ufffd", "a\ufffd")
    assert event.notes == ("text_repaired", "author_name_repaired")


# -- defect 3: nesting deeper than the decoder recurses -------------------------------------------------


@pytest.mark.parametrize("depth", [2_000, 100_000])
def test_deeply_nested_json_is_400(
    client: httpx.Client, r: redis.Redis, server_errors: list[logging.LogRecord], depth: int
) -> None:
    for body in (
        b'{"object":"page","entry":' + b"[" * depth + b"]" * depth + b"}",
        b'{"a":' * depth + b"1" + b"}" * depth,
    ):
        assert post(client, body).status_code == 400
    assert r.xlen(keys.EVENTS) == 0


# -- defect 4: timestamps out of range ------------------------------------------------------------------


@pytest.mark.parametrize("created_time", [10**17, -1, 10**30, "9999-12-31T23:59:59+0000", 86_400])
def test_created_time_out_of_range_becomes_the_receipt_time(
    client: httpx.Client, r: redis.Redis, created_time: Any
) -> None:
    before = time.time()
    body = to_body(
        fb_payload(PAGE_ID, [fb_comment(f"{PAGE_ID}_1_9", "こんにちは", created_time=created_time)])
    )
    assert post(client, body).status_code == 200
    after = time.time()
    (event,) = stream_events(r)
    if created_time == -1:  # not a time at all: left out, as before
        assert event.created_time is None
        return
    assert event.created_time is not None and before <= event.created_time <= after
    assert event.notes == ("created_time_replaced",)


def test_entry_time_far_in_the_future_becomes_the_receipt_time(client: httpx.Client, r: redis.Redis) -> None:
    body = to_body(fb_payload(PAGE_ID, [fb_comment(f"{PAGE_ID}_1_9", "こんにちは")], time=10**16))
    assert post(client, body).status_code == 200
    (event,) = stream_events(r)
    assert event.entry_time is not None and event.entry_time < time.time() + 1
    assert event.created_time == TIME  # in range: kept
    assert event.notes == ("entry_time_replaced",)


# -- signatures -----------------------------------------------------------------------------------------


def test_signature_variants(client: httpx.Client, r: redis.Redis) -> None:
    body = to_body(fb_payload(PAGE_ID, [fb_comment(f"{PAGE_ID}_1_1", "こんにちは")]))
    good = sign(body)
    hexpart = good.removeprefix("sha256=")
    refused = [
        "sha256=" + hexpart[:-1],  # truncated
        "sha256=" + hexpart[:32],
        "sha256=",
        "sha256",
        "sha256=" + hexpart + "00",  # too long
        "sha256=" + hexpart[:-1] + ("0" if hexpart[-1] != "0" else "1"),  # one digit wrong
        sign(body, APP_SECRET.upper()),  # wrong key
        "sha1=" + hexpart,
        "sha256=" + "g" * 64,
        "sha256=" + hexpart + " x",
        "sha256=" + hexpart + "," + good,
    ]
    for signature in refused:
        assert post(client, body, signature=signature).status_code == 403, signature
    assert r.xlen(keys.EVENTS) == 0
    # Hex is case-insensitive (webhooks.signature): the right digest in upper case is the right digest.
    assert post(client, body, signature="SHA256=" + hexpart.upper()).status_code == 200
    assert r.xlen(keys.EVENTS) == 1


# -- sizes and encodings --------------------------------------------------------------------------------


def raw_post(base: str, body: bytes, headers: dict[str, str]) -> int:
    """POST with exactly these headers over a plain socket; the status code of the answer."""
    host, port = httpx.URL(base).host, httpx.URL(base).port
    head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    request = f"POST /webhooks/meta HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n{head}\r\n".encode()
    with socket.create_connection((host, port), timeout=30) as sock:
        sock.sendall(request)
        # The server may answer and close before reading everything: the answer is still there.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(body)
        answer = sock.makefile("rb").readline()
    return int(answer.split()[1])


def test_body_over_one_mebibyte_with_and_without_content_length(
    app_url: str, client: httpx.Client, r: redis.Redis, settings: Settings
) -> None:
    big = b'{"object":"page","entry":[],"pad":"' + b"x" * settings.max_body_bytes + b'"}'
    assert post(client, big).status_code == 413

    def chunks() -> Iterator[bytes]:  # no Content-Length: chunked transfer encoding
        for i in range(0, len(big), 65_536):
            yield big[i : i + 65_536]

    resp = client.post("/webhooks/meta", content=chunks(), headers={"X-Hub-Signature-256": sign(big)})
    assert resp.status_code == 413
    # httpx refuses to send a lying or malformed Content-Length, so these go over a plain socket.
    small = b'{"object":"page","entry":[]}'
    for declared, body in (
        ("10", big[:70_000]),
        ("-1", small),
        ("1e9", small),
        ("abc", small),
        (str(10**30), small),
    ):
        status = raw_post(app_url, body, {"Content-Length": declared, "X-Hub-Signature-256": sign(body)})
        assert 400 <= status < 500, declared
    assert r.xlen(keys.EVENTS) == 0


def test_invalid_utf8_and_nul_bytes(client: httpx.Client, r: redis.Redis) -> None:
    assert post(client, b'{"object":"page","entry":[{"id":"\xff\xfe"}]}').status_code == 400
    assert post(client, b"\x00" * 64).status_code == 400
    # A NUL inside a JSON string is a character like any other: stored as sent.
    body = to_body(fb_payload(PAGE_ID, [fb_comment(f"{PAGE_ID}_1_1", "a\x00b"), fb_comment("\x00", "c")]))
    assert post(client, body).status_code == 200
    assert sorted(e.text for e in stream_events(r)) == ["a\x00b", "c"]


def test_a_100000_character_comment_is_stored_whole(client: httpx.Client, r: redis.Redis) -> None:
    text = ("死ね" * 50_000)[:100_000]
    body = to_body(fb_payload(PAGE_ID, [fb_comment(f"{PAGE_ID}_1_1", text)]), ascii_only=False)
    assert post(client, body).status_code == 200
    (event,) = stream_events(r)
    assert event.text == text


def test_ten_thousand_changes_in_one_entry_are_all_stored(client: httpx.Client, r: redis.Redis) -> None:
    changes = [
        {"field": "feed", "value": {"item": "comment", "verb": "add", "comment_id": f"1_{i}", "message": "x"}}
        for i in range(10_000)
    ]
    body = to_body({"object": "page", "entry": [{"id": PAGE_ID, "time": TIME, "changes": changes}]})
    assert len(body) < 1024 * 1024
    assert post(client, body).status_code == 200
    assert r.xlen(keys.EVENTS) == 10_000
    assert post(client, body).status_code == 200  # the redelivery: all duplicates
    assert r.xlen(keys.EVENTS) == 10_000


def test_odd_shapes_are_acknowledged_without_storing(client: httpx.Client, r: redis.Redis) -> None:
    for payload in (
        None,
        [],
        [None, 1, "x"],
        {"object": "page", "entry": {"id": PAGE_ID}},
        {"object": "page", "entry": [{"id": {"x": 1}, "changes": []}]},
        {"object": "page", "entry": [{"id": PAGE_ID, "changes": [None, [], {"field": "feed", "value": []}]}]},
        {"object": ["page"]},
        1e308,
        "string",
    ):
        resp = post(client, json.dumps(payload).encode())
        assert resp.status_code == 200, payload
    assert post(client, b"NaN").status_code == 200  # Python's decoder accepts it; it is no object
    assert r.xlen(keys.EVENTS) == 0


# -- the fuzzer -----------------------------------------------------------------------------------------

_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False),
    st.text(max_size=30),  # includes lone surrogates, NULs, any plane
    st.sampled_from(["", PAGE_ID, IG_ACCOUNT_ID, "comment", "feed", "add", "edited", "remove", "hide"]),
)
_json = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=20,
)


@st.composite
def _meta_shaped(draw: st.DrawFn) -> Any:
    """A Facebook or Instagram payload whose values (and sometimes keys) are replaced by anything."""
    value = {
        "item": draw(st.sampled_from(["comment", "reaction", "status"]) | _json),
        "verb": draw(st.sampled_from(["add", "edited", "remove", "hide", "unhide"]) | _json),
        "comment_id": draw(st.sampled_from([f"{PAGE_ID}_1_1", "1"]) | _json),
        "post_id": draw(_json),
        "parent_id": draw(_json),
        "message": draw(st.text() | _json),
        "from": draw(st.fixed_dictionaries({"id": _json, "name": _json}) | _json),
        "created_time": draw(_json),
        "photo": draw(_json),
        "attachment": draw(_json),
    }
    ig_value = {"id": draw(_json), "text": draw(st.text() | _json), "from": draw(_json), "media": draw(_json)}
    facebook = draw(st.booleans())
    change = {
        "field": draw(st.sampled_from(["feed", "comments", "live_comments"]) | _json),
        "value": value if facebook else ig_value,
    }
    entry = {
        "id": draw(st.sampled_from([PAGE_ID if facebook else IG_ACCOUNT_ID]) | _json),
        "time": draw(_json),
        "changes": draw(st.lists(st.just(change) | _json, max_size=3)),
    }
    return {"object": draw(st.sampled_from(["page" if facebook else "instagram"]) | _json), "entry": [entry]}


_bodies = st.one_of(
    _meta_shaped().map(lambda p: json.dumps(p).encode()),
    _meta_shaped().map(lambda p: json.dumps(p, ensure_ascii=False).encode("utf-8", "surrogatepass")),
    _json.map(lambda p: json.dumps(p).encode()),
    st.binary(max_size=200),
)


@settings(
    max_examples=FUZZ_EXAMPLES,
    deadline=None,
    derandomize=True,  # the same cases on every run: CI never fails on a case nobody can reproduce
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(body=_bodies)
def test_fuzz_signed_bodies_never_answer_5xx(
    client: httpx.Client, server_errors: list[logging.LogRecord], body: bytes
) -> None:
    resp = post(client, body)
    assert resp.status_code < 500, (resp.status_code, body[:200])
    assert resp.status_code in (200, 400), resp.status_code
    assert TOXIC not in resp.text  # answers never echo content back
