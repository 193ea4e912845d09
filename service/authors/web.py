"""The author page (/authors/<platform>/<author id>), linked from every item page: the author's flagged
comments with verdicts and decisions, bulk hiding of the open ones (any staff, audited per comment) and, on
Facebook, blocking from the Page (課長 and 管理者, after a confirmation page)."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from service.authors.block import block_on_facebook, blocked
from service.authors.history import (
    REPEAT_COUNT,
    REPEAT_DAYS,
    AuthorHistory,
    hide_pending,
    load,
    repeat_offenders,
)
from service.ui.common import chief, csrf, render, staff, ui
from service.web_security import CurrentUser

router = APIRouter()

_PLATFORMS = ("facebook", "instagram")


def _history(request: Request, platform: str, author_id: str) -> AuthorHistory:
    found = load(ui(request).r, platform, author_id) if platform in _PLATFORMS else None
    if found is None:
        raise HTTPException(status_code=404, detail="この投稿者の指摘されたコメントはありません。")
    return found


def _page(platform: str, author_id: str) -> str:
    return f"/authors/{platform}/{quote(author_id, safe='')}"


@router.get("/authors/{platform}/{author_id}", response_class=HTMLResponse)
def author_page(
    request: Request,
    platform: str,
    author_id: str,
    user: Annotated[CurrentUser, Depends(staff)],
    done: int = -1,
    refused: int = 0,
    block: str = "",
) -> HTMLResponse:
    history = _history(request, platform, author_id)
    r = ui(request).r
    return render(
        request,
        "author.html",
        user,
        a=history,
        page=_page(platform, author_id),
        repeat=f"{platform}:{author_id}" in repeat_offenders(r, history.comments),
        repeat_days=REPEAT_DAYS,
        repeat_count=REPEAT_COUNT,
        blocked=blocked(r, platform, author_id),
        block_message=block,
        done=done,
        refused=refused,
    )


@router.post("/authors/{platform}/{author_id}/hide-pending", dependencies=[Depends(csrf)])
def hide_all_pending(
    request: Request,
    platform: str,
    author_id: str,
    user: Annotated[CurrentUser, Depends(staff)],
    note: Annotated[str, Form()] = "",
) -> Response:
    history = _history(request, platform, author_id)
    done, refused = hide_pending(
        ui(request).moderation, history, actor=user.username, role=user.role.value, note=note
    )
    query = urlencode({"done": done, "refused": refused})
    return RedirectResponse(f"{_page(platform, author_id)}?{query}", status_code=303)


@router.post("/authors/{platform}/{author_id}/block", dependencies=[Depends(csrf)])
async def block(
    request: Request,
    platform: str,
    author_id: str,
    user: Annotated[CurrentUser, Depends(chief)],
    confirmed: Annotated[str, Form()] = "",
) -> Response:
    if platform != "facebook":
        raise HTTPException(
            status_code=405,
            detail="InstagramではAPIで投稿者をブロックできません。Instagramアプリで相手のプロフィールから"
            "「制限する」または「ブロック」を選んでください。",
        )
    history = await run_in_threadpool(_history, request, platform, author_id)
    if confirmed != "yes":
        # Blocking is not undone here; ask once, naming who, before anything is sent. Works without JavaScript.
        return render(request, "confirm_block.html", user, a=history, page=_page(platform, author_id))
    ctx = ui(request)
    result = await run_in_threadpool(
        block_on_facebook, ctx.r, ctx.settings, author_id, actor=user.username, role=user.role.value
    )
    query = urlencode({"block": "ok" if result.ok else result.message_ja})
    return RedirectResponse(f"{_page(platform, author_id)}?{query}", status_code=303)
