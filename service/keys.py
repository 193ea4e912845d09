"""Redis key names. Every key starts with the hash tag `{shakyo}:` so a Redis Cluster keeps them in one
slot and multi-key scripts and transactions stay legal. `<item>` is the staff item id
"<platform>:<comment_id>" (e.g. "facebook:123_456", "instagram:17890").

| key | type | contents |
| --- | --- | --- |
| `{shakyo}:events` | stream | one entry per accepted CommentEvent: `event` (JSON), `received_at` (epoch s) |
| consumer group `workers` on it | group | workers share the stream; stale entries are claimed (XAUTOCLAIM) |
| `{shakyo}:events:dead` | stream | entries that failed `max_deliveries` times: `source_id`, `event`, `error` |
| `{shakyo}:events:failures` | hash | stream id -> failed attempts so far |
| `{shakyo}:dedup:<dedup_key>` | string | set with the event's XADD (one Lua script); expires after the dedup TTL |
| `{shakyo}:comment:<item>` | hash | the comment record (see `service.store.Comment`) |
| `{shakyo}:history:<item>` | list | JSON entries, oldest first: earlier texts + verdicts, platform hide/unhide/remove |
| `{shakyo}:applied:<item>` | set | stream ids already applied to this comment (idempotent processing) |
| `{shakyo}:comments:received` | zset | every item, score = received_at |
| `{shakyo}:comments:flagged` | zset | every item ever flagged, score = received_at (first flagged) |
| `{shakyo}:queue:<status>` | zset | items by staff status; score = severity (worst first) then age (oldest first); `review` holds the 要確認 items (never flagged) |
| `{shakyo}:after_flag:pending` | zset | flagged items whose after-flag steps (author index, flare count, auto-hide) are not done yet; score = stored at |
| `{shakyo}:metrics:worker` | hash | worker counters summed over all workers (processed by outcome, classification time) |
| `{shakyo}:support:<item>` | hash | a 相談 item (service.support.desk): kind, status, assignee, outcome, note, times |
| `{shakyo}:support:items` | zset | every 相談 item, score = detected_at (the 相談 view lists them newest first) |
| `{shakyo}:support:open` | zset | the 未対応 相談 items (the banner on every page), score = detected_at |
| `{shakyo}:replies:<item>` | hash | request id -> JSON reply record (service.support.replies), sent as the Page/account |
| `{shakyo}:reply_templates` | hash | template id -> JSON {title, text, updated_by, updated_at} (service.support.templates) |
| `{shakyo}:reply_templates:seeded` | string | set once the default templates were written (deleting one keeps it deleted) |
| `{shakyo}:webhook:last` | hash | platform -> epoch s of the last comment webhook accepted (set by the ingest script) |
| `{shakyo}:raw:<sha256>` | string | the signed webhook body (or Graph API node, for sync) an event arrived in; expires with the comment retention |
| `{shakyo}:rawref:<item>` | list | "<sha256> <webhook or sync> <received_at>" per stored event of the item, newest last, at most 20 |
| `{shakyo}:sync:*`, `{shakyo}:lock:sync*` | misc | the reconciliation job (service.reconcile.job: its state, due and run locks, pause) |
| `{shakyo}:evidence:<item>` | stream | 証拠記録 frozen at each staff delete/hide/escalate (service.evidence), append-only |
| `{shakyo}:evidence:items` | zset | items with evidence records, score = the latest record's time (for retention) |
| `{shakyo}:live` | pub/sub channel | `<item>` when an item enters or leaves a queue or gets an audit entry, `presence <item>` when someone opens or leaves its page (service.live) |
| `{shakyo}:presence:<item>` | zset | who has the item's page open: "<username>\t<label>", score = epoch s until which it counts (service.live.presence) |
| `{shakyo}:ui:kept:<token>` | string | what a person typed when their session lapsed (memo, reply), JSON; expires after an hour (service.ui.kept) |
| `{shakyo}:author:<platform>:<author id>` | zset | the author's flagged items, score = received_at (service.moderation `author_key`; the author page) |
| `{shakyo}:authors:blocked` | hash | "<platform>:<author id>" -> JSON {at, by}: blocked from the Facebook Page (service.authors.block) |

Owned by other modules: `{shakyo}:audit` (service.audit), `{shakyo}:users`, `{shakyo}:user:<name>`
(service.accounts), `{shakyo}:emergency*` (service.hours).
"""

from __future__ import annotations

TAG = "{shakyo}:"

EVENTS = TAG + "events"
EVENTS_GROUP = "workers"
DEAD_LETTER = TAG + "events:dead"
FAILURES = TAG + "events:failures"
COMMENTS_BY_RECEIVED = TAG + "comments:received"
COMMENTS_FLAGGED = TAG + "comments:flagged"
WORKER_METRICS = TAG + "metrics:worker"
SUPPORT_ITEMS = TAG + "support:items"
SUPPORT_OPEN = TAG + "support:open"
REPLY_TEMPLATES = TAG + "reply_templates"
REPLY_TEMPLATES_SEEDED = TAG + "reply_templates:seeded"
# Written with the comment (Store.apply_event), removed with the auto-hide decision (Moderation.after_flagged_many).
AFTER_FLAG_PENDING = TAG + "after_flag:pending"
LAST_WEBHOOK = TAG + "webhook:last"
# Pub/sub: the staff pages' live updates (service.live); published inside the writers' own transactions.
LIVE = TAG + "live"


def raw_body(sha256: str) -> str:
    return f"{TAG}raw:{sha256}"


def raw_refs(item: str) -> str:
    return f"{TAG}rawref:{item}"


def item_id(platform: str, comment_id: str) -> str:
    return f"{platform}:{comment_id}"


def dedup(dedup_key: str) -> str:
    return f"{TAG}dedup:{dedup_key}"


def comment(item: str) -> str:
    return f"{TAG}comment:{item}"


def history(item: str) -> str:
    return f"{TAG}history:{item}"


def applied(item: str) -> str:
    return f"{TAG}applied:{item}"


def queue(status: str) -> str:
    return f"{TAG}queue:{status}"


def support_item(item: str) -> str:
    return f"{TAG}support:{item}"


def replies(item: str) -> str:
    return f"{TAG}replies:{item}"


def presence(item: str) -> str:
    return f"{TAG}presence:{item}"
