"""The action worker: executes queued delete/hide/unhide requests against the Graph API.

Requests are written to the stream `{shakyo}:actions` by service.moderation in the same transaction
as the staff decision, so a click survives a crash or restart. The consumer group `actors` shares
them between workers; an entry a crashed worker left unacknowledged is claimed by another once idle
for `claim_idle_seconds`.

Idempotency: the item's mod record names the one request in flight. An entry whose request is no
longer in flight (already completed, then redelivered) is acknowledged without calling Meta, and a
request for something Meta already confirmed (deleted, or hidden/shown as asked) completes without a
call. The outcome and the XACK are one transaction (Moderation.complete), so an outcome is recorded
exactly once. The single window left is a crash after Meta answered and before that transaction:
the entry is then retried, which repeats a call Meta treats as idempotent (a second delete answers
"does not exist", which counts as done; hiding twice leaves it hidden).

Replies (action "reply") are not idempotent on Meta's side; service.support.replies keeps one record per
request (sent once, read back before any second try, one worker at a time) and webhooks.graph posts it.

An expired or revoked token (or a missing one) sets `{shakyo}:graph:token_problem` (platform →
Japanese message), which /readyz reports as degraded and every page shows as a banner; the next
successful call for that platform clears it.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from dataclasses import dataclass

import redis

from service.moderation import ACTIONS_STREAM, ActionRequest, Moderation
from service.settings import Settings
from service.store import Comment
from service.streams import GroupReader
from service.support.replies import Replies, ReplyRecord
from webhooks.graph import ActionResult, GraphClient

log = logging.getLogger(__name__)

ACTIONS_GROUP = "actors"
TOKEN_PROBLEM_KEY = "{shakyo}:graph:token_problem"  # nosec B105  # a Redis key name
_RETRY_AFTER_REDIS_ERROR = 1.0
_PLATFORM_JA = {"facebook": "Facebook", "instagram": "Instagram"}


def ensure_actions_group(r: redis.Redis) -> None:
    try:
        r.xgroup_create(ACTIONS_STREAM, ACTIONS_GROUP, id="0", mkstream=True)
    except redis.ResponseError as exc:
        if "BUSYGROUP" not in str(exc):
            raise


def token_problems(r: redis.Redis) -> dict[str, str]:
    """Platform → Japanese message, for platforms whose token Meta refused."""
    return dict(r.hgetall(TOKEN_PROBLEM_KEY))


@dataclass(frozen=True, slots=True)
class Tokens:
    facebook: str = ""
    instagram: str = ""

    @classmethod
    def from_settings(cls, settings: Settings) -> Tokens:
        return cls(settings.secret("facebook_page_token"), settings.secret("instagram_token"))

    def for_platform(self, platform: str) -> str:
        return self.facebook if platform == "facebook" else self.instagram if platform == "instagram" else ""


class ActionWorker:
    """One consumer of the action stream. `run(stop)` loops; `drain()` is for tests and one-off use."""

    def __init__(
        self,
        r: redis.Redis,
        graph: GraphClient,
        tokens: Tokens,
        *,
        claim_idle_seconds: float = 60.0,
        name: str | None = None,
    ) -> None:
        self._r = r
        self._graph = graph
        self._tokens = tokens
        self._moderation = Moderation(r)
        self._replies = Replies(r)
        self._claim_every = max(0.1, claim_idle_seconds / 2)
        self.name = name or f"actor-{uuid.uuid4().hex[:12]}"
        self._reader = GroupReader(
            r,
            ACTIONS_STREAM,
            ACTIONS_GROUP,
            self.name,
            claim_idle_ms=int(claim_idle_seconds * 1000),
            count=10,
        )

    def run(self, stop: threading.Event) -> None:
        ensure_actions_group(self._r)
        next_claim = 0.0
        while not stop.is_set():
            try:
                if time.monotonic() >= next_claim:
                    self.claim_stale()
                    next_claim = time.monotonic() + self._claim_every
                self.read_once(block_ms=1000)
            except redis.ConnectionError as exc:
                log.warning("redis unreachable; retrying", extra={"error": type(exc).__name__})
                stop.wait(_RETRY_AFTER_REDIS_ERROR)

    def read_once(self, *, block_ms: int | None = None) -> int:
        return self._reader.read_new(self.handle, block_ms=block_ms)

    def claim_stale(self) -> int:
        """Take over requests a dead worker left unacknowledged."""
        return self._reader.claim_stale(self.handle)

    def drain(self) -> int:
        ensure_actions_group(self._r)
        total = 0
        while n := self.read_once(block_ms=None):
            total += n
        return total

    def handle(self, entry_id: str, fields: dict[str, str] | None) -> None:
        ack = (ACTIONS_STREAM, ACTIONS_GROUP, entry_id)
        if not fields or "request_id" not in fields:
            self._r.xack(*ack)
            return
        request = ActionRequest.from_fields(fields)
        if request.action == "reply":
            self._reply(request, ack)
            return
        if not self._moderation.is_current(request):
            self._r.xack(*ack)  # completed before (a redelivery): Meta is not called again
            return
        comment = self._moderation.store.get(request.item_id)
        if comment is None:
            self._r.xack(*ack)
            return
        result = self._confirmed(request) or self._call(request, comment.platform, comment.comment_id)
        self._note_token(comment.platform, result)
        status = self._moderation.complete(request, result, ack=ack)
        log.info(
            "action completed",
            extra={
                "item_id": request.item_id,
                "action": request.action,
                "outcome": result.outcome,
                "attempts": result.attempts,
                "status": status,
            },
        )

    def _note_token(self, platform: str, result: ActionResult) -> None:
        if result.outcome == "token_expired":
            self._r.hset(
                TOKEN_PROBLEM_KEY, platform, f"{_PLATFORM_JA.get(platform, '')}: {result.message_ja}"
            )
        elif result.ok:
            self._r.hdel(TOKEN_PROBLEM_KEY, platform)

    def _reply(self, request: ActionRequest, ack: tuple[str, str, str]) -> None:
        step, record = self._replies.begin(request)
        if step == "ack" or record is None:
            self._r.xack(*ack)  # already sent or given up (a redelivery): Meta is not called again
            return
        if step == "busy":
            return  # another worker is sending it; the entry stays pending and is claimed once that is over
        comment = self._moderation.store.get(request.item_id)
        if comment is None:
            result = ActionResult(False, "failed", "返信先のコメントが見つかりません。")
        else:
            result = self._send_reply(record, comment)
            self._note_token(comment.platform, result)
        self._replies.complete(request, result, ack=ack)
        log.info(
            "reply completed",
            extra={"item_id": request.item_id, "outcome": result.outcome, "attempts": result.attempts},
        )

    def _send_reply(self, record: ReplyRecord, comment: Comment) -> ActionResult:
        return self._graph.reply_to_comment(
            comment.platform,  # type: ignore[arg-type]
            comment.comment_id,
            record.message,
            self._tokens.for_platform(comment.platform),
            own_id=comment.account_id,
            since=record.requested_at,
            read_back_first=record.attempted_at is not None,
            thread_ids=(comment.parent_id,) if comment.parent_id else (),
            known_ids=self._replies.sent_ids(record.item_id, besides=record.request_id),
        )

    def _confirmed(self, request: ActionRequest) -> ActionResult | None:
        """A result without a call when Meta already confirmed what is asked."""
        state = self._moderation.state(request.item_id)
        if state.meta_deleted:
            return ActionResult(True, "already_gone", "このコメントはすでに削除されています。")
        if request.action == "hide" and state.meta_hidden:
            return ActionResult(True, "done", "このコメントはすでに非表示です。")
        if request.action == "unhide" and not state.meta_hidden:
            return ActionResult(True, "done", "このコメントはすでに表示されています。")
        return None

    def _call(self, request: ActionRequest, platform: str, comment_id: str) -> ActionResult:
        token = self._tokens.for_platform(platform)
        if request.action == "delete":
            return self._graph.delete_comment(platform, comment_id, token)  # type: ignore[arg-type]
        return self._graph.hide_comment(platform, comment_id, token, hidden=request.action == "hide")  # type: ignore[arg-type]


class ActionWorkerThread:
    """The action worker in a daemon thread of the web process (the one-command `serve`); it owns `r`."""

    def __init__(self, r: redis.Redis, settings: Settings) -> None:
        self._r = r
        self._stop = threading.Event()
        self._graph = GraphClient(settings.graph_api_url, settings.secret("meta_app_secret"))
        self.worker = ActionWorker(
            r, self._graph, Tokens.from_settings(settings), claim_idle_seconds=settings.claim_idle_seconds
        )
        self._thread = threading.Thread(
            target=self.worker.run, args=(self._stop,), name="actions", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        self._thread.join(timeout)
        self._graph.close()
        # An embedded Redis server stops only once its last client has gone.
        self._r.close()
