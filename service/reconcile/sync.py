"""One reconciliation pass over the posts of the last `days` days, on both platforms.

For each post (Facebook) or media (Instagram) the comments Meta shows now are compared with the store:
- a comment we do not know goes through the ingest script a webhook uses (`SyncIngestor`: the same dedup key,
  so a comment delivered both ways is stored once), marked `source: sync`, with the Graph node kept as the body
  it arrived in; a hidden one also gets a `hide` event. Each one is counted as missed by webhooks.
- a comment we know that Meta no longer lists becomes a `remove` event (again the webhook's path and dedup key),
  which the worker turns into removed_on_platform;
- a comment staff deleted (or hid) that Meta still shows (or shows unhidden) becomes action_failed with the
  reason (Moderation.still_on_platform).
A post whose comments could not all be read is left alone: a partial list must not look like removals.

Rate limits: every answer's usage headers are read; above 75 % the pass slows down (a pause before the next
call that grows to SLOW_MAX_SECONDS at 100 %), and at 100 %, or on a throttling error, it stops and asks the
job to pause until Meta's `estimated_time_to_regain_access` (at least one interval). An expired token stops
that platform's pass and shows in the token banner (`service.actions.TOKEN_PROBLEM_KEY`), as a failed
delete would.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import redis

from service import keys
from service.actions import TOKEN_PROBLEM_KEY, Tokens
from service.ingest import SyncIngestor
from service.moderation import Moderation
from service.settings import Settings
from service.store import Store, jst_datetime
from webhooks.events import CommentEvent
from webhooks.reading import FoundComment, GraphReader, Post, ReadFailed, Usage

log = logging.getLogger(__name__)

SLOW_FROM_PERCENT = 75
SLOW_MAX_SECONDS = 10.0
POSTS_KEY = keys.TAG + "sync:posts"  # hash: "<platform>:<post id>" -> permalink (for evidence records)
MISSED_INDEX = keys.TAG + "sync:missed"  # zset: item -> when sync found it (the weekly report counts these)
STATS_FIELD = "sync:missed"  # in keys.WORKER_METRICS: the /metrics counter, summed over all processes
_PLATFORM_JA = {"facebook": "Facebook", "instagram": "Instagram"}
_MSG_TOKEN = "アクセストークンが使えないため、Metaとの照合（取りこぼし確認）ができません。管理者がMetaの設定画面でトークンを更新してください。"  # nosec B105  # a message to staff
_MSG_STILL_THERE = {
    "deleted": "削除したはずのコメントがMetaに残っています（{when} の照合で確認）。もう一度削除してください。",
    "hidden": "非表示にしたはずのコメントがMetaで表示されています（{when} の照合で確認）。もう一度非表示にしてください。",
}


class RateLimited(Exception):
    """Meta says to stop: the job pauses for `minutes`."""

    def __init__(self, minutes: int) -> None:
        super().__init__(f"rate limited for {minutes} min")
        self.minutes = minutes


@dataclass(slots=True)
class SyncResult:
    posts: int = 0
    seen: int = 0  # comments Meta listed
    missed: int = 0  # of them, new to us: no webhook had brought them
    removed: int = 0  # known here, gone on Meta
    still_there: int = 0  # deleted/hidden by staff, still showing on Meta
    paused_minutes: int = 0  # > 0: stopped by Meta's rate limits
    errors: list[str] = field(default_factory=list)  # Japanese, one per platform that could not be read

    def summary_ja(self) -> str:
        lines = [
            f"照合した投稿: {self.posts}件、Meta上のコメント: {self.seen}件",
            f"Webhookで届いていなかったコメント: {self.missed}件（取り込みました）",
            f"Meta上で削除済みになっていたコメント: {self.removed}件",
            f"削除・非表示にしたのにMetaに残っていたコメント: {self.still_there}件",
        ]
        if self.paused_minutes:
            lines.append(f"Metaの利用上限に近いため中断しました。{self.paused_minutes}分後に再開します。")
        lines.extend(self.errors)
        return "\n".join(lines)


class Reconciler:
    """One pass (`run`). `sleep` is how it slows down under rate limits (tests pass a recorder)."""

    def __init__(
        self,
        r: redis.Redis,
        settings: Settings,
        reader_for: Callable[[Callable[[Usage], None]], GraphReader],
        *,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._r = r
        self._settings = settings
        self._reader = reader_for(self._pace)
        self._sleep = sleep
        self._store = Store(r)
        self._moderation = Moderation(r)
        self._ingest = SyncIngestor(
            r,
            dedup_ttl_seconds=settings.dedup_ttl_seconds,
            raw_ttl_seconds=settings.retention_days * 86400,
        )
        self._tokens = Tokens.from_settings(settings)

    def run(self, days: int, *, now: float | None = None) -> SyncResult:
        at = time.time() if now is None else now
        since = at - days * 86400
        result = SyncResult()
        known = self._known_by_post(since)
        accounts = (
            ("facebook", self._settings.facebook_page_id),
            ("instagram", self._settings.instagram_account_id),
        )
        for platform, account in accounts:
            token = self._tokens.for_platform(platform)
            if not account or not token:
                continue
            try:
                self._platform(platform, account, token, since, known, result, at)
            except ReadFailed as exc:
                if exc.kind == "token":
                    self._r.hset(TOKEN_PROBLEM_KEY, platform, f"{_PLATFORM_JA[platform]}: {_MSG_TOKEN}")
                elif exc.kind == "rate_limit":
                    result.paused_minutes = max(result.paused_minutes, self._pause_minutes(0))
                    break
                log.warning("sync read failed", extra={"platform": platform, "kind": exc.kind})
                result.errors.append(
                    f"{_PLATFORM_JA[platform]}: Metaから読み取れませんでした（{exc.kind}）。"
                )
            except RateLimited as exc:
                result.paused_minutes = exc.minutes
                break
        log.info(
            "sync pass done",
            extra={
                "posts": result.posts,
                "seen": result.seen,
                "missed": result.missed,
                "removed": result.removed,
                "still_there": result.still_there,
                "paused_minutes": result.paused_minutes,
            },
        )
        return result

    def _platform(
        self,
        platform: str,
        account: str,
        token: str,
        since: float,
        known: dict[tuple[str, str], set[str]],
        result: SyncResult,
        now: float,
    ) -> None:
        if platform == "facebook":
            posts = self._reader.facebook_posts(account, token, since)
        else:
            posts = self._reader.instagram_media(account, token, since)
        for post in posts:
            if platform == "facebook":
                found = self._reader.facebook_comments(post, account, token)
            else:
                found = self._reader.instagram_comments(post, account, token)
            self._settle(post, found, known.get((platform, post.post_id), set()), result, now)
        # A full read went through: the token works (a failed delete may have set the banner earlier).
        self._r.hdel(TOKEN_PROBLEM_KEY, platform)

    def _settle(
        self, post: Post, found: list[FoundComment], known: set[str], result: SyncResult, now: float
    ) -> None:
        result.posts += 1
        result.seen += len(found)
        if post.permalink:
            self._r.hset(POSTS_KEY, f"{post.platform}:{post.post_id}", post.permalink)
        on_meta = {keys.item_id(f.event.platform, f.event.comment_id): f for f in found}
        pipe = self._r.pipeline(transaction=False)
        for item in on_meta:
            pipe.hget(keys.comment(item), "status")
        statuses = dict(zip(on_meta, pipe.execute(), strict=True))
        for item, comment in on_meta.items():
            status = statuses[item]
            if status is None:
                self._take_in(item, comment, result, now)
            elif status == "deleted" or (status == "hidden" and not comment.hidden):
                moment = jst_datetime(now)
                when = moment.strftime("%Y-%m-%d %H:%M") if moment else ""
                if self._moderation.still_on_platform(
                    item, _MSG_STILL_THERE[status].format(when=when), now=now
                ):
                    result.still_there += 1
        for item in known - on_meta.keys():
            stored = self._store.get(item)
            if stored is None or stored.removed_on_platform or stored.status == "deleted":
                continue  # already settled, or our own delete took it (expected to be gone)
            remove = CommentEvent(
                stored.platform,  # type: ignore[arg-type]
                stored.account_id,
                stored.comment_id,
                "remove",
                "",
                post_id=stored.post_id,
                parent_id=stored.parent_id,
                field=stored.field,
                source="sync",
            )
            if self._ingest.ingest([remove], received_at=now).stored:
                result.removed += 1

    def _take_in(self, item: str, found: FoundComment, result: SyncResult, now: float) -> None:
        events = [found.event]
        if found.hidden:
            events.append(
                CommentEvent(
                    found.event.platform,
                    found.event.account_id,
                    found.event.comment_id,
                    "hide",
                    "",
                    post_id=found.event.post_id,
                    parent_id=found.event.parent_id,
                    field=found.event.field,
                    source="sync",
                )
            )
        stored = self._ingest.ingest(events, raw=found.raw, received_at=now)
        if stored.stream_ids[0]:
            # New to the stream: no webhook brought it (one still in the stream would share its dedup key).
            result.missed += 1
            pipe = self._r.pipeline(transaction=False)
            pipe.zadd(MISSED_INDEX, {item: now}, nx=True)
            pipe.hincrby(keys.WORKER_METRICS, STATS_FIELD, 1)
            pipe.execute()
            log.info("sync found a comment webhooks missed", extra={"item_id": item})

    def _known_by_post(self, since: float) -> dict[tuple[str, str], set[str]]:
        """Stored comments received in the period, by (platform, post id): what Meta should still list."""
        out: dict[tuple[str, str], set[str]] = {}
        for comment in self._store.iter_comments(since=since):
            if comment.post_id:
                out.setdefault((comment.platform, comment.post_id), set()).add(comment.item_id)
        return out

    def _pace(self, usage: Usage) -> None:
        """Called after every Graph answer: slow down above 75 %, stop at 100 % (see the module docstring)."""
        if usage.percent >= 100 or usage.regain_minutes > 0:
            raise RateLimited(self._pause_minutes(usage.regain_minutes))
        if usage.percent > SLOW_FROM_PERCENT:
            share = (usage.percent - SLOW_FROM_PERCENT) / (100 - SLOW_FROM_PERCENT)
            self._sleep(SLOW_MAX_SECONDS * share)

    def _pause_minutes(self, regain_minutes: int) -> int:
        return max(regain_minutes, int(self._settings.sync_interval_minutes + 0.999))
