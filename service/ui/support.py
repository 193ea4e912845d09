"""The 相談 view: comments whose writer may need help now, newest first, with their own status flow."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from service.store import Comment
from service.support.desk import OUTCOME_JA, SupportDesk, SupportError, SupportItem
from service.ui.common import csrf, highlight, render, staff, ui
from service.ui.replies import queue_reply, reply_box
from service.web_security import CurrentUser

router = APIRouter()

PAGE_SIZE = 50


def posted_at(comment: Comment | None, item: SupportItem) -> float:
    if comment is None:
        return item.detected_at
    return comment.created_time or comment.received_at


def rows(request: Request, items: list[SupportItem]) -> list[tuple[SupportItem, Comment | None, float]]:
    store = ui(request).moderation.store
    return [(item, c := store.get(item.item_id), posted_at(c, item)) for item in items]


def unfinished_rows(request: Request, limit: int = 10) -> list[tuple[SupportItem, Comment | None, float]]:
    """未対応 and 対応中 items, newest first, for the box above the violation queue."""
    newest = SupportDesk(ui(request).r).newest(limit=200)
    return rows(request, [i for i in newest if i.status != "done"][:limit])


@router.get("/support", response_class=HTMLResponse)
def support_list(
    request: Request, user: Annotated[CurrentUser, Depends(staff)], page: int = 1
) -> HTMLResponse:
    desk = SupportDesk(ui(request).r)
    # Bounded above too: a page number past Redis's 64-bit offsets answered 500 (found by schemathesis).
    page = min(max(1, page), 1_000_000)
    items = desk.newest(limit=PAGE_SIZE + 1, offset=(page - 1) * PAGE_SIZE)
    return render(
        request,
        "support.html",
        user,
        rows=rows(request, items[:PAGE_SIZE]),
        page=page,
        more=len(items) > PAGE_SIZE,
    )


def _support_page(
    request: Request,
    user: CurrentUser,
    item_id: str,
    *,
    error: str = "",
    status_code: int = 200,
    reply_text: str | None = None,
) -> HTMLResponse:
    ctx = ui(request)
    item = SupportDesk(ctx.r).get(item_id)
    comment = ctx.moderation.store.get(item_id)
    if item is None or comment is None:
        raise HTTPException(status_code=404, detail="指定された相談は見つかりません。")
    # Replies are read before the audit trail, so a reply shown as sent always has its entry below.
    box = reply_box(request, item_id, text=reply_text)
    verdict = comment.verdict or {}
    return render(
        request,
        "support_item.html",
        user,
        status_code,
        item=item,
        c=comment,
        posted=posted_at(comment, item),
        parts=highlight(comment.text, verdict.get("support_matches", [])),
        audit=list(ctx.moderation.audit.entries(item_id=item_id)),
        OUTCOMES=OUTCOME_JA,
        error=error,
        done=request.query_params.get("done", ""),
        **box,
    )


@router.get("/support/{item_id}", response_class=HTMLResponse)
def support_item(
    request: Request, item_id: str, user: Annotated[CurrentUser, Depends(staff)]
) -> HTMLResponse:
    return _support_page(request, user, item_id)


@router.post("/support/{item_id}/start", dependencies=[Depends(csrf)])
def start(request: Request, item_id: str, user: Annotated[CurrentUser, Depends(staff)]) -> Response:
    try:
        SupportDesk(ui(request).r).start(item_id, actor=user.username, role=user.role.value)
    except SupportError as exc:
        return _support_page(request, user, item_id, error=exc.message_ja, status_code=409)
    return RedirectResponse(f"/support/{item_id}?{urlencode({'done': 'start'})}", status_code=303)


@router.post("/support/{item_id}/finish", dependencies=[Depends(csrf)])
def finish(
    request: Request,
    item_id: str,
    user: Annotated[CurrentUser, Depends(staff)],
    outcome: Annotated[str, Form()] = "",
    note: Annotated[str, Form()] = "",
) -> Response:
    try:
        SupportDesk(ui(request).r).finish(
            item_id, outcome, actor=user.username, role=user.role.value, note=note
        )
    except SupportError as exc:
        return _support_page(request, user, item_id, error=exc.message_ja, status_code=409)
    return RedirectResponse(f"/support/{item_id}?{urlencode({'done': 'finish'})}", status_code=303)


@router.post("/support/{item_id}/reply", dependencies=[Depends(csrf)])
def reply(
    request: Request,
    item_id: str,
    user: Annotated[CurrentUser, Depends(staff)],
    message: Annotated[str, Form()] = "",
    request_id: Annotated[str, Form()] = "",
    finish: Annotated[str, Form()] = "",
) -> Response:
    """Reply from the 相談 page; with 「対応済み（返信した）にする」 ticked the item closes once Meta confirms."""
    error = queue_reply(request, user, item_id, message, request_id, finish_support=finish == "1")
    if error:
        return _support_page(request, user, item_id, error=error, status_code=409, reply_text=message)
    return RedirectResponse(f"/support/{item_id}?{urlencode({'done': 'reply'})}#reply", status_code=303)
