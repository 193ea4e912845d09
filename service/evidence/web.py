"""「証拠記録を出力」 on the item page: POST (CSRF-checked, since each export writes an audit entry), 課長 and
管理者 only; a 職員 gets 403."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from service.evidence.export import export
from service.ui.common import chief, csrf, ui
from service.web_security import CurrentUser

router = APIRouter()


@router.post("/items/{item_id}/evidence", dependencies=[Depends(csrf)])
async def evidence(
    request: Request,
    item_id: str,
    user: Annotated[CurrentUser, Depends(chief)],
    format: Annotated[str, Form()] = "pdf",  # the form field's name
) -> Response:
    fmt = "json" if format == "json" else "pdf"
    # The PDF takes a moment to lay out; keep it off the event loop.
    out = await run_in_threadpool(
        export, ui(request).r, item_id, fmt, actor=user.username, role=user.role.value
    )
    if out is None:
        raise HTTPException(
            status_code=404,
            detail="このコメントの証拠記録はありません（削除・非表示・課長へ相談のときに作られます）。",
        )
    return Response(
        out.content,
        media_type=out.media_type,
        headers={
            "Content-Disposition": f"attachment; filename*=UTF-8''{quote(out.filename)}",
            "X-Evidence-SHA256": out.sha256,
            "Cache-Control": "no-store",
        },
    )
