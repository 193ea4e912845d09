"""Replies as the Page/account through the action stream, against the fake Graph API on loopback and real Redis.

A reply is not idempotent on Meta's side: every test counts the POSTs the fake received and the replies it
holds, so a double post cannot pass unnoticed.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import redis

from service import keys
from service.actions import ACTIONS_GROUP, ActionWorker, Tokens, ensure_actions_group, token_problems
from service.moderation import ACTIONS_STREAM, ActionRequest, Moderation
from service.settings import Settings
from service.support.desk import SupportDesk
from service.support.replies import Replies, ReplyError
from service.support.templates import TemplateError, Templates
from tests.fakes.fake_graph import FakeGraph, Reply
from tests.service.test_moderation import add_flagged
from webhooks.graph import GraphClient

SECRET = "fake-app-secret"
FB_TOKEN, IG_TOKEN = "fb-page-token", "ig-token"
ACCOUNT = {"facebook": "555", "instagram": "1784"}  # what add_flagged stores as the comment's account
EDGE = {"facebook": "comments", "instagram": "replies"}
TEXT = "ご意見ありがとうございます。担当部署で確認いたします。"


@pytest.fixture
def graph() -> Iterator[FakeGraph]:
    with FakeGraph(app_secret=SECRET, tokens={FB_TOKEN, IG_TOKEN}) as fake:
        yield fake


def make_worker(
    r: redis.Redis, graph: FakeGraph, *, timeout: float = 5, claim_idle: float = 60.0
) -> ActionWorker:
    client = GraphClient(graph.base_url, SECRET, backoff=0.001, timeout=timeout)
    return ActionWorker(r, client, Tokens(FB_TOKEN, IG_TOKEN), claim_idle_seconds=claim_idle)


def comment_on(r: redis.Redis, graph: FakeGraph, platform: str = "facebook", **kw: object) -> tuple[str, str]:
    item = add_flagged(r, platform=platform, **kw)  # type: ignore[arg-type]
    cid = item.split(":", 1)[1]
    graph.add_comment(cid, platform=platform, account_id=ACCOUNT[platform])  # type: ignore[arg-type]
    return item, cid


def posts(graph: FakeGraph, cid: str, platform: str = "facebook") -> list[int]:
    return [c.status for c in graph.calls_for(f"{cid}/{EDGE[platform]}") if c.method == "POST"]


def reads(graph: FakeGraph, cid: str, platform: str = "facebook") -> int:
    return sum(1 for c in graph.calls_for(f"{cid}/{EDGE[platform]}") if c.method == "GET")


def audit_actions(r: redis.Redis, item: str) -> list[str]:
    return [e.action for e in Moderation(r).audit.entries(item_id=item)]


@pytest.mark.parametrize("platform", ["facebook", "instagram"])
def test_reply_on_both_platforms_is_posted_once_as_the_account_and_audited(
    r: redis.Redis, graph: FakeGraph, platform: str
) -> None:
    item, cid = comment_on(r, graph, platform)
    record = Replies(r).request(item, TEXT, actor="tanaka", role="staff")
    assert record.status == "queued"
    assert make_worker(r, graph).drain() == 1
    [call] = [c for c in graph.calls_for(f"{cid}/{EDGE[platform]}")]
    assert call.method == "POST" and call.form["message"] == TEXT
    assert call.form["access_token"] == (FB_TOKEN if platform == "facebook" else IG_TOKEN)
    assert "appsecret_proof" in call.form and "access_token" not in call.query
    [posted] = graph.replies(cid)
    assert posted["from"]["id"] == ACCOUNT[platform]
    [done] = Replies(r).list(item)
    assert (done.status, done.meta_reply_id, done.failure) == ("sent", posted["id"], "")
    assert audit_actions(r, item) == ["reply_requested", "reply_sent"]
    requested = next(e for e in Moderation(r).audit.entries(item_id=item) if e.action == "reply_requested")
    assert requested.actor == "tanaka" and requested.note == TEXT
    assert Moderation(r).store.get(item).status == "pending"  # a reply decides nothing about the comment


def test_rate_limits_are_retried_without_reading_back(r: redis.Redis, graph: FakeGraph) -> None:
    """Throttling proves nothing was written: the message is simply sent again."""
    item, cid = comment_on(r, graph)
    graph.script(f"{cid}/comments", Reply.rate_limited(4), Reply.rate_limited(613, status=429), method="POST")
    Replies(r).request(item, TEXT, actor="tanaka", role="staff")
    make_worker(r, graph).drain()
    assert posts(graph, cid) == [400, 429, 200] and reads(graph, cid) == 0
    assert len(graph.replies(cid)) == 1 and Replies(r).list(item)[0].status == "sent"


def test_500_before_the_write_reads_back_then_posts_once(r: redis.Redis, graph: FakeGraph) -> None:
    item, cid = comment_on(r, graph)
    graph.script(f"{cid}/comments", Reply.server_error(500), method="POST")
    Replies(r).request(item, TEXT, actor="tanaka", role="staff")
    make_worker(r, graph).drain()
    assert posts(graph, cid) == [500, 200] and reads(graph, cid) == 1
    assert len(graph.replies(cid)) == 1 and Replies(r).list(item)[0].status == "sent"


@pytest.mark.parametrize(
    "after_write",
    [Reply.server_error(500), Reply.server_error(503), Reply.dropped(), Reply.delayed(2.0)],
    ids=["500", "503", "connection-dropped", "timeout"],
)
def test_a_failure_after_meta_wrote_the_reply_is_found_on_read_back_and_not_posted_again(
    r: redis.Redis, graph: FakeGraph, after_write: Reply
) -> None:
    item, cid = comment_on(r, graph, "instagram")
    graph.script(f"{cid}/replies", Reply.applied(after_write), method="POST")
    Replies(r).request(item, TEXT, actor="tanaka", role="staff")
    make_worker(r, graph, timeout=0.5).drain()
    # One reply on Meta's side: a second POST would have written a second one (the stalled call is
    # recorded by the fake only once it answers, so the replies, not the calls, are counted).
    assert reads(graph, cid, "instagram") == 1
    [posted] = graph.replies(cid)
    [done] = Replies(r).list(item)
    assert (done.status, done.meta_reply_id) == ("sent", posted["id"])


def test_an_identical_earlier_reply_is_not_taken_for_this_one(r: redis.Redis, graph: FakeGraph) -> None:
    """The same template sent twice on purpose: the second read-back must not stop at the first reply."""
    item, cid = comment_on(r, graph)
    Replies(r).request(item, TEXT, actor="tanaka", role="staff")
    make_worker(r, graph).drain()
    graph.script(f"{cid}/comments", Reply.server_error(500), method="POST")
    Replies(r).request(item, TEXT, actor="tanaka", role="staff")
    make_worker(r, graph).drain()
    assert posts(graph, cid) == [200, 500, 200]
    first, second = Replies(r).list(item)
    assert len(graph.replies(cid)) == 2 and first.meta_reply_id != second.meta_reply_id


def test_meta_down_throughout_fails_plainly_and_sending_again_does_not_double_post(
    r: redis.Redis, graph: FakeGraph
) -> None:
    item, cid = comment_on(r, graph)
    graph.script(f"{cid}/comments", Reply.applied(Reply.server_error(500)), method="POST")
    graph.script(f"{cid}/comments", *[Reply.server_error(500)] * 5, method="GET")  # the read-back fails too
    Replies(r).request(item, TEXT, actor="tanaka", role="staff")
    make_worker(r, graph).drain()
    [failed] = Replies(r).list(item)
    assert failed.status == "failed" and "確かめられませんでした" in failed.failure
    assert posts(graph, cid) == [500]  # never posted blind while unsure

    Replies(r).retry(item, failed.request_id, actor="kacho", role="chief")
    make_worker(r, graph).drain()
    assert posts(graph, cid) == [500]  # the read-back found the reply Meta did write
    [sent] = Replies(r).list(item)
    assert sent.status == "sent" and len(graph.replies(cid)) == 1
    assert audit_actions(r, item) == ["reply_requested", "reply_failed", "reply_requested", "reply_sent"]


def test_redelivered_entry_never_calls_meta_again(r: redis.Redis, graph: FakeGraph) -> None:
    item, cid = comment_on(r, graph)
    Replies(r).request(item, TEXT, actor="tanaka", role="staff")
    [(_, fields)] = r.xrange(ACTIONS_STREAM)
    make_worker(r, graph).drain()
    r.xadd(ACTIONS_STREAM, fields)  # Meta's answer recorded, then the same request delivered again
    make_worker(r, graph).drain()
    assert posts(graph, cid) == [200] and len(graph.replies(cid)) == 1


def test_worker_dead_after_posting_the_next_one_finds_the_reply(r: redis.Redis, graph: FakeGraph) -> None:
    """A worker took the entry, Meta wrote the reply, the worker died before recording it."""
    item, cid = comment_on(r, graph)
    record = Replies(r).request(item, TEXT, actor="tanaka", role="staff")
    ensure_actions_group(r)
    [[_, [(_, fields)]]] = r.xreadgroup(ACTIONS_GROUP, "dead", {ACTIONS_STREAM: ">"}, count=1)
    # Its lease began long ago (now - 1000 s), so it is over when the next worker claims the entry.
    step, _ = Replies(r).begin(ActionRequest.from_fields(fields), now=record.requested_at - 1000)
    assert step == "send"
    GraphClient(graph.base_url, SECRET).reply_to_comment(
        "facebook", cid, TEXT, FB_TOKEN, own_id="555", since=record.requested_at
    )
    assert make_worker(r, graph, claim_idle=0.001).claim_stale() == 1
    assert posts(graph, cid) == [200]  # only the dead worker's post
    [sent] = Replies(r).list(item)
    assert sent.status == "sent" and sent.meta_reply_id == graph.replies(cid)[0]["id"]
    assert r.xpending(ACTIONS_STREAM, ACTIONS_GROUP)["pending"] == 0


def test_while_another_worker_holds_the_reply_it_is_left_alone(r: redis.Redis, graph: FakeGraph) -> None:
    item, cid = comment_on(r, graph)
    Replies(r).request(item, TEXT, actor="tanaka", role="staff")
    [(_, fields)] = r.xrange(ACTIONS_STREAM)
    step, _ = Replies(r).begin(ActionRequest.from_fields(fields))
    assert step == "send"
    make_worker(r, graph).drain()
    assert posts(graph, cid) == [] and Replies(r).list(item)[0].status == "sending"
    assert r.xpending(ACTIONS_STREAM, ACTIONS_GROUP)["pending"] == 1  # kept for a later claim


@pytest.mark.parametrize("platform", ["facebook", "instagram"])
def test_expired_token_is_shown_plainly(r: redis.Redis, graph: FakeGraph, platform: str) -> None:
    item, cid = comment_on(r, graph, platform)
    graph.script(f"{cid}/{EDGE[platform]}", Reply.token_expired(), method="POST")
    Replies(r).request(item, TEXT, actor="tanaka", role="staff")
    make_worker(r, graph).drain()
    [failed] = Replies(r).list(item)
    assert failed.status == "failed" and "アクセストークンの有効期限が切れています" in failed.failure
    assert "有効期限" in token_problems(r)[platform]
    assert graph.replies(cid) == []


def test_double_submitted_form_queues_one_reply(r: redis.Redis, graph: FakeGraph) -> None:
    item, cid = comment_on(r, graph)
    form_id = "0123456789abcdef0123456789abcdef"
    first = Replies(r).request(item, TEXT, actor="tanaka", role="staff", request_id=form_id)
    again = Replies(r).request(item, TEXT, actor="tanaka", role="staff", request_id=form_id)
    assert first == again and r.xlen(ACTIONS_STREAM) == 1
    make_worker(r, graph).drain()
    assert posts(graph, cid) == [200]


def test_refusals_in_japanese(r: redis.Redis, graph: FakeGraph) -> None:
    replies = Replies(r)
    item, _ = comment_on(r, graph)
    with pytest.raises(ReplyError, match="文面を入力"):
        replies.request(item, "   ", actor="tanaka", role="staff")
    with pytest.raises(ReplyError, match="2000文字まで"):
        replies.request(item, "あ" * 2001, actor="tanaka", role="staff")
    with pytest.raises(ReplyError, match="【】の部分"):
        replies.request(item, "電話：【電話番号】", actor="tanaka", role="staff")
    replies.request(item, TEXT, actor="tanaka", role="staff")
    with pytest.raises(ReplyError, match="前の返信がまだ送信中"):
        replies.request(item, "もう一通", actor="tanaka", role="staff")
    hidden_ig, _ = comment_on(r, graph, "instagram")
    r.hset(keys.comment(hidden_ig), "hidden_on_platform", "1")
    with pytest.raises(ReplyError, match="Instagramでは非表示のコメントに返信できません"):
        replies.request(hidden_ig, TEXT, actor="tanaka", role="staff")
    with pytest.raises(ReplyError, match="見つかりません"):
        replies.request("facebook:nope", TEXT, actor="tanaka", role="staff")


def test_a_deleted_comment_fails_without_retrying(r: redis.Redis, graph: FakeGraph) -> None:
    item, cid = comment_on(r, graph)
    graph.script(f"{cid}/comments", Reply.does_not_exist(), method="POST")
    Replies(r).request(item, TEXT, actor="tanaka", role="staff")
    make_worker(r, graph).drain()
    [failed] = Replies(r).list(item)
    assert failed.status == "failed" and "返信は投稿されていません" in failed.failure
    assert posts(graph, cid) == [400]


def test_reply_closes_the_support_item_as_replied_when_asked(r: redis.Redis, graph: FakeGraph) -> None:
    item, _ = comment_on(r, graph, text="もう生きていたくない")
    desk = SupportDesk(r)
    comment = Moderation(r).store.get(item)
    comment.verdict = {**(comment.verdict or {}), "needs_support": True, "support_kind": "suicide"}
    desk.record(comment)
    Replies(r).request(item, TEXT, actor="tanaka", role="staff", finish_support=True)
    make_worker(r, graph).drain()
    done = desk.get(item)
    assert (done.status, done.outcome, done.done_by) == ("done", "replied", "tanaka")
    assert done.first_response_at is not None and desk.open_count() == 0
    assert "support_done" in audit_actions(r, item)


def test_reply_without_closing_starts_the_support_item(r: redis.Redis, graph: FakeGraph) -> None:
    item, _ = comment_on(r, graph, text="もう生きていたくない")
    desk = SupportDesk(r)
    comment = Moderation(r).store.get(item)
    comment.verdict = {**(comment.verdict or {}), "needs_support": True, "support_kind": "suicide"}
    desk.record(comment)
    Replies(r).request(item, TEXT, actor="tanaka", role="staff")
    make_worker(r, graph).drain()
    started = desk.get(item)
    assert (started.status, started.assignee) == ("in_progress", "tanaka")
    assert started.first_response_at is not None and desk.open_count() == 0


# -- templates --------------------------------------------------------------------------------------


def test_default_templates_fill_in_the_councils_own_desk(r: redis.Redis) -> None:
    templates = Templates(r)
    calm, support = templates.all()
    assert "ご意見" in calm.title and "相談窓口" in support.title
    with_desk = Settings(support_desk_phone="0837-00-0000", support_desk_hours="平日 9:00〜17:00")
    text = support.filled(with_desk)
    assert "美祢市社会福祉協議会" in text and "0837-00-0000" in text and "平日 9:00〜17:00" in text
    assert "{" not in text
    unset = support.filled(Settings())
    assert "【電話番号】" in unset and "平日 8:30〜17:15" in unset  # no number of anyone else's
    for template in (calm, support):
        digits = "".join(ch for ch in template.text if ch.isdigit())
        assert digits == "", "the shipped templates hold no phone number"


def test_template_crud_and_a_deleted_default_stays_deleted(r: redis.Redis) -> None:
    templates = Templates(r)
    added = templates.save(
        "イベントのお問い合わせ", "お問い合わせありがとうございます。", by="kanri", role="admin"
    )
    changed = templates.save(
        "イベントの問い合わせ", "文面を変えました。", by="kanri", role="admin", template_id=added.template_id
    )
    assert templates.get(added.template_id) == changed and changed.created_at == added.created_at
    templates.delete("calm", by="kanri", role="admin")
    assert [t.template_id for t in Templates(r).all()] == ["support", added.template_id]
    with pytest.raises(TemplateError, match="題名と文面"):
        templates.save("", "x", by="kanri", role="admin")
    with pytest.raises(TemplateError, match="見つかりません"):
        templates.delete("calm", by="kanri", role="admin")
    notes = [(e.action, e.note) for e in Moderation(r).audit.latest(10)][::-1]
    assert ("reply_template_deleted", "ご意見へのお礼（冷静な対応）") in notes
    assert json.loads(r.hget(keys.REPLY_TEMPLATES, added.template_id))["updated_by"] == "kanri"
