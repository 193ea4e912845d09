"""Reading comments back from the Graph API, for reconciliation (what webhooks did not bring).

Facebook: `GET /{page-id}/posts` (fields id, created_time, permalink_url; `since` bounds the period), then per
post `GET /{post-id}/comments` with `filter=stream` — without it Graph applies its default filtering and leaves
replies out; with it every comment the token may see comes in one flat list, a reply naming its `parent`.
Fields: id, message, from, created_time, parent, is_hidden, attachment.
Instagram: `GET /{ig-user-id}/media` (id, timestamp, permalink, media_product_type; newest first, so reading
stops at the first media older than the period), then per media `GET /{ig-media-id}/comments` with fields id,
text, username, from, timestamp, hidden, parent_id and the nested `replies{…}`; a reply list that has a page
of its own is read on through `GET /{ig-comment-id}/replies`.

Paging is cursor-based: a page's `paging.next` says there is more, and the request is repeated with
`after=paging.cursors.after`; no `next` is the last page (an empty page may still have a `next`). The `next`
URL itself is not followed because it carries the access token, and our requests keep it out of any URL we build.

Every answer's rate-limit headers (`X-App-Usage`: call_count, total_cputime, total_time as percentages;
`X-Business-Use-Case-Usage`: per business id, a list of the same plus `estimated_time_to_regain_access` in
minutes) go to the `pace` callback, which may sleep; a Graph error stops the read with `ReadFailed`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from webhooks.events import CommentEvent, Platform
from webhooks.graph import RATE_LIMIT_CODES, GraphClient, GraphReply

PAGE_LIMIT = "100"  # Graph's usual ceiling per page for these edges
_FB_POST_FIELDS = "id,created_time,permalink_url"
_FB_COMMENT_FIELDS = "id,message,from,created_time,parent{id},is_hidden,attachment"
_IG_MEDIA_FIELDS = "id,timestamp,permalink,media_product_type"
_IG_REPLY_FIELDS = "id,text,username,from,timestamp,hidden,parent_id"
_IG_COMMENT_FIELDS = f"{_IG_REPLY_FIELDS},replies{{{_IG_REPLY_FIELDS}}}"
_TOKEN_CODES = frozenset({102, 190})
_MAX_PAGES = 1000  # a safety stop: a cursor that never ends must not keep a sync running for ever


@dataclass(frozen=True, slots=True)
class Usage:
    """The highest percentage any rate-limit header reports, and Meta's estimate of minutes to regain access."""

    percent: int = 0
    regain_minutes: int = 0


@dataclass(frozen=True, slots=True)
class Post:
    platform: Platform
    post_id: str
    created_time: float | None
    permalink: str


@dataclass(frozen=True, slots=True)
class FoundComment:
    """One comment as Meta shows it now; `raw` is the Graph node it was read from (kept as evidence)."""

    event: CommentEvent  # verb "add", source "sync"
    hidden: bool
    raw: bytes


class ReadFailed(Exception):
    """Graph refused a read; `kind` is token | rate_limit | permission | other."""

    def __init__(self, kind: str, reply: GraphReply) -> None:
        super().__init__(f"graph read failed: {kind} (HTTP {reply.status}, code {reply.code})")
        self.kind = kind
        self.reply = reply


def parse_usage(headers: dict[str, str]) -> Usage:
    """The worst figure in X-App-Usage / X-Business-Use-Case-Usage; unreadable headers count as nothing."""
    percent, regain = 0, 0
    for name, raw in headers.items():
        try:
            data = json.loads(raw)
        except ValueError:
            continue
        entries: list[Any] = []
        if name.lower() == "x-app-usage":
            entries = [data]
        elif isinstance(data, dict):  # business id -> [ {type, call_count, …}, … ]
            for value in data.values():
                entries.extend(value if isinstance(value, list) else [value])
        for entry in entries:
            if not isinstance(entry, dict):
                continue
            for key in ("call_count", "total_cputime", "total_time"):
                value = entry.get(key)
                if isinstance(value, int | float) and not isinstance(value, bool):
                    percent = max(percent, int(value))
            wait = entry.get("estimated_time_to_regain_access")
            if isinstance(wait, int | float) and not isinstance(wait, bool):
                regain = max(regain, int(wait))
    return Usage(percent, regain)


