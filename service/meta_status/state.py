"""The stored Meta connection report, the last webhook per platform, and building a MetaConnection from settings.

| key | type | contents |
| --- | --- | --- |
| `{shakyo}:meta:status` | string | JSON of the last `ConnectionReport` (`meta connect`, `meta status`, the monitor) |
| `{shakyo}:meta:lapse_sent` | hash | "<platform>:<level>:<lapses_at>" -> epoch s a lapse warning went out (once each) |
| `{shakyo}:lock:meta_check` | string | held while one process re-checks the connection (SET NX EX) |
| `{shakyo}:webhook:last` | hash | platform -> epoch s of the last comment webhook (written by service.ingest) |

No token value is stored: a report holds owners, kinds, scopes and expiry times only.
"""

from __future__ import annotations

import json

import redis

from service import keys
from service.settings import Settings
from webhooks.connect import ConnectionReport, MetaConnection, MetaTarget
from webhooks.graph import GraphClient

STATUS_KEY = keys.TAG + "meta:status"
LAPSE_SENT_KEY = keys.TAG + "meta:lapse_sent"
CHECK_LOCK_KEY = keys.TAG + "lock:meta_check"


def save_report(r: redis.Redis, report: ConnectionReport) -> None:
    r.set(STATUS_KEY, json.dumps(report.to_dict(), ensure_ascii=False))


def load_report(r: redis.Redis) -> ConnectionReport | None:
    raw = r.get(STATUS_KEY)
    if raw is None:
        return None
    try:
        return ConnectionReport.from_dict(json.loads(raw))
    except (ValueError, KeyError, TypeError):  # written by an older version: check again
        return None


def last_webhooks(r: redis.Redis) -> dict[str, float]:
    """Platform -> epoch seconds of the last comment webhook accepted."""
    return {str(k): float(v) for k, v in r.hgetall(keys.LAST_WEBHOOK).items()}


def configured_platforms(settings: Settings) -> list[str]:
    return [
        platform
        for platform, account in (
            ("facebook", settings.facebook_page_id),
            ("instagram", settings.instagram_account_id),
        )
        if account
    ]


def meta_target(settings: Settings) -> MetaTarget:
    return MetaTarget(
        page_id=settings.facebook_page_id,
        instagram_account_id=settings.instagram_account_id,
        page_token=settings.secret("facebook_page_token"),
        instagram_token=settings.secret("instagram_token"),
        app_id=settings.meta_app_id,
        app_secret=settings.secret("meta_app_secret"),
        instagram_login=settings.instagram_login,
        instagram_api_url=settings.instagram_api_url,
    )


def graph_client(settings: Settings) -> GraphClient:
    # Fewer retries than the action worker: a person is waiting at the terminal or the settings page.
    return GraphClient(settings.graph_api_url, settings.secret("meta_app_secret"), max_retries=2)


def meta_connection(settings: Settings, client: GraphClient) -> MetaConnection:
    return MetaConnection(client, meta_target(settings))
