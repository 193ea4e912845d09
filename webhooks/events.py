"""The one shape every Meta comment change is parsed into, whatever platform it came from."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, fields
from typing import Any, Literal

Platform = Literal["facebook", "instagram"]
Verb = Literal["add", "edited", "remove", "hide", "unhide"]


@dataclass(frozen=True, slots=True)
class CommentEvent:
    platform: Platform
    account_id: str  # the Page id or Instagram account id the entry was addressed to
    comment_id: str
    verb: Verb
    text: str  # "" for remove/hide without a message
    post_id: str | None = None  # Facebook post_id or Instagram media id
    parent_id: str | None = None  # set for replies
    author_id: str | None = None
    author_name: str | None = None  # Facebook from.name or Instagram from.username
    created_time: float | None = None  # epoch seconds, from the payload when given
    entry_time: float | None = None  # entry.time
    field: str = "feed"  # feed | comments | live_comments
    media_type: str | None = None  # Instagram media_product_type, or Facebook attachment kind
    attachment_url: str | None = None  # Facebook photo/video on the comment
    is_own: bool = False  # written by our own Page / account: stored, never flagged
    # What the parser had to repair, e.g. "text_repaired" (lone surrogates replaced by U+FFFD) or
    # "created_time_replaced" (out of range: the receipt time used); empty for an ordinary delivery.
    notes: tuple[str, ...] = ()
    # How we learnt of it: "webhook" (Meta pushed it) or "sync" (read back from the Graph API by the
    # reconciliation job because no webhook brought it). Not part of the dedup key: one comment, stored once.
    source: str = "webhook"

    def dedup_key(self) -> str:
        """Same platform, comment, verb and text is the same delivery (Meta retries for hours)."""
        raw = "\x1f".join((self.platform, self.comment_id, self.verb, self.text))
        return hashlib.sha256(raw.encode("utf-8")).hexdigest()[:32]

    def to_json(self) -> str:
        # Not dataclasses.asdict: its deep copy is most of the cost, on the webhook's request path.
        return json.dumps(
            {name: getattr(self, name) for name in _FIELD_NAMES}, ensure_ascii=False, separators=(",", ":")
        )

    @classmethod
    def from_json(cls, raw: str | bytes) -> CommentEvent:
        data: dict[str, Any] = json.loads(raw)
        data["notes"] = tuple(data.get("notes") or ())  # a JSON list; entries written before notes had none
        return cls(**data)


_FIELD_NAMES = tuple(f.name for f in fields(CommentEvent))
