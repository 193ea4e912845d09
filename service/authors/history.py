"""One author's flagged comments, read from the author index service.moderation keeps
(`{shakyo}:author:<platform>:<author id>`, written by `Moderation.index_author` after each flag).

Meta gives a person different ids on Facebook (a Page-scoped id) and Instagram (an Instagram-scoped id), so
an author is one id on one platform; nothing links the two.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass

import redis

from service import keys
from service.moderation import Moderation, ModerationError, author_key
from service.store import PENDING, Comment

REPEAT_DAYS = 90
REPEAT_COUNT = 3  # removed comments within REPEAT_DAYS that earn the queue's 常習 mark
REMOVED = ("deleted", "hidden")  # staff removed it from view
_MAX_LISTED = 500


@dataclass(frozen=True, slots=True)
class AuthorHistory:
    platform: str
    author_id: str
    author_name: str
    comments: list[Comment]  # newest first
    first_seen: float
    last_seen: float
    counts: Counter[str]  # status -> how many

    @property
    def pending(self) -> list[Comment]:
        return [c for c in self.comments if c.status == PENDING]


def load(r: redis.Redis, platform: str, author_id: str) -> AuthorHistory | None:
    """The author's flagged comments (at most _MAX_LISTED, newest first); None when none are indexed."""
    key = author_key(platform, author_id)
    scored = r.zrevrange(key, 0, _MAX_LISTED - 1, withscores=True)
    if not scored:
        return None
    store = Moderation(r).store
    comments = [c for c in (store.get(item) for item, _ in scored) if c is not None]
    oldest = r.zrange(key, 0, 0, withscores=True)
    return AuthorHistory(
        platform=platform,
        author_id=author_id,
        author_name=next((c.author_name for c in comments if c.author_name), ""),
        comments=comments,
        first_seen=float(oldest[0][1]),
        last_seen=float(scored[0][1]),
        counts=Counter(c.status for c in comments),
    )


def hide_pending(
    moderation: Moderation, history: AuthorHistory, *, actor: str, role: str, note: str = ""
) -> tuple[int, int]:
    """「この投稿者の未対応コメントをまとめて非表示」: one audited staff decision per pending comment, each on the
    durable action stream like a click on its page; returns (done, refused)."""
    done = refused = 0
    for comment in history.pending:
        try:
            moderation.decide(comment.item_id, "hide", actor=actor, role=role, note=note)
            done += 1
        except ModerationError:  # moved on meanwhile (in flight, decided): counted as the queue's bulk does
            refused += 1
    return done, refused


def repeat_offenders(r: redis.Redis, comments: list[Comment], *, now: float | None = None) -> set[str]:
    """ "<platform>:<author id>" of the listed comments' authors with REPEAT_COUNT or more comments removed by
    staff (deleted or hidden) among those received in the last REPEAT_DAYS days."""
    since = (time.time() if now is None else now) - REPEAT_DAYS * 86400
    authors = sorted({(c.platform, c.author_id) for c in comments if c.author_id})
    if not authors:
        return set()
    pipe = r.pipeline(transaction=False)
    for platform, author in authors:
        pipe.zrangebyscore(author_key(platform, author), since, "+inf")
    recent = pipe.execute()
    pipe = r.pipeline(transaction=False)
    for items in recent:
        for item in items:
            pipe.hget(keys.comment(item), "status")
    statuses = iter(pipe.execute())
    marked: set[str] = set()
    for (platform, author), items in zip(authors, recent, strict=True):
        removed = sum(1 for _ in items if next(statuses) in REMOVED)
        if removed >= REPEAT_COUNT:
            marked.add(f"{platform}:{author}")
    return marked
