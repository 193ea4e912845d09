"""週次レポート: the list of weekly reports, each to open (HTML, PDF) or download (CSV, JSON). Login required."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse

from service.reports.generate import REPORT_FILES, list_reports, reports_dir
from service.ui.common import render, staff, ui
from service.web_security import CurrentUser

router = APIRouter()

_WEEK_RE = re.compile(r"\d{4}-W\d{2}")
# Opened in the browser; the rest are downloaded.
_INLINE = frozenset({"report.html", "report.pdf"})
FILE_LABELS: dict[str, str] = {
    "report.html": "表示（HTML）",
    "report.pdf": "PDF",
    "summary.csv": "集計表（CSV）",
    "comments.csv": "コメント一覧（CSV）",
    "report.json": "全数値（JSON）",
}


@router.get("/reports", response_class=HTMLResponse)
def report_list(request: Request, user: Annotated[CurrentUser, Depends(staff)]) -> HTMLResponse:
    ctx = ui(request)
    base = reports_dir(ctx.settings.data_dir)
    reports = [
        {**rep, "files": [n for n in REPORT_FILES if (base / rep["week"] / n).is_file()]}
        for rep in list_reports(ctx.r)
    ]
    return render(request, "report/list.html", user, reports=reports, file_labels=FILE_LABELS)


@router.get("/reports/{week}/{name}")
def report_file(
    request: Request, week: str, name: str, user: Annotated[CurrentUser, Depends(staff)]
) -> FileResponse:
    # Both parts are checked against fixed shapes, so no request can reach outside the reports folder.
    if not _WEEK_RE.fullmatch(week) or name not in REPORT_FILES:
        raise HTTPException(status_code=404, detail="そのレポートはありません。")
    path = reports_dir(ui(request).settings.data_dir) / week / name
    if not path.is_file():
        raise HTTPException(status_code=404, detail="そのレポートはありません。")
    return FileResponse(
        path,
        media_type=REPORT_FILES[name],
        filename=f"shakyo-report-{week}-{name}",
        content_disposition_type="inline" if name in _INLINE else "attachment",
    )
