"""The queue page (filters, sorting, counts, paging, bulk actions) and the item page with its buttons."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Annotated
from urllib.parse import urlencode

import redis
from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData

from service import keys
from service.authors.history import repeat_offenders
from service.evidence.export import count as evidence_count
from service.live import presence
from service.moderation import DECISIONS, Moderation, ModerationError, ModState
from service.store import QUEUE_STATUSES, REVIEW, Comment, Store
from service.ui import kept
from service.ui.common import JST, csrf, highlight, post_url, render, staff, ui
from service.ui.replies import queue_reply, reply_box
from service.ui.support import unfinished_rows
from service.web_security import CSRF_FIELD, CurrentUser

router = APIRouter()

PAGE_SIZE = 25
# The violation queue; 要確認 items have a view of their own (service.ui.review), below it in priority.
VIOLATION_STATUSES: tuple[str, ...] = tuple(s for s in QUEUE_STATUSES if s != REVIEW)
SORTS = {"severity": "重大度の高い順", "oldest": "古い順", "newest": "新しい順"}
_MAX_BULK = 200
# Unhiding is decided one comment at a time, on its page.
BULK_DECISIONS: tuple[str, ...] = tuple(d for d in DECISIONS if d != "unhide")


def _day(value: str) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


def filter_items(
    store: Store,
    *,
    status: str,
    platform: str,
    category: str,
    date_from: date | None,
    date_to: date | None,
    sort: str,
    post: str = "",
) -> list[Comment]:
    """Items of one status (or all), filtered, in the chosen order.

    Each status set is already ordered worst-first then oldest-first, which is the default order.
    """
    statuses = [status] if status in QUEUE_STATUSES else list(VIOLATION_STATUSES)
    since = datetime.combine(date_from, time(0), tzinfo=JST).timestamp() if date_from else None
    until = (
        datetime.combine(date_to + timedelta(days=1), time(0), tzinfo=JST).timestamp() if date_to else None
    )
    items: list[Comment] = []
    for s in statuses:
        for c in store.list_queue(s, limit=100_000):
            if platform and c.platform != platform:
                continue
            if category and category not in c.categories:
                continue
            if post and c.post_id != post:
                continue
            if (since is not None and c.received_at < since) or (
                until is not None and c.received_at >= until
            ):
                continue
            items.append(c)
    if sort == "oldest":
        items.sort(key=lambda c: c.received_at)
    elif sort == "newest":
        items.sort(key=lambda c: -c.received_at)
    elif len(statuses) > 1:
        items.sort(key=lambda c: (-int(c.severity_level), c.received_at))
    return items


@router.get("/", include_in_schema=False)
def home() -> Response:
    return RedirectResponse("/queue", status_code=303)


@router.get("/queue", response_class=HTMLResponse)
def queue_page(
    request: Request,
    user: Annotated[CurrentUser, Depends(staff)],
    status: str = "pending",
    platform: str = "",
    category: str = "",
    date_from: str = "",
    date_to: str = "",
    sort: str = "severity",
    post: str = "",
    page: int = 1,
    done: int = 0,
    refused: int = 0,
    changed: int = 0,
) -> Response:
    if status == REVIEW:
        return RedirectResponse("/review", status_code=303)
    ctx = ui(request)
    store = ctx.moderation.store
    sort = sort if sort in SORTS else "severity"
    items = filter_items(
        store,
        status=status,
        platform=platform,
        category=category,
        date_from=_day(date_from),
        date_to=_day(date_to),
        sort=sort,
        post=post,
    )
    pages = max(1, -(-len(items) // PAGE_SIZE))
    page = min(max(1, page), pages)
    shown = items[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
    filters = {
        "status": status if status in VIOLATION_STATUSES else "",
        "platform": platform,
        "category": category,
        "date_from": date_from,
        "date_to": date_to,
        "sort": sort,
        "post": post,
    }
    states = ctx.moderation.states([c.item_id for c in shown])
    return render(
        request,
        "queue.html",
        user,
        items=shown,
        states=states,
        bulk_decisions=bulk_decisions(ctx.moderation, shown, states, user),
        repeaters=repeat_offenders(ctx.r, shown),
        total=len(items),
        page=page,
        pages=pages,
        counts=store.count_by_status(),
        filters=filters,
        query=lambda **over: urlencode({**filters, **over}),
        statuses=VIOLATION_STATUSES,
        sorts=SORTS,
        done=done,
        refused=refused,
        changed=changed,
        support_rows=unfinished_rows(request),
    )


def bulk_decisions(
    moderation: Moderation, items: list[Comment], states: dict[str, ModState], user: CurrentUser
) -> list[str]:
    """The bulk buttons worth offering: decisions the user may take on at least one listed item (a 職員 looking
    at 課長へ相談 items gets none)."""
    possible = {d for c in items for d in moderation.available(c, states[c.item_id], user.role.value)}
    return [d for d in BULK_DECISIONS if d in possible]


def confirm_delete(
    request: Request, user: CurrentUser, form: FormData, *, action: str, back: str, count: int
) -> HTMLResponse:
    """Deleting cannot be undone on Meta: ask once, naming how many, before anything is sent (policy 4(2) asks
    for prompt removal, not hasty removal). Works without JavaScript; the form carries every field again."""
    fields = [(k, str(v)) for k, v in form.multi_items() if k not in ("decision", "confirmed", CSRF_FIELD)]
    fields.append((CSRF_FIELD, user.csrf_token))
    return render(request, "confirm_delete.html", user, action=action, back=back, count=count, fields=fields)


def needs_confirmation(form: FormData) -> bool:
    return str(form.get("decision", "")) == "delete" and form.get("confirmed") != "yes"


@router.post("/queue/bulk", dependencies=[Depends(csrf)])
async def bulk(request: Request, user: Annotated[CurrentUser, Depends(staff)]) -> Response:
    form = await request.form()
    back = str(form.get("back", "")) or "status=pending"
    if needs_confirmation(form):
        count = min(len(form.getlist("ids")), _MAX_BULK)
        return confirm_delete(request, user, form, action="/queue/bulk", back=f"/queue?{back}", count=count)
    done, refused = decide_many(request, user, form)
    return RedirectResponse(f"/queue?{back}&{urlencode({'done': done, 'refused': refused})}", status_code=303)


def decide_many(request: Request, user: CurrentUser, form: FormData) -> tuple[int, int]:
    """One decision for every checked item (at most _MAX_BULK); returns (done, refused)."""
    decision = str(form.get("decision", ""))
    note = str(form.get("note", ""))
    ids = [str(i) for i in form.getlist("ids")][:_MAX_BULK]
    moderation = ui(request).moderation
    done = refused = 0
    for item in ids:
        try:
            moderation.decide(item, decision, actor=user.username, role=user.role.value, note=note)
            done += 1
        except ModerationError:
            refused += 1
    return done, refused


def _item_page(
    request: Request,
    user: CurrentUser,
    item_id: str,
    *,
    error: str = "",
    status_code: int = 200,
    reply_text: str | None = None,
) -> HTMLResponse:
    ctx = ui(request)
    store = ctx.moderation.store
    comment = store.get(item_id)
    if comment is None or (not comment.flagged and comment.status == "clear"):
        raise HTTPException(status_code=404, detail="指定されたコメントは審査キューにありません。")
    # Replies are read before the audit trail, so a reply shown as sent always has its entry below.
    box = reply_box(request, item_id, text=reply_text)
    verdict = comment.verdict or {}
    state = ctx.moderation.state(item_id)
    typed = kept.take(ctx.r, request, f"/items/{item_id}")
    if typed.get("message") and reply_text is None:
        box = reply_box(request, item_id, text=typed["message"])
    # Marked on every load, so two people opening the same comment see each other (service.live).
    present = presence.mark(ctx.r, item_id, user.username, user.account.display_name or user.username)
    parent = None
    if comment.parent_id and comment.parent_id != comment.post_id:
        parent = store.get(keys.item_id(comment.platform, comment.parent_id))
    return render(
        request,
        "item.html",
        user,
        status_code,
        c=comment,
        state=state,
        available=ctx.moderation.available(comment, state, user.role.value),
        kept_note=typed.get("note", ""),
        relogged=bool(typed),
        parts=highlight(comment.text, verdict.get("matches", [])),
        matches=verdict.get("matches", []),
        post_url=post_url(comment.platform, comment.post_id),
        parent=parent,
        earlier=ctx.moderation.author_history(comment),
        evidence_count=evidence_count(ctx.r, item_id),
        history=store.history(item_id),
        audit=list(ctx.moderation.audit.entries(item_id=item_id)),
        error=error,
        done=request.query_params.get("done", ""),
        present=present,
        neighbours=_neighbours(ctx.r, comment),
        **box,
    )


def _neighbours(r: redis.Redis, comment: Comment) -> dict[str, str]:
    """The previous and next items in the comment's own queue, in the queue page's default order (j/k)."""
    if comment.status not in QUEUE_STATUSES:
        return {}
    key = keys.queue(comment.status)
    rank = r.zrank(key, comment.item_id)
    if rank is None:
        return {}
    around = r.zrange(key, max(0, rank - 1), rank + 1)
    at = around.index(comment.item_id)
    return {name: around[i] for name, i in (("prev", at - 1), ("next", at + 1)) if 0 <= i < len(around)}


@router.get("/items/{item_id}", response_class=HTMLResponse)
def item_page(request: Request, item_id: str, user: Annotated[CurrentUser, Depends(staff)]) -> HTMLResponse:
    return _item_page(request, user, item_id)


@router.post("/items/{item_id}/act", dependencies=[Depends(csrf)])
async def act(request: Request, item_id: str, user: Annotated[CurrentUser, Depends(staff)]) -> Response:
    form = await request.form()
    if needs_confirmation(form):
        page = f"/items/{item_id}"
        return confirm_delete(request, user, form, action=f"{page}/act", back=page, count=1)
    return await run_in_threadpool(
        _act, request, item_id, user, str(form.get("decision", "")), str(form.get("note", ""))
    )


def _act(request: Request, item_id: str, user: CurrentUser, decision: str, note: str) -> Response:
    try:
        ui(request).moderation.decide(item_id, decision, actor=user.username, role=user.role.value, note=note)
    except ModerationError as exc:
        return _item_page(request, user, item_id, error=exc.message_ja, status_code=409)
    return RedirectResponse(f"/items/{item_id}?{urlencode({'done': decision})}", status_code=303)


@router.post("/items/{item_id}/reply", dependencies=[Depends(csrf)])
def reply(
    request: Request,
    item_id: str,
    user: Annotated[CurrentUser, Depends(staff)],
    message: Annotated[str, Form()] = "",
    request_id: Annotated[str, Form()] = "",
) -> Response:
    error = queue_reply(request, user, item_id, message, request_id)
    if error:
        return _item_page(request, user, item_id, error=error, status_code=409, reply_text=message)
    return RedirectResponse(f"/items/{item_id}?{urlencode({'done': 'reply'})}#reply", status_code=303)
