"""Flare-up (炎上) detection, policy 4(1): many flagged comments on one post in a short time.

The worker calls `FlareDetector.record` for each flagged comment. When the number of distinct flagged
comments on one post within the window reaches the threshold, a flare-up starts: it is kept until a
person acknowledges it (the UI shows a banner on every page meanwhile), written to the audit log and the
history for reports, and announced to an optional outgoing webhook (chat, mail gateway).
"""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import redis
import requests

from service.accounts import audit_by
from service.audit import AuditEntry, AuditLog
from service.hours import JST, as_jst, now_jst

log = logging.getLogger(__name__)

ACTIVE_KEY = "{shakyo}:flare:active"  # hash: post key → flare id
HISTORY_KEY = "{shakyo}:flare:history"  # sorted set: flare id by start time

PLATFORM_JA = {"facebook": "Facebook", "instagram": "Instagram"}


def hits_key(post_key: str) -> str:
    return f"{{shakyo}}:flare:hits:{post_key}"


def flare_key(flare_id: str) -> str:
    return f"{{shakyo}}:flare:{flare_id}"


def post_key(platform: str, post_id: str) -> str:
    return f"{platform}:{post_id}"


@dataclass(frozen=True, slots=True)
class FlareState:
    flare_id: str
    platform: str
    post_id: str
    started_at: datetime
    first_comment_at: datetime  # the oldest flagged comment counted at the start
    comment_count: int  # flagged comments since the window that started it
    threshold: int
    window_seconds: int
    acknowledged_by: str = ""
    acknowledged_at: datetime | None = None
    note: str = ""

    @property
    def post_key(self) -> str:
        return post_key(self.platform, self.post_id)

    @property
    def active(self) -> bool:
        return not self.acknowledged_by

    @property
    def window_minutes(self) -> int:
        return max(1, round(self.window_seconds / 60))

    @property
    def summary_ja(self) -> str:
        """The flare-up's line in the banner, which names the post by platform and time (its raw id means
        nothing to staff; the banner links to the post and its comments instead)."""
        return (
            f"{PLATFORM_JA.get(self.platform, self.platform)}の投稿：{self.started_at:%m月%d日 %H:%M}から、"
            f"{self.window_minutes}分間で{self.threshold}件以上（計{self.comment_count}件）"
        )

    @property
    def message_ja(self) -> str:
        """One line for the webhook and the audit log, read away from the UI, so it carries the post id."""
        return (
            f"【炎上の可能性】{PLATFORM_JA.get(self.platform, self.platform)}の投稿（{self.post_id}）に、"
            f"{self.window_minutes}分間で{self.threshold}件以上の要注意コメントが寄せられています"
            f"（{self.started_at:%m月%d日 %H:%M}から、計{self.comment_count}件）。"
            "課長に報告し、対応を相談してください。"
        )

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["started_at"] = self.started_at.isoformat()
        d["first_comment_at"] = self.first_comment_at.isoformat()
        d["acknowledged_at"] = self.acknowledged_at.isoformat() if self.acknowledged_at else None
        return d


# One script, so that concurrent workers count each comment once and exactly one of them starts a flare-up.
# KEYS: hits sorted set, active hash. ARGV: comment id, t, t - window, window, threshold, post key,
# new flare id, flare key prefix, platform, post id. Returns {started (0/1), count, first score}.
_RECORD_LUA = """
local added = redis.call('ZADD', KEYS[1], 'NX', ARGV[2], ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[3])
redis.call('EXPIRE', KEYS[1], ARGV[4])
local active = redis.call('HGET', KEYS[2], ARGV[6])
if active then
  if added == 1 then redis.call('HINCRBY', ARGV[8] .. active, 'comment_count', 1) end
  return {0, 0, '0'}
end
if added == 0 then return {0, 0, '0'} end
if redis.call('ZCOUNT', KEYS[1], ARGV[3], ARGV[2]) < tonumber(ARGV[5]) then return {0, 0, '0'} end
-- The start counts every comment still in the set, including ones timed after this one (workers race).
local hits = redis.call('ZRANGEBYSCORE', KEYS[1], ARGV[3], '+inf', 'WITHSCORES')
local n = #hits / 2
redis.call('HSET', KEYS[2], ARGV[6], ARGV[7])
redis.call('HSET', ARGV[8] .. ARGV[7], 'flare_id', ARGV[7], 'platform', ARGV[9], 'post_id', ARGV[10],
  'started_at', ARGV[2], 'first_comment_at', hits[2], 'comment_count', n, 'threshold', ARGV[5],
  'window_seconds', ARGV[4])
return {1, n, hits[2]}
"""


