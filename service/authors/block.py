"""「ページからブロック」: block an author from the Facebook Page (課長 and 管理者, after a confirmation).

A direct Graph call rather than the action stream: the person stays on this page waiting for the answer, and
blocking is repeatable, so a retry after a crash does no harm. It is audited before the call (block_requested)
and with Meta's answer (blocked / block_failed), uses webhooks.graph's retries and appsecret_proof, and reports
a refused token the way the action worker does (the token banner on every page). Instagram has no API for this:
staff block or restrict the person in the Instagram app.
"""

from __future__ import annotations

import json
import logging
import time

import redis

from service import keys
from service.actions import TOKEN_PROBLEM_KEY
from service.audit import AuditEntry, AuditLog
from service.settings import Settings
from webhooks.graph import ActionResult, GraphClient

log = logging.getLogger(__name__)

BLOCKED_KEY = keys.TAG + "authors:blocked"  # hash "<platform>:<author id>" -> JSON {at, by}


def blocked(r: redis.Redis, platform: str, author_id: str) -> dict[str, object] | None:
    raw = r.hget(BLOCKED_KEY, f"{platform}:{author_id}")
    return json.loads(raw) if raw else None


def block_on_facebook(
    r: redis.Redis,
    settings: Settings,
    author_id: str,
    *,
    actor: str,
    role: str,
    graph: GraphClient | None = None,
    now: float | None = None,
) -> ActionResult:
    at = time.time() if now is None else now
    # About a person, not one comment: no item id (as for settings), the author in `detail`.
    subject = {"author": f"facebook:{author_id}"}
    audit = AuditLog(r)
    audit.append(
        AuditEntry(
            at=at, actor=actor, role=role, action="block_requested", item_id="", detail=json.dumps(subject)
        )
    )
    client = graph or GraphClient(settings.graph_api_url, settings.secret("meta_app_secret"))
    try:
        result = client.block_from_page(
            settings.facebook_page_id or "", author_id, settings.secret("facebook_page_token")
        )
    finally:
        if graph is None:
            client.close()
    if result.outcome == "token_expired":
        r.hset(TOKEN_PROBLEM_KEY, "facebook", f"Facebook: {result.message_ja}")
    elif result.ok:
        r.hdel(TOKEN_PROBLEM_KEY, "facebook")
    done = time.time() if now is None else now
    pipe = r.pipeline(transaction=True)
    if result.ok:
        pipe.hset(BLOCKED_KEY, f"facebook:{author_id}", json.dumps({"at": done, "by": actor}))
    audit.append(
        AuditEntry(
            at=done,
            actor=actor,
            role=role,
            action="blocked" if result.ok else "block_failed",
            item_id="",
            note=result.message_ja,
            detail=json.dumps(
                {**subject, "outcome": result.outcome, "code": result.code, "attempts": result.attempts}
            ),
        ),
        pipe=pipe,
    )
    pipe.execute()
    log.info("page block", extra={"outcome": result.outcome, "attempts": result.attempts})
    return result