def graph_time(raw: Any) -> float | None:
    """Graph's `2026-12-02T01:21:08+0000` as epoch seconds (None when absent or unreadable)."""
    if not isinstance(raw, str):
        return None
    try:
        return datetime.strptime(raw, "%Y-%m-%dT%H:%M:%S%z").timestamp()
    except ValueError:
        return None


class GraphReader:
    """Lists posts/media and their comments. `base_url`/`proof` serve Instagram Login's own host."""

    def __init__(
        self,
        client: GraphClient,
        *,
        pace: Callable[[Usage], None],
        instagram_base_url: str | None = None,
        instagram_proof: bool = True,
    ) -> None:
        self._client = client
        self._pace = pace
        self._ig_base = instagram_base_url
        self._ig_proof = instagram_proof

    # -- Facebook --------------------------------------------------------------------------------

    def facebook_posts(self, page_id: str, token: str, since: float) -> Iterator[Post]:
        params = {"fields": _FB_POST_FIELDS, "since": str(int(since)), "limit": PAGE_LIMIT}
        for node in self._pages(f"{page_id}/posts", token, params):
            if isinstance(node.get("id"), str):
                created = graph_time(node.get("created_time"))
                yield Post("facebook", node["id"], created, str(node.get("permalink_url") or ""))

    def facebook_comments(self, post: Post, page_id: str, token: str) -> list[FoundComment]:
        params = {"fields": _FB_COMMENT_FIELDS, "filter": "stream", "limit": PAGE_LIMIT}
        found: list[FoundComment] = []
        for node in self._pages(f"{post.post_id}/comments", token, params):
            if not isinstance(node.get("id"), str):
                continue
            author = node.get("from") if isinstance(node.get("from"), dict) else {}
            parent = node.get("parent") if isinstance(node.get("parent"), dict) else {}
            attachment = node.get("attachment") if isinstance(node.get("attachment"), dict) else {}
            media = attachment.get("media") if isinstance(attachment.get("media"), dict) else {}
            image = media.get("image") if isinstance(media.get("image"), dict) else {}
            author_id = _text(author.get("id"))
            event = CommentEvent(
                platform="facebook",
                account_id=page_id,
                comment_id=node["id"],
                verb="add",
                text=_text(node.get("message")) or "",
                post_id=post.post_id,
                parent_id=_text(parent.get("id")),
                author_id=author_id,
                author_name=_text(author.get("name")),
                created_time=graph_time(node.get("created_time")),
                field="feed",
                media_type=_text(attachment.get("type")),
                attachment_url=_text(image.get("src")),
                is_own=author_id == page_id,
                source="sync",
            )
            found.append(FoundComment(event, node.get("is_hidden") is True, _canonical(node)))
        return found

    # -- Instagram -------------------------------------------------------------------------------

    def instagram_media(self, ig_user_id: str, token: str, since: float) -> Iterator[Post]:
        params = {"fields": _IG_MEDIA_FIELDS, "limit": PAGE_LIMIT}
        for node in self._pages(f"{ig_user_id}/media", token, params, instagram=True):
            if not isinstance(node.get("id"), str):
                continue
            created = graph_time(node.get("timestamp"))
            if created is not None and created < since:
                return  # newest first: everything after this is older still
            yield Post("instagram", node["id"], created, str(node.get("permalink") or ""))

    def instagram_comments(self, media: Post, ig_user_id: str, token: str) -> list[FoundComment]:
        params = {"fields": _IG_COMMENT_FIELDS, "limit": PAGE_LIMIT}
        found: list[FoundComment] = []
        for node in self._pages(f"{media.post_id}/comments", token, params, instagram=True):
            if not isinstance(node.get("id"), str):
                continue
            replies = node.get("replies") if isinstance(node.get("replies"), dict) else {}
            top = {k: v for k, v in node.items() if k != "replies"}
            found.append(self._ig_found(top, media, ig_user_id, None))
            for reply in self._nested(node["id"], replies, token):
                found.append(self._ig_found(reply, media, ig_user_id, node["id"]))
        return found

    def _nested(self, comment_id: str, replies: dict[str, Any], token: str) -> Iterator[dict[str, Any]]:
        """The replies embedded in a comment, and the rest of them when the embedded list has a next page."""
        yield from (n for n in _data(replies) if isinstance(n.get("id"), str))
        paging = replies.get("paging") if isinstance(replies.get("paging"), dict) else {}
        after = _after(paging)
        if after:
            params = {"fields": _IG_REPLY_FIELDS, "limit": PAGE_LIMIT, "after": after}
            for node in self._pages(f"{comment_id}/replies", token, params, instagram=True):
                if isinstance(node.get("id"), str):
                    yield node

    def _ig_found(
        self, node: dict[str, Any], media: Post, ig_user_id: str, parent_id: str | None
    ) -> FoundComment:
        author = node.get("from") if isinstance(node.get("from"), dict) else {}
        author_id = _text(author.get("id"))
        event = CommentEvent(
            platform="instagram",
            account_id=ig_user_id,
            comment_id=node["id"],
            verb="add",
            text=_text(node.get("text")) or "",
            post_id=media.post_id,
            parent_id=_text(node.get("parent_id")) or parent_id,
            author_id=author_id,
            author_name=_text(author.get("username")) or _text(node.get("username")),
            created_time=graph_time(node.get("timestamp")),
            field="comments",
            is_own=author_id == ig_user_id,
            source="sync",
        )
        return FoundComment(event, node.get("hidden") is True, _canonical(node))

    # -- paging ----------------------------------------------------------------------------------

    def _pages(
        self, path: str, token: str, params: dict[str, str], *, instagram: bool = False
    ) -> Iterator[dict[str, Any]]:
        """Every node of a cursor-paged edge, page by page (see the module docstring)."""
        query = dict(params)
        for _ in range(_MAX_PAGES):
            reply = self._client.request(
                "GET",
                path,
                token,
                query,
                base_url=self._ig_base if instagram else None,
                proof=self._ig_proof if instagram else True,
            )
            self._pace(parse_usage(reply.usage))
            if not reply.ok:
                raise ReadFailed(_kind(reply), reply)
            body = reply.body if isinstance(reply.body, dict) else {}
            yield from (n for n in _data(body) if isinstance(n, dict))
            paging = body.get("paging") if isinstance(body.get("paging"), dict) else {}
            after = _after(paging)
            if not after:
                return
            query = {**params, "after": after}


def _after(paging: dict[str, Any]) -> str:
    """The cursor for the next page, or "" on the last page (no `next`)."""
    if not paging.get("next"):
        return ""
    cursors = paging.get("cursors") if isinstance(paging.get("cursors"), dict) else {}
    after = cursors.get("after")
    return after if isinstance(after, str) else ""


def _kind(reply: GraphReply) -> str:
    if reply.code in _TOKEN_CODES:
        return "token"
    if reply.code in RATE_LIMIT_CODES or reply.status == 429:
        return "rate_limit"
    if reply.code == 10 or (reply.code is not None and 200 <= reply.code < 300):
        return "permission"
    return "other"


def _data(body: dict[str, Any]) -> list[Any]:
    data = body.get("data")
    return data if isinstance(data, list) else []


def _text(value: Any) -> str | None:
    return (
        str(value) if isinstance(value, str | int) and not isinstance(value, bool) and value != "" else None
    )


def _canonical(node: dict[str, Any]) -> bytes:
    """The node as stable JSON bytes, so the same answer always has the same SHA-256."""
    return json.dumps(node, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")
