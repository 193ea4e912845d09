"""The 要確認 view: comments only the model suspects, short of the confidence that flags.

Lower in priority than the violation queue: nothing here is flagged or hidden automatically, so staff look
when they have time. Each row shows the categories the model suspected and the words it weighed most; the
decisions are the violation queue's (the same status machine and audit, service.moderation).
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from service.store import REVIEW
from service.ui.common import csrf, render, staff, ui
from service.ui.queue import PAGE_SIZE, bulk_decisions, confirm_delete, decide_many, needs_confirmation
from service.web_security import CurrentUser

router = APIRouter()

# The model's strongest words shown per comment: enough to see why, few enough to read at a glance.
TOKENS_SHOWN = 5


@router.get("/review", response_class=HTMLResponse)
def review_page(
    request: Request,
    user: Annotated[CurrentUser, Depends(staff)],
    page: int = 1,
    done: int = 0,
    refused: int = 0,
) -> HTMLResponse:
    ctx = ui(request)
    store = ctx.moderation.store
    total = store.count_by_status()[REVIEW]
    pages = max(1, -(-total // PAGE_SIZE))
    page = min(max(1, page), pages)
    items = store.list_queue(REVIEW, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
    states = ctx.moderation.states([c.item_id for c in items])
    return render(
        request,
        "review.html",
        user,
        items=items,
        tokens={c.item_id: (c.verdict or {}).get("model_tokens", [])[:TOKENS_SHOWN] for c in items},
        states=states,
        bulk_decisions=bulk_decisions(ctx.moderation, items, states, user),
        total=total,
        page=page,
        pages=pages,
        done=done,
        refused=refused,
    )


@router.post("/review/bulk", dependencies=[Depends(csrf)])
async def review_bulk(request: Request, user: Annotated[CurrentUser, Depends(staff)]) -> Response:
    form = await request.form()
    if needs_confirmation(form):
        count = len(form.getlist("ids"))
        return confirm_delete(request, user, form, action="/review/bulk", back="/review", count=count)
    done, refused = decide_many(request, user, form)
    return RedirectResponse(f"/review?{urlencode({'done': done, 'refused': refused})}", status_code=303)
