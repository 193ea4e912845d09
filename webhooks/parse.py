"""Meta webhook payloads → `CommentEvent`s, with a short reason for everything left out.

Shapes handled (Meta's Webhooks reference for Pages `feed` and Instagram `comments`):

- Facebook: `{"object": "page", "entry": [{"id", "time", "changes": [{"field": "feed", "value": {
  "item": "comment", "verb", "comment_id", "post_id", "parent_id", "message", "from": {"id", "name"},
  "created_time", "photo" | "video"}}]}]}`. Other items on `feed` (reaction, post, status, share…)
  are ignored. A top-level comment carries `parent_id == post_id`; only a reply to another comment
  keeps `parent_id` in the event, so `parent_id is not None` means "this is a reply".
- Instagram: `{"object": "instagram", "entry": [{"id", "time", "changes": [{"field": "comments" |
  "live_comments", "value": {"id", "text", "from": {"id", "username"}, "media": {"id",
  "media_product_type"}, "parent_id"}}]}]}`. Every Instagram comment change is an "add".

Meta's examples show the notification wrapped in a JSON array, so a top-level list of payload
objects is accepted as well. The parser never raises: an odd part is skipped with a reason
(for debug logs), and the rest of the batch is still read. Reasons never contain comment text.

What JSON allows but nothing downstream can store is repaired, and the event says so in `notes`:
a lone UTF-16 surrogate (`"\\ud800"`, which no UTF-8 encoder accepts) becomes U+FFFD, and a time
outside 2004-01-01 … receipt + 1 day (no Facebook comment is older; a later one is a sender's bug)
becomes the receipt time. Refusing the delivery instead would make Meta resend it, valid comments
batched with it included, for hours.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, datetime
from typing import Any, get_args

from webhooks.events import CommentEvent, Verb

_FB_VERBS: frozenset[str] = frozenset(get_args(Verb))
_IG_FIELDS = frozenset({"comments", "live_comments"})
# Epoch values above this are milliseconds (seconds would be past the year 5000).
_MILLISECONDS_FROM = 100_000_000_000
_EARLIEST_TIME = datetime(2004, 1, 1, tzinfo=UTC).timestamp()  # before Facebook existed
_LATEST_AHEAD_SECONDS = 86_400  # clocks disagree, but not by a day
_SURROGATE = re.compile("[\ud800-\udfff]")
_REPLACEMENT = "\ufffd"
_STR_FIELDS = tuple(f.name for f in fields(CommentEvent) if f.name not in ("created_time", "entry_time"))


@dataclass(slots=True)
class ParseResult:
    events: list[CommentEvent] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)


def parse_payload(
    payload: Any,
    *,
    facebook_page_id: str | None,
    instagram_account_id: str | None,
    received_at: float | None = None,
) -> ParseResult:
    """Parse one webhook body (already JSON-decoded). A None id means that platform is not configured.

    `received_at` (epoch seconds, default now) bounds the times in the payload and replaces those out of range.
    """
    result = ParseResult()
    now = time.time() if received_at is None else received_at
    if isinstance(payload, list):
        for index, item in enumerate(payload):
            if isinstance(item, Mapping):
                _parse_object(item, facebook_page_id, instagram_account_id, now, result)
            else:
                result.ignored.append(f"payload[{index}] is not an object")
        if not payload:
            result.ignored.append("payload is an empty list")
        return result
    if not isinstance(payload, Mapping):
        result.ignored.append(f"payload is not an object ({type(payload).__name__})")
        return result
    _parse_object(payload, facebook_page_id, instagram_account_id, now, result)
    return result


def _parse_object(
    payload: Mapping[Any, Any],
    facebook_page_id: str | None,
    instagram_account_id: str | None,
    now: float,
    result: ParseResult,
) -> None:
    kind = payload.get("object")
    if kind == "page":
        platform, configured_id = "facebook", facebook_page_id
    elif kind == "instagram":
        platform, configured_id = "instagram", instagram_account_id
    else:
        result.ignored.append(f"object={_short(kind)}")
        return
    if not configured_id:
        result.ignored.append(f"{platform} is not configured")
        return
    entries = payload.get("entry")
    if not isinstance(entries, list):
        result.ignored.append(f"{platform}: entry is not a list")
        return
    for index, entry in enumerate(entries):
        if not isinstance(entry, Mapping):
            result.ignored.append(f"{platform}: entry[{index}] is not an object")
            continue
        account_id = _id(entry.get("id"))
        if account_id != configured_id:
            noun = "page" if platform == "facebook" else "instagram account"
            result.ignored.append(f"unknown {noun} {_short(entry.get('id'))}")
            continue
        changes = entry.get("changes")
        if not isinstance(changes, list):
            extra = " (messaging)" if "messaging" in entry else ""
            result.ignored.append(f"{platform}: entry[{index}] has no changes{extra}")
            continue
        entry_time, entry_time_replaced = _bounded(_epoch(entry.get("time")), now)
        for change in changes:
            if not isinstance(change, Mapping):
                result.ignored.append(f"{platform}: change is not an object")
                continue
            if platform == "facebook":
                event = _facebook_change(change, account_id, entry_time, result)
            else:
                event = _instagram_change(change, account_id, entry_time, result)
            if event is None:
                continue
            created, created_replaced = _bounded(event.created_time, now)
            notes = ["entry_time_replaced"] if entry_time_replaced else []
            if created_replaced:
                notes.append("created_time_replaced")
            event = _repaired(replace(event, created_time=created), notes)
            result.events.append(event)


def _facebook_change(
    change: Mapping[Any, Any], page_id: str, entry_time: float | None, result: ParseResult
) -> CommentEvent | None:
    field_name = change.get("field")
    if field_name != "feed":
        result.ignored.append(f"field={_short(field_name)}")
        return None
    value = change.get("value")
    if not isinstance(value, Mapping):
        result.ignored.append("facebook: value is not an object")
        return None
    item = value.get("item")
    if item != "comment":
        result.ignored.append(f"item={_short(item)}")
        return None
    verb = value.get("verb")
    if not isinstance(verb, str) or verb not in _FB_VERBS:
        result.ignored.append(f"verb={_short(verb)}")
        return None
    comment_id = _id(value.get("comment_id"))
    if comment_id is None:
        result.ignored.append("facebook: comment without comment_id")
        return None
    text = _text(value.get("message"))
    if text is None:
        result.ignored.append(f"facebook: comment {comment_id} message is not text")
        return None
    post_id = _id(value.get("post_id"))
    parent_id = _id(value.get("parent_id"))
    if parent_id is not None and parent_id == post_id:
        parent_id = None  # Meta sets parent_id to the post for top-level comments
    author_id, author_name = _author(value.get("from"), "name")
    media_type, attachment_url = _facebook_attachment(value)
    return CommentEvent(
        platform="facebook",
        account_id=page_id,
        comment_id=comment_id,
        verb=verb,
        text=text,
        post_id=post_id,
        parent_id=parent_id,
        author_id=author_id,
        author_name=author_name,
        created_time=_epoch(value.get("created_time")),
        entry_time=entry_time,
        field="feed",
        media_type=media_type,
        attachment_url=attachment_url,
        is_own=author_id == page_id,
    )


def _instagram_change(
    change: Mapping[Any, Any], account_id: str, entry_time: float | None, result: ParseResult
) -> CommentEvent | None:
    field_name = change.get("field")
    if not isinstance(field_name, str) or field_name not in _IG_FIELDS:
        result.ignored.append(f"field={_short(field_name)}")
        return None
    value = change.get("value")
    if not isinstance(value, Mapping):
        result.ignored.append("instagram: value is not an object")
        return None
    comment_id = _id(value.get("id"))
    if comment_id is None:
        result.ignored.append("instagram: comment without id")
        return None
    text = _text(value.get("text"))
    if text is None:
        result.ignored.append(f"instagram: comment {comment_id} text is not text")
        return None
    author_id, author_name = _author(value.get("from"), "username")
    media = value.get("media")
    media_id = media_type = None
    if isinstance(media, Mapping):
        media_id = _id(media.get("id"))
        media_type = _str(media.get("media_product_type"))
    return CommentEvent(
        platform="instagram",
        account_id=account_id,
        comment_id=comment_id,
        verb="add",
        text=text,
        post_id=media_id,
        parent_id=_id(value.get("parent_id")),
        author_id=author_id,
        author_name=author_name,
        entry_time=entry_time,
        field=field_name,
        media_type=media_type,
        is_own=author_id == account_id,
    )


def _bounded(seconds: float | None, now: float) -> tuple[float | None, bool]:
    """(time, replaced): a time outside 2004 … now + 1 day becomes `now`, so no formatter meets year 300000."""
    if seconds is None or _EARLIEST_TIME <= seconds <= now + _LATEST_AHEAD_SECONDS:
        return seconds, False
    return now, True


def _repaired(event: CommentEvent, notes: list[str]) -> CommentEvent:
    """The event with lone surrogates replaced in every text field, and `notes` naming what changed."""
    changes: dict[str, Any] = {}
    for name in _STR_FIELDS:
        value = getattr(event, name)
        if isinstance(value, str) and _SURROGATE.search(value):
            changes[name] = _SURROGATE.sub(_REPLACEMENT, value)
            notes.append(f"{name}_repaired")
    if not notes:
        return event
    return replace(event, **changes, notes=tuple(notes))


def _facebook_attachment(value: Mapping[Any, Any]) -> tuple[str | None, str | None]:
    """(kind, url) of a photo/video on the comment: `photo`/`video` URLs, or an `attachment` object."""
    for kind in ("photo", "video"):
        url = _str(value.get(kind))
        if url:
            return kind, url
    attachment = value.get("attachment")
    if isinstance(attachment, Mapping):
        kind = _str(attachment.get("type")) or "attachment"
        url = _str(attachment.get("url"))
        media = attachment.get("media")
        if url is None and isinstance(media, Mapping):
            image = media.get("image")
            if isinstance(image, Mapping):
                url = _str(image.get("src"))
        return kind, url
    return None, None


def _author(raw: Any, name_key: str) -> tuple[str | None, str | None]:
    if not isinstance(raw, Mapping):
        return None, None
    return _id(raw.get("id")), _str(raw.get(name_key))


def _id(raw: Any) -> str | None:
    """Meta ids are numeric strings; accept ints too, refuse bools, floats and empties."""
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        return str(raw)
    if isinstance(raw, str) and raw.strip():
        return raw.strip()
    return None


def _str(raw: Any) -> str | None:
    return raw if isinstance(raw, str) and raw else None


def _text(raw: Any) -> str | None:
    """The comment text: "" when absent (remove/hide), None when present but not a string."""
    if raw is None:
        return ""
    return raw if isinstance(raw, str) else None


def _epoch(raw: Any) -> float | None:
    """Epoch seconds from an int/float (seconds or milliseconds) or an ISO 8601 string; else None."""
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int | float):
        try:
            seconds = float(raw)
        except OverflowError:
            return None
    elif isinstance(raw, str):
        seconds = _iso_or_digits(raw)
        if seconds is None:
            return None
    else:
        return None
    if not math.isfinite(seconds) or seconds < 0:
        return None
    return seconds / 1000 if seconds >= _MILLISECONDS_FROM else seconds


def _iso_or_digits(raw: str) -> float | None:
    text = raw.strip()
    if text.isascii() and text.isdigit():
        try:
            return float(text)
        except OverflowError:
            return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)  # Graph API times are UTC
    try:
        return moment.timestamp()
    except (OverflowError, OSError, ValueError):
        return None


def _short(raw: Any) -> str:
    """A log-safe rendering of an unexpected value: short, one line, containers by type only."""
    if isinstance(raw, Mapping | list):
        return f"<{type(raw).__name__}>"
    text = raw if isinstance(raw, str) else repr(raw)
    text = _SURROGATE.sub(_REPLACEMENT, text.replace("\n", " ").replace("\r", " "))
    return text if len(text) <= 40 else text[:37] + "..."
