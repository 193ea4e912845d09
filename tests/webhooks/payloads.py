"""Builders for Meta-shaped webhook payloads, shared by the webhooks and service tests.

A *change* is one `{"field", "value"}` item; an *entry* groups changes for one Page / account;
a *payload* is the whole POST body. Typical use:

    body = to_body(fb_payload(PAGE_ID, [fb_comment("1_2", "こんにちは")]))
    headers = {"X-Hub-Signature-256": sign(body, APP_SECRET)}

Ids follow Meta's forms: Facebook comment ids "<post>_<comment>", post ids "<page>_<post>",
Instagram ids plain digits. Every builder takes explicit ids so a test can say what it means.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

PAGE_ID = "104200000000001"  # the council's Facebook Page in tests
IG_ACCOUNT_ID = "17841400000000001"  # the council's Instagram professional account in tests
POST_ID = f"{PAGE_ID}_5550001"
MEDIA_ID = "17900000000000001"
APP_SECRET = "test-app-secret"
FB_USER_ID = "7100000000000001"
FB_USER_NAME = "山田 花子"
IG_USER_ID = "6100000000000001"
IG_USERNAME = "hanako_yamada"
TIME = 1_760_000_000  # an entry.time / created_time in epoch seconds (2025-10-09 UTC)


# -- Facebook Page `feed` -------------------------------------------------------------------------


def fb_comment(
    comment_id: str,
    message: str | None = None,
    *,
    verb: str = "add",
    post_id: str | None = None,
    parent_id: str | None = None,
    from_id: str | None = FB_USER_ID,
    from_name: str | None = FB_USER_NAME,
    created_time: int | str | None = TIME,
    photo: str | None = None,
    video: str | None = None,
    page_id: str = PAGE_ID,
) -> dict[str, Any]:
    """A `feed` change for a comment. `message=None` leaves `message` out (as for remove/hide).

    `parent_id=None` means a top-level comment, which Meta sends with `parent_id` = the post id;
    pass another comment's id to build a reply. `post_id` defaults to a post of `page_id`.
    """
    post_id = post_id if post_id is not None else f"{page_id}_5550001"
    value: dict[str, Any] = {
        "item": "comment",
        "verb": verb,
        "comment_id": comment_id,
        "post_id": post_id,
        "parent_id": parent_id if parent_id is not None else post_id,
        "post": {"id": post_id, "status_type": "added_photos", "is_published": True},
    }
    if from_id is not None:
        author: dict[str, Any] = {"id": from_id}
        if from_name is not None:
            author["name"] = from_name
        value["from"] = author
    if message is not None:
        value["message"] = message
    if created_time is not None:
        value["created_time"] = created_time
    if photo is not None:
        value["photo"] = photo
    if video is not None:
        value["video"] = video
    if verb in ("hide", "unhide"):
        value["is_hidden"] = verb == "hide"
    return {"field": "feed", "value": value}


def fb_page_reply(
    comment_id: str,
    message: str,
    *,
    parent_id: str,
    page_id: str = PAGE_ID,
    page_name: str = "美祢市社会福祉協議会",
    post_id: str | None = None,
) -> dict[str, Any]:
    """A reply written by the Page itself (is_own)."""
    return fb_comment(
        comment_id,
        message,
        parent_id=parent_id,
        from_id=page_id,
        from_name=page_name,
        post_id=post_id,
        page_id=page_id,
    )


def fb_reaction(
    post_id: str = POST_ID, *, reaction_type: str = "like", verb: str = "add", from_id: str = FB_USER_ID
) -> dict[str, Any]:
    return {
        "field": "feed",
        "value": {
            "item": "reaction",
            "verb": verb,
            "reaction_type": reaction_type,
            "post_id": post_id,
            "parent_id": post_id,
            "from": {"id": from_id, "name": FB_USER_NAME},
            "created_time": TIME,
        },
    }


def fb_post(
    post_id: str = POST_ID,
    message: str = "今週の行事のお知らせです。",
    *,
    verb: str = "add",
    page_id: str = PAGE_ID,
) -> dict[str, Any]:
    """A Page post (status) on `feed`: not a comment, so the parser ignores it."""
    return {
        "field": "feed",
        "value": {
            "item": "status",
            "verb": verb,
            "post_id": post_id,
            "message": message,
            "published": 1,
            "from": {"id": page_id, "name": "美祢市社会福祉協議会"},
            "created_time": TIME,
        },
    }


def fb_share(post_id: str = POST_ID, *, from_id: str = FB_USER_ID) -> dict[str, Any]:
    return {
        "field": "feed",
        "value": {
            "item": "share",
            "verb": "add",
            "post_id": post_id,
            "share_id": "5550099",
            "link": "https://example.org/news/1",
            "from": {"id": from_id, "name": FB_USER_NAME},
            "created_time": TIME,
        },
    }


def fb_entry(changes: list[dict[str, Any]], *, page_id: str = PAGE_ID, time: int = TIME) -> dict[str, Any]:
    return {"id": page_id, "time": time, "changes": changes}


def fb_payload(
    page_id: str,
    changes: list[dict[str, Any]],
    *,
    time: int = TIME,
    extra_entries: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A Page webhook body: one entry for `page_id` with `changes`, plus any `extra_entries`."""
    return {
        "object": "page",
        "entry": [fb_entry(changes, page_id=page_id, time=time), *(extra_entries or [])],
    }


# -- Instagram `comments` / `live_comments` -------------------------------------------------------


def ig_comment(
    comment_id: str,
    text: str,
    *,
    from_id: str = IG_USER_ID,
    username: str = IG_USERNAME,
    media_id: str = MEDIA_ID,
    media_product_type: str = "FEED",
    parent_id: str | None = None,
    field: str = "comments",
) -> dict[str, Any]:
    """An Instagram comment change; `field="live_comments"` for comments on a live video."""
    value: dict[str, Any] = {
        "from": {"id": from_id, "username": username},
        "media": {"id": media_id, "media_product_type": media_product_type},
        "id": comment_id,
        "text": text,
    }
    if parent_id is not None:
        value["parent_id"] = parent_id
    return {"field": field, "value": value}


def ig_mention(comment_id: str, media_id: str = MEDIA_ID) -> dict[str, Any]:
    """An @mention change: not a comment on our media, so the parser ignores it."""
    return {"field": "mentions", "value": {"comment_id": comment_id, "media_id": media_id}}


def ig_entry(
    changes: list[dict[str, Any]], *, account_id: str = IG_ACCOUNT_ID, time: int = TIME
) -> dict[str, Any]:
    return {"id": account_id, "time": time, "changes": changes}


def ig_payload(
    account_id: str,
    changes: list[dict[str, Any]],
    *,
    time: int = TIME,
    extra_entries: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """An Instagram webhook body: one entry for `account_id` with `changes`, plus any `extra_entries`."""
    return {
        "object": "instagram",
        "entry": [ig_entry(changes, account_id=account_id, time=time), *(extra_entries or [])],
    }


# -- bodies and signatures ------------------------------------------------------------------------


def to_body(payload: Any, *, ascii_only: bool = True) -> bytes:
    """The raw POST body. Meta escapes non-ASCII as \\uXXXX; `ascii_only=False` sends raw UTF-8."""
    return json.dumps(payload, ensure_ascii=ascii_only, separators=(",", ":")).encode("utf-8")


def sign(body: bytes, secret: str = APP_SECRET) -> str:
    """The `X-Hub-Signature-256` header value for `body`."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
