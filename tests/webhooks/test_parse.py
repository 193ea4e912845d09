"""Meta webhook payloads → CommentEvent, with reasons for what is ignored."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.webhooks.payloads import (
    FB_USER_ID,
    FB_USER_NAME,
    IG_ACCOUNT_ID,
    IG_USER_ID,
    IG_USERNAME,
    MEDIA_ID,
    PAGE_ID,
    POST_ID,
    TIME,
    fb_comment,
    fb_entry,
    fb_page_reply,
    fb_payload,
    fb_post,
    fb_reaction,
    fb_share,
    ig_comment,
    ig_entry,
    ig_mention,
    ig_payload,
)
from webhooks.events import CommentEvent
from webhooks.parse import ParseResult, parse_payload


def parse(payload: Any, *, fb: str | None = PAGE_ID, ig: str | None = IG_ACCOUNT_ID) -> ParseResult:
    return parse_payload(payload, facebook_page_id=fb, instagram_account_id=ig)


def only_event(result: ParseResult) -> CommentEvent:
    assert result.ignored == []
    assert len(result.events) == 1
    return result.events[0]


# -- Facebook -------------------------------------------------------------------------------------


def test_facebook_comment_add_fills_every_field() -> None:
    event = only_event(parse(fb_payload(PAGE_ID, [fb_comment("5550001_1", "講座の申込はどこですか？")])))
    assert event == CommentEvent(
        platform="facebook",
        account_id=PAGE_ID,
        comment_id="5550001_1",
        verb="add",
        text="講座の申込はどこですか？",
        post_id=POST_ID,
        parent_id=None,
        author_id=FB_USER_ID,
        author_name=FB_USER_NAME,
        created_time=float(TIME),
        entry_time=float(TIME),
        field="feed",
        media_type=None,
        attachment_url=None,
        is_own=False,
    )


def test_facebook_top_level_comment_has_parent_equal_to_post_and_parses_as_no_parent() -> None:
    change = fb_comment("5550001_1", "こんにちは")
    assert change["value"]["parent_id"] == change["value"]["post_id"]
    assert only_event(parse(fb_payload(PAGE_ID, [change]))).parent_id is None


def test_facebook_reply_keeps_its_parent_comment() -> None:
    event = only_event(
        parse(fb_payload(PAGE_ID, [fb_comment("5550001_2", "同感です", parent_id="5550001_1")]))
    )
    assert event.parent_id == "5550001_1"
    assert event.post_id == POST_ID


def test_facebook_edited_carries_the_new_message() -> None:
    event = only_event(parse(fb_payload(PAGE_ID, [fb_comment("5550001_1", "訂正しました", verb="edited")])))
    assert (event.verb, event.text) == ("edited", "訂正しました")


@pytest.mark.parametrize("verb", ["remove", "hide", "unhide"])
def test_facebook_verbs_without_message_have_empty_text(verb: str) -> None:
    event = only_event(parse(fb_payload(PAGE_ID, [fb_comment("5550001_1", None, verb=verb)])))
    assert (event.verb, event.text) == (verb, "")


def test_facebook_remove_without_author_still_parses() -> None:
    change = fb_comment("5550001_1", None, verb="remove", from_id=None, created_time=None)
    event = only_event(parse(fb_payload(PAGE_ID, [change])))
    assert (event.verb, event.author_id, event.author_name, event.created_time) == (
        "remove",
        None,
        None,
        None,
    )


def test_facebook_photo_comment_records_the_attachment() -> None:
    url = "https://scontent.example/photo/1.jpg"
    event = only_event(parse(fb_payload(PAGE_ID, [fb_comment("5550001_1", "写真です", photo=url)])))
    assert (event.media_type, event.attachment_url) == ("photo", url)


def test_facebook_video_comment_without_text_records_the_attachment() -> None:
    url = "https://video.example/v/1.mp4"
    event = only_event(parse(fb_payload(PAGE_ID, [fb_comment("5550001_1", None, video=url)])))
    assert (event.text, event.media_type, event.attachment_url) == ("", "video", url)


def test_facebook_attachment_object_shape_is_understood() -> None:
    change = fb_comment("5550001_1", "")
    change["value"]["attachment"] = {
        "type": "sticker",
        "media": {"image": {"src": "https://scontent.example/sticker.png", "width": 240}},
    }
    event = only_event(parse(fb_payload(PAGE_ID, [change])))
    assert (event.media_type, event.attachment_url) == ("sticker", "https://scontent.example/sticker.png")


def test_facebook_comment_by_the_page_itself_is_own() -> None:
    event = only_event(
        parse(fb_payload(PAGE_ID, [fb_page_reply("5550001_3", "ご連絡ください", parent_id="5550001_1")]))
    )
    assert event.is_own
    assert event.author_id == PAGE_ID
    assert event.parent_id == "5550001_1"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (1_760_000_000, 1_760_000_000.0),
        (1_760_000_000_123, 1_760_000_000.123),  # milliseconds
        ("2025-10-09T08:53:20+0000", 1_760_000_000.0),  # Graph's ISO form
        ("2025-10-09T17:53:20+09:00", 1_760_000_000.0),
        ("2025-10-09T08:53:20Z", 1_760_000_000.0),
        ("2025-10-09T08:53:20", 1_760_000_000.0),  # naive means UTC
        ("1760000000", 1_760_000_000.0),
        ("yesterday", None),
        ("１７６００００００", None),  # full-width digits are not a time
        (True, None),
        (-5, None),
        (10**400, None),
        ([], None),
    ],
)
def test_facebook_created_time_forms(raw: Any, expected: float | None) -> None:
    event = only_event(parse(fb_payload(PAGE_ID, [fb_comment("5550001_1", "a", created_time=raw)])))
    assert event.created_time == (pytest.approx(expected) if expected is not None else None)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (fb_reaction(), "item=reaction"),
        (fb_post(), "item=status"),
        (fb_share(), "item=share"),
        ({"field": "mention", "value": {"post_id": POST_ID}}, "field=mention"),
        ({"field": "ratings", "value": {}}, "field=ratings"),
        (fb_comment("5550001_1", "x", verb="block"), "verb=block"),
    ],
)
def test_facebook_non_comment_changes_are_ignored_with_a_reason(change: dict[str, Any], reason: str) -> None:
    result = parse(fb_payload(PAGE_ID, [change]))
    assert result.events == []
    assert result.ignored == [reason]


def test_facebook_entry_for_another_page_is_ignored() -> None:
    result = parse(fb_payload("999000111", [fb_comment("5550001_1", "x", page_id="999000111")]))
    assert result.events == []
    assert result.ignored == ["unknown page 999000111"]


def test_facebook_not_configured_ignores_page_payloads() -> None:
    result = parse(fb_payload(PAGE_ID, [fb_comment("5550001_1", "x")]), fb=None)
    assert result.events == []
    assert result.ignored == ["facebook is not configured"]


def test_messaging_entry_is_ignored() -> None:
    payload = {"object": "page", "entry": [{"id": PAGE_ID, "time": TIME, "messaging": [{"message": {}}]}]}
    assert parse(payload).ignored == ["facebook: entry[0] has no changes (messaging)"]


def test_integer_ids_are_read_as_strings() -> None:
    change = fb_comment("5550001_1", "x")
    change["value"]["from"]["id"] = int(FB_USER_ID)
    payload = {"object": "page", "entry": [{"id": int(PAGE_ID), "time": TIME, "changes": [change]}]}
    event = only_event(parse(payload))
    assert (event.account_id, event.author_id) == (PAGE_ID, FB_USER_ID)


# -- Instagram ------------------------------------------------------------------------------------


def test_instagram_comment_fills_every_field() -> None:
    event = only_event(
        parse(ig_payload(IG_ACCOUNT_ID, [ig_comment("17850000000000001", "素敵な活動ですね")]))
    )
    assert event == CommentEvent(
        platform="instagram",
        account_id=IG_ACCOUNT_ID,
        comment_id="17850000000000001",
        verb="add",
        text="素敵な活動ですね",
        post_id=MEDIA_ID,
        parent_id=None,
        author_id=IG_USER_ID,
        author_name=IG_USERNAME,
        created_time=None,
        entry_time=float(TIME),
        field="comments",
        media_type="FEED",
        attachment_url=None,
        is_own=False,
    )


def test_instagram_reply_and_reel() -> None:
    change = ig_comment(
        "17850000000000002", "ありがとう", parent_id="17850000000000001", media_product_type="REELS"
    )
    event = only_event(parse(ig_payload(IG_ACCOUNT_ID, [change])))
    assert (event.parent_id, event.media_type) == ("17850000000000001", "REELS")


def test_instagram_live_comment_keeps_its_field() -> None:
    change = ig_comment("17850000000000003", "見てます", field="live_comments", media_product_type="LIVE")
    event = only_event(parse(ig_payload(IG_ACCOUNT_ID, [change])))
    assert (event.field, event.media_type, event.verb) == ("live_comments", "LIVE", "add")


def test_instagram_comment_by_our_account_is_own() -> None:
    change = ig_comment(
        "17850000000000004", "ご参加ありがとうございました", from_id=IG_ACCOUNT_ID, username="mine_shakyo"
    )
    assert only_event(parse(ig_payload(IG_ACCOUNT_ID, [change]))).is_own


def test_instagram_mentions_and_other_accounts_are_ignored() -> None:
    payload = ig_payload(
        IG_ACCOUNT_ID,
        [ig_mention("17850000000000005")],
        extra_entries=[ig_entry([ig_comment("1785000000000000", "x")], account_id="17841499999999999")],
    )
    result = parse(payload)
    assert result.events == []
    assert result.ignored == ["field=mentions", "unknown instagram account 17841499999999999"]


def test_instagram_not_configured_ignores_instagram_payloads() -> None:
    result = parse(ig_payload(IG_ACCOUNT_ID, [ig_comment("17850000000000001", "x")]), ig=None)
    assert (result.events, result.ignored) == ([], ["instagram is not configured"])


def test_instagram_comment_without_text_field_has_empty_text() -> None:
    change = ig_comment("17850000000000006", "x")
    del change["value"]["text"]
    assert only_event(parse(ig_payload(IG_ACCOUNT_ID, [change]))).text == ""


# -- batches --------------------------------------------------------------------------------------


def test_multi_entry_multi_change_batch_keeps_order_and_skips_only_the_odd_parts() -> None:
    payload = fb_payload(
        PAGE_ID,
        [
            fb_comment("5550001_1", "一つ目"),
            fb_reaction(),
            fb_comment("5550001_2", "二つ目", parent_id="5550001_1"),
        ],
        extra_entries=[
            fb_entry([fb_comment("5550002_1", "別の投稿へ", post_id=f"{PAGE_ID}_5550002")], time=TIME + 5),
            fb_entry([fb_comment("8880001_1", "他のページ")], page_id="888"),
            fb_entry([fb_comment("5550001_1", None, verb="remove"), fb_share()]),
        ],
    )
    result = parse(payload)
    assert [(e.comment_id, e.verb) for e in result.events] == [
        ("5550001_1", "add"),
        ("5550001_2", "add"),
        ("5550002_1", "add"),
        ("5550001_1", "remove"),
    ]
    assert result.events[2].entry_time == float(TIME + 5)
    assert result.ignored == ["item=reaction", "unknown page 888", "item=share"]


def test_top_level_list_of_payloads_is_read() -> None:
    payload = [
        fb_payload(PAGE_ID, [fb_comment("5550001_1", "a")]),
        ig_payload(IG_ACCOUNT_ID, [ig_comment("17850000000000001", "b")]),
        "noise",
    ]
    result = parse(payload)
    assert [e.platform for e in result.events] == ["facebook", "instagram"]
    assert result.ignored == ["payload[2] is not an object"]


# -- malformed input ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        ("not json object", "payload is not an object (str)"),
        (None, "payload is not an object (NoneType)"),
        (42, "payload is not an object (int)"),
        ([], "payload is an empty list"),
        ({}, "object=None"),
        ({"object": "user", "entry": []}, "object=user"),
        ({"object": {"nested": 1}}, "object=<dict>"),
        ({"object": "page"}, "facebook: entry is not a list"),
        ({"object": "page", "entry": {"id": PAGE_ID}}, "facebook: entry is not a list"),
        ({"object": "page", "entry": ["x"]}, "facebook: entry[0] is not an object"),
        ({"object": "page", "entry": [{"id": PAGE_ID}]}, "facebook: entry[0] has no changes"),
        ({"object": "page", "entry": [{"id": PAGE_ID, "changes": [7]}]}, "facebook: change is not an object"),
        (
            {"object": "page", "entry": [{"id": PAGE_ID, "changes": [{"field": "feed"}]}]},
            "facebook: value is not an object",
        ),
        (
            {
                "object": "instagram",
                "entry": [{"id": IG_ACCOUNT_ID, "changes": [{"field": "comments", "value": []}]}],
            },
            "instagram: value is not an object",
        ),
        ({"object": "page", "entry": [{"changes": []}]}, "unknown page None"),
        # unhashable values where a name is expected (found by the fuzz test below)
        (
            {"object": "instagram", "entry": [{"id": IG_ACCOUNT_ID, "changes": [{"field": ["comments"]}]}]},
            "field=<list>",
        ),
        (
            fb_payload(PAGE_ID, [{"field": "feed", "value": {"item": "comment", "verb": {"a": 1}}}]),
            "verb=<dict>",
        ),
    ],
)
def test_malformed_shapes_become_reasons(payload: Any, reason: str) -> None:
    result = parse(payload)
    assert result.events == []
    assert result.ignored == [reason]


def test_comment_without_id_or_with_non_text_message_is_ignored() -> None:
    no_id = fb_comment("5550001_1", "x")
    del no_id["value"]["comment_id"]
    bad_text = fb_comment("5550001_2", "x")
    bad_text["value"]["message"] = {"text": "x"}
    ig_no_id = ig_comment("1", "x")
    ig_no_id["value"]["id"] = True
    result = parse(fb_payload(PAGE_ID, [no_id, bad_text]))
    assert result.events == []
    assert result.ignored == [
        "facebook: comment without comment_id",
        "facebook: comment 5550001_2 message is not text",
    ]
    ig_result = parse(ig_payload(IG_ACCOUNT_ID, [ig_no_id]))
    assert ig_result.ignored == ["instagram: comment without id"]


def test_odd_author_and_media_shapes_leave_fields_empty() -> None:
    change = ig_comment("17850000000000001", "x")
    change["value"]["from"] = "someone"
    change["value"]["media"] = ["17900000000000001"]
    event = only_event(parse(ig_payload(IG_ACCOUNT_ID, [change])))
    assert (event.author_id, event.author_name, event.post_id, event.media_type) == (None, None, None, None)
    assert not event.is_own


def test_reasons_never_contain_comment_text() -> None:
    secret_text = "電話番号は090-1234-5678です"
    reaction_with_text = fb_reaction()
    reaction_with_text["value"]["message"] = secret_text
    payload = fb_payload(
        PAGE_ID,
        [fb_comment("5550001_1", secret_text, verb="block"), reaction_with_text],
        extra_entries=[fb_entry([fb_comment("5550001_3", secret_text)], page_id="888")],
    )
    result = parse(payload)
    assert result.ignored == ["verb=block", "item=reaction", "unknown page 888"]
    assert parse(payload, fb=None).ignored == ["facebook is not configured"]


def test_echoed_values_are_cut_short_and_kept_on_one_line() -> None:
    result = parse(fb_payload(PAGE_ID, [fb_comment("5550001_1", "x", verb="v\n" + "w" * 200)]))
    (reason,) = result.ignored
    assert reason.startswith("verb=v w")
    assert reason.endswith("...")
    assert len(reason) == len("verb=") + 40
    assert "\n" not in reason


# -- never raises ---------------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=25,
)
ids = st.one_of(st.just(PAGE_ID), st.just(IG_ACCOUNT_ID), st.integers(), st.text(max_size=8), st.none())
leaf = json_values | ids


@st.composite
def meta_like(draw: st.DrawFn) -> Any:
    """Payloads with Meta's skeleton, mostly-right routing and arbitrary values in the slots.

    Routing (object, entry id, field, item, verb) is right most of the time so the examples reach
    the comment-level branches; every other slot gets arbitrary JSON.
    """

    def mostly(right: st.SearchStrategy[Any]) -> Any:
        return draw(right) if draw(st.integers(0, 4)) else draw(leaf)

    kind = draw(st.sampled_from(["page", "instagram"]))
    account = PAGE_ID if kind == "page" else IG_ACCOUNT_ID
    right_field = st.just("feed") if kind == "page" else st.sampled_from(["comments", "live_comments"])
    slots = ("comment_id", "post_id", "parent_id", "message", "created_time", "photo", "video", "attachment")
    slots += ("id", "text", "from", "media")
    value = draw(st.fixed_dictionaries({}, optional={key: leaf for key in slots}))
    if draw(st.integers(0, 3)):
        value["item"] = "comment"
        value["verb"] = draw(st.sampled_from(["add", "edited", "remove", "hide", "unhide"]))
        value["comment_id" if kind == "page" else "id"] = draw(st.from_regex(r"[0-9_]{1,12}", fullmatch=True))
    changes = [{"field": mostly(right_field), "value": value} for _ in range(draw(st.integers(1, 3)))]
    entries = [
        {"id": mostly(st.just(account)), "time": draw(leaf), "changes": changes}
        if draw(st.integers(0, 4))
        else draw(leaf)
        for _ in range(draw(st.integers(1, 3)))
    ]
    return {"object": mostly(st.just(kind)), "entry": entries}


def check_never_raises(payload: Any) -> None:
    result = parse(payload)
    assert isinstance(result, ParseResult)
    assert all(isinstance(reason, str) for reason in result.ignored)
    for event in result.events:
        assert CommentEvent.from_json(event.to_json()) == event


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(json_values)
def test_arbitrary_json_never_raises(payload: Any) -> None:
    check_never_raises(payload)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(meta_like())
def test_meta_shaped_noise_never_raises(payload: Any) -> None:
    check_never_raises(payload)