class FlareError(Exception):
    def __init__(self, message_ja: str) -> None:
        super().__init__(message_ja)
        self.message_ja = message_ja


class FlareDetector:
    def __init__(
        self,
        r: redis.Redis,
        threshold: int,
        window_seconds: int,
        *,
        webhook_url: str = "",
        webhook_timeout: float = 3.0,
    ) -> None:
        if threshold < 1 or window_seconds < 1:
            raise ValueError("threshold and window_seconds must be positive")
        self._r = r
        self.threshold = threshold
        self.window_seconds = window_seconds
        self.webhook_url = webhook_url
        self.webhook_timeout = webhook_timeout
        self._script = r.register_script(_RECORD_LUA)

    def record(self, platform: str, post_id: str, comment_id: str, at: datetime) -> FlareState | None:
        """Count one flagged comment; the new FlareState when this comment starts a flare-up, else None.

        A comment seen again (edited, redelivered) keeps its first time and is not counted twice.
        """
        started = self.record_many([(platform, post_id, comment_id, at)])
        return started[0] if started else None

    def record_many(self, hits: Sequence[tuple[str, str, str, datetime]]) -> list[FlareState]:
        """Count (platform, post id, comment id, time) of each flagged comment in one round trip, in order;
        the flare-ups they started (rarely any)."""
        pipe = self._r.pipeline(transaction=False)
        prepared: list[tuple[str, str, datetime, float, str, str]] = []
        for platform, post_id, comment_id, at in hits:
            t = as_jst(at).timestamp()
            pk = post_key(platform, post_id)
            flare_id = f"{int(t)}-{secrets.token_hex(4)}"
            self._script(
                keys=[hits_key(pk), ACTIVE_KEY],
                args=[
                    comment_id,
                    repr(t),
                    repr(t - self.window_seconds),
                    self.window_seconds,
                    self.threshold,
                    pk,
                    flare_id,
                    flare_key(""),
                    platform,
                    post_id,
                ],
                client=pipe,
            )
            prepared.append((platform, post_id, at, t, pk, flare_id))
        if not prepared:
            return []
        return [
            self._started(platform, post_id, at, t, pk, flare_id, int(count), float(first))
            for (platform, post_id, at, t, pk, flare_id), (started, count, first) in zip(
                prepared, pipe.execute(), strict=True
            )
            if started
        ]

    def _started(
        self,
        platform: str,
        post_id: str,
        at: datetime,
        t: float,
        pk: str,
        flare_id: str,
        count: int,
        first: float,
    ) -> FlareState:
        """Record and announce a flare-up the counting script has just opened."""
        state = FlareState(
            flare_id=flare_id,
            platform=platform,
            post_id=post_id,
            started_at=as_jst(at),
            first_comment_at=datetime.fromtimestamp(first, JST),
            comment_count=count,
            threshold=self.threshold,
            window_seconds=self.window_seconds,
        )
        pipe = self._r.pipeline(transaction=True)
        pipe.zadd(HISTORY_KEY, {flare_id: t})
        AuditLog(self._r).append(
            AuditEntry(
                at=t,
                actor="system",
                role="system",
                action="flare_started",
                item_id="",
                note=state.message_ja,
                detail=json.dumps({"flare_id": flare_id, "post": pk, "comments": count}),
            ),
            pipe=pipe,
        )
        pipe.execute()
        log.warning("flare-up on %s: %d flagged comments within %ds", pk, count, self.window_seconds)
        self._notify(state)
        return state

    def get(self, flare_id: str) -> FlareState | None:
        data = self._r.hgetall(flare_key(flare_id))
        return _decode(data) if data else None

    def active(self) -> list[FlareState]:
        """Unacknowledged flare-ups, oldest first (the banner on every page)."""
        ids = self._r.hvals(ACTIVE_KEY)
        states = [s for s in (self.get(i) for i in ids) if s is not None]
        return sorted(states, key=lambda s: s.started_at)

    def acknowledge(self, post: str, by: str, *, note: str = "", at: datetime | None = None) -> FlareState:
        """Close the flare-up on `post` (its post key, "<platform>:<post_id>"), recording who and when.

        Counting on that post starts afresh, so a later wave of comments raises a new flare-up.
        """
        when = now_jst(at)

        def close(pipe: redis.client.Pipeline) -> str:
            flare_id = pipe.hget(ACTIVE_KEY, post)
            if flare_id is None:
                raise FlareError("この投稿の炎上対応はすでに完了しているか、見つかりません。")
            pipe.multi()
            pipe.hdel(ACTIVE_KEY, post)
            pipe.delete(hits_key(post))
            pipe.hset(
                flare_key(flare_id),
                mapping={"acknowledged_by": by, "acknowledged_at": repr(when.timestamp()), "note": note},
            )
            detail = json.dumps({"flare_id": flare_id, "post": post})
            audit_by(self._r, pipe, by, "flare_acknowledged", when, note=note, detail=detail)
            return flare_id

        flare_id = self._r.transaction(close, ACTIVE_KEY, value_from_callable=True)
        state = self.get(flare_id)
        assert state is not None  # nosec B101  # narrows the type: written when the flare-up started
        return state

    def history(self, since: datetime, until: datetime) -> list[FlareState]:
        """Flare-ups that started in [since, until), oldest first, for the weekly report."""
        ids = self._r.zrangebyscore(HISTORY_KEY, as_jst(since).timestamp(), f"({as_jst(until).timestamp()}")
        return [s for s in (self.get(i) for i in ids) if s is not None]

    def _notify(self, state: FlareState) -> None:
        """POST the flare-up as JSON to the configured URL; a failure is logged and never stops the worker."""
        if not self.webhook_url:
            return
        payload = {"event": "flare_up", "text": state.message_ja, **state.to_dict()}
        # The URL of a chat webhook is itself a secret: log only its host.
        host = urlsplit(self.webhook_url).hostname or "?"
        try:
            resp = requests.post(self.webhook_url, json=payload, timeout=self.webhook_timeout)
        except requests.RequestException as exc:
            log.warning("flare-up webhook to %s failed: %s", host, type(exc).__name__)
            return
        if not resp.ok:
            log.warning("flare-up webhook to %s answered HTTP %d", host, resp.status_code)


def _decode(d: dict[str, str]) -> FlareState:
    ack_at = d.get("acknowledged_at")
    return FlareState(
        flare_id=d["flare_id"],
        platform=d["platform"],
        post_id=d["post_id"],
        started_at=datetime.fromtimestamp(float(d["started_at"]), JST),
        first_comment_at=datetime.fromtimestamp(float(d["first_comment_at"]), JST),
        comment_count=int(d["comment_count"]),
        threshold=int(d["threshold"]),
        window_seconds=int(d["window_seconds"]),
        acknowledged_by=d.get("acknowledged_by", ""),
        acknowledged_at=datetime.fromtimestamp(float(ack_at), JST) if ack_at else None,
        note=d.get("note", ""),
    )
