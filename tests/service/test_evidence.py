"""Evidence records: frozen with each delete/hide/escalate from the body the comment arrived in (real ingest
script, real webhook body bytes, real worker and Redis), append-only, hashed, purged only past their own retention."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable

import httpx
import redis

from service.evidence.records import ITEMS_KEY, purge, records
from service.moderation import Moderation
from service.settings import Settings
from service.worker import Worker
from tests.conftest import INSULT
from tests.webhooks.payloads import APP_SECRET, PAGE_ID, fb_comment, fb_payload, sign, to_body


def test_decisions_freeze_the_signed_body_versions_and_trail(
    r: redis.Redis, app_url: str, make_settings: Callable[..., Settings]
) -> None:
    body = to_body(fb_payload(PAGE_ID, [fb_comment("1_77", INSULT)]))
    sent = httpx.post(
        f"{app_url}/webhooks/meta", content=body, headers={"X-Hub-Signature-256": sign(body, APP_SECRET)}
    )
    assert sent.status_code == 200
    Worker(r, make_settings()).drain()
    item = "facebook:1_77"
    moderation = Moderation(r)
    moderation.decide(item, "escalate", actor="tanaka", role="staff", note="課長に確認")
    moderation.decide(item, "delete", actor="kacho", role="chief")
    first, second = records(r, item)
    for record in (first, second):
        assert hashlib.sha256(record.json.encode("utf-8")).hexdigest() == record.sha256
    data = second.data
    # The exact signed bytes Meta sent, with their SHA-256.
    received = data["received_bodies"][0]
    assert received["source"] == "webhook" and received["body"].encode("utf-8") == body
    assert received["sha256"] == hashlib.sha256(body).hexdigest()
    assert data["versions"][-1]["text"] == INSULT and data["post_link"].startswith("https://www.facebook.com/")
    assert [e["action"] for e in data["audit_trail"]] == ["escalated", "approved"]
    assert data["frozen_by"] == "kacho" and data["verdict"]["flagged"]
    # The first record is untouched by the second decision (append-only).
    assert [e["action"] for e in first.data["audit_trail"]] == ["escalated"]


def test_evidence_outlives_comment_retention_until_its_own(r: redis.Redis) -> None:
    now = time.time()
    r.zadd(ITEMS_KEY, {"facebook:old": now - 1900 * 86400, "facebook:kept": now - 500 * 86400})
    r.xadd("{shakyo}:evidence:facebook:old", {"at": "0", "json": json.dumps({}), "sha256": "x"})
    r.xadd("{shakyo}:evidence:facebook:kept", {"at": "0", "json": json.dumps({}), "sha256": "x"})
    assert purge(r, now=now, retention_days=1826) == 1
    assert r.exists("{shakyo}:evidence:facebook:kept") and not r.exists("{shakyo}:evidence:facebook:old")
