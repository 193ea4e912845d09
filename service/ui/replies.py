"""Replying as the Page/account from the item and 相談 pages, and the reply templates 管理者 keep.

The reply box works without JavaScript: choosing a template reloads the page with `?template=<id>`, which
fills the box; staff edit the text and press 送信. Each box carries a fresh request id, so a double click
or a resubmitted form queues one reply (service.support.replies).
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from service.support.replies import MAX_LENGTH, Replies, ReplyError, new_request_id
from service.support.templates import MAX_TEXT, MAX_TITLE, TemplateError, Templates
from service.ui.common import admin, csrf, render, staff, ui
from service.web_security import CurrentUser

router = APIRouter()


def reply_box(request: Request, item_id: str, *, text: str | None = None) -> dict[str, Any]:
    """What the reply box on an item or 相談 page shows: earlier replies, templates, the prefilled text."""
    ctx = ui(request)
    templates = Templates(ctx.r)
    chosen = request.query_params.get("template", "")
    if text is None:
        template = templates.get(chosen) if chosen else None
        text = template.filled(ctx.settings) if template else ""
    return {
        "replies": Replies(ctx.r).list(item_id),
        "reply_templates": templates.all(),
        "reply_template": chosen,
        "reply_text": text,
        "reply_request_id": new_request_id(),
        "reply_max": MAX_LENGTH,
    }


def queue_reply(
    request: Request,
    user: CurrentUser,
    item_id: str,
    message: str,
    request_id: str,
    *,
    finish_support: bool = False,
) -> str:
    """Queue the reply from a page's box; "" when queued, else the Japanese reason to show."""
    try:
        Replies(ui(request).r).request(
            item_id,
            message,
            actor=user.username,
            role=user.role.value,
            request_id=request_id,
            finish_support=finish_support,
        )
    except ReplyError as exc:
        return exc.message_ja
    return ""


@router.post("/replies/retry", dependencies=[Depends(csrf)])
def retry(
    request: Request,
    user: Annotated[CurrentUser, Depends(staff)],
    item_id: Annotated[str, Form()] = "",
    request_id: Annotated[str, Form()] = "",
    back: Annotated[str, Form()] = "",
) -> Response:
    page = f"/support/{item_id}" if back == "support" else f"/items/{item_id}"
    try:
        Replies(ui(request).r).retry(item_id, request_id, actor=user.username, role=user.role.value)
    except ReplyError:
        # Sent again or finished meanwhile (another tab, another person): the page shows where it stands.
        return RedirectResponse(f"{page}?{urlencode({'done': 'reply_refused'})}#reply", status_code=303)
    return RedirectResponse(f"{page}?{urlencode({'done': 'reply'})}#reply", status_code=303)


# -- templates (管理者) -----------------------------------------------------------------------------


def _templates_page(
    request: Request, user: CurrentUser, *, error: str = "", status_code: int = 200
) -> HTMLResponse:
    ctx = ui(request)
    return render(
        request,
        "reply_templates.html",
        user,
        status_code,
        templates=Templates(ctx.r).all(),
        settings=ctx.settings,
        max_title=MAX_TITLE,
        max_text=MAX_TEXT,
        error=error,
        message={"saved": "テンプレートを保存しました。", "deleted": "テンプレートを削除しました。"}.get(
            request.query_params.get("done", ""), ""
        ),
    )


@router.get("/admin/templates", response_class=HTMLResponse)
def templates_page(request: Request, user: Annotated[CurrentUser, Depends(admin)]) -> HTMLResponse:
    return _templates_page(request, user)


@router.post("/admin/templates", dependencies=[Depends(csrf)])
def templates_change(
    request: Request,
    user: Annotated[CurrentUser, Depends(admin)],
    op: Annotated[str, Form()] = "",
    template_id: Annotated[str, Form()] = "",
    title: Annotated[str, Form()] = "",
    text: Annotated[str, Form()] = "",
) -> Response:
    templates = Templates(ui(request).r)
    try:
        if op == "save":
            templates.save(title, text, by=user.username, role=user.role.value, template_id=template_id)
        elif op == "delete":
            templates.delete(template_id, by=user.username, role=user.role.value)
        else:
            return _templates_page(request, user, error="不明な操作です。", status_code=400)
    except TemplateError as exc:
        return _templates_page(request, user, error=exc.message_ja, status_code=400)
    done = "saved" if op == "save" else "deleted"
    return RedirectResponse(f"/admin/templates?{urlencode({'done': done})}", status_code=303)
