"""課長 and 管理者 pages: audit log, accounts, settings with 緊急モード, impersonation list, flare-ups."""

from __future__ import annotations

from contextlib import suppress
from datetime import date, datetime, time
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from service.accounts import ROLE_LABELS_JA, AccountError
from service.actions import token_problems
from service.hours import JST, EmergencyModeError
from service.incidents import FlareError
from service.meta_status.monitor import check_now
from service.meta_status.overview import overview
from service.store import QUEUE_STATUSES
from service.ui.common import admin, chief, csrf, render, staff, ui
from service.web_security import CurrentUser

router = APIRouter()

AUDIT_PAGE = 200

# Policy 4(3): what to do when someone poses as the council.
IMPERSONATION_STEPS: tuple[str, ...] = (
    "該当アカウントの名前・URL・投稿内容を画面保存し、発見日時とともに記録する。",
    "課長に報告し、対応を相談する。",
    "FacebookまたはInstagramの管理者（Meta）に、なりすましアカウントとして削除を依頼する。",
    "社協のホームページで、なりすましアカウントが存在することを周知する。",
    "必要に応じて報道機関へ情報提供し、注意を呼びかける。",
)


@router.get("/audit", response_class=HTMLResponse)
def audit_page(
    request: Request, user: Annotated[CurrentUser, Depends(chief)], item: str = "", day: str = ""
) -> HTMLResponse:
    """The audit log, newest first, read-only: no route edits or removes an entry."""
    audit = ui(request).moderation.audit
    when = _day(day)
    if item or when:
        since = datetime.combine(when, time(0), tzinfo=JST).timestamp() if when else None
        until = since + 86400 if since is not None else None
        entries = list(audit.entries(since=since, until=until, item_id=item or None))[::-1][:AUDIT_PAGE]
    else:
        entries = audit.latest(AUDIT_PAGE)
    store = ui(request).moderation.store
    texts = {i: c.text for i in {e.item_id for e in entries if e.item_id} if (c := store.get(i)) is not None}
    return render(
        request,
        "audit.html",
        user,
        entries=entries,
        texts=texts,
        names=display_names(request),
        item=item,
        day=day if when else "",
    )


def display_names(request: Request) -> dict[str, str]:
    """username → display name, so pages name people the way the header does, with the username beside it."""
    return {a.username: a.display_name for a in ui(request).accounts.list() if a.display_name}


def _day(value: str) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


@router.get("/impersonation", response_class=HTMLResponse)
def impersonation_page(request: Request, user: Annotated[CurrentUser, Depends(staff)]) -> HTMLResponse:
    store = ui(request).moderation.store
    items = [
        c
        for status in QUEUE_STATUSES
        for c in store.list_queue(status, limit=100_000)
        if "impersonation" in c.categories
    ]
    items.sort(key=lambda c: -c.received_at)
    return render(request, "impersonation.html", user, items=items, steps=IMPERSONATION_STEPS)


@router.post("/flares/ack", dependencies=[Depends(csrf)])
def acknowledge_flare(
    request: Request,
    user: Annotated[CurrentUser, Depends(chief)],
    post: Annotated[str, Form()] = "",
    note: Annotated[str, Form()] = "",
) -> Response:
    # Already acknowledged by someone else: the banner is gone either way.
    with suppress(FlareError):
        ui(request).flares.acknowledge(post, user.username, note=note.strip())
    return RedirectResponse("/queue", status_code=303)


# -- accounts (管理者) ----------------------------------------------------------------------------------


def _users_page(
    request: Request,
    user: CurrentUser,
    *,
    message: str = "",
    error: str = "",
    status_code: int = 200,
    typed: dict[str, str] | None = None,
) -> HTMLResponse:
    """The accounts page; `typed` refills the new-account form after a refusal (never the password)."""
    ctx = ui(request)
    accounts = ctx.accounts.list()
    return render(
        request,
        "users.html",
        user,
        status_code,
        accounts=accounts,
        locks={
            a.username: until for a in accounts if (until := ctx.security.throttle.locked_until(a.username))
        },
        roles=ROLE_LABELS_JA,
        policy=ctx.accounts.policy,
        message=message,
        error=error,
        typed=typed or {},
    )


@router.get("/admin/users", response_class=HTMLResponse)
def users_page(
    request: Request, user: Annotated[CurrentUser, Depends(admin)], message: str = ""
) -> HTMLResponse:
    return _users_page(request, user, message=_USER_MESSAGES.get(message, ""))


_USER_MESSAGES = {
    "created": "アカウントを作成しました。本人に仮パスワードを伝え、初回ログイン時に変更してもらってください。",
    "reset": "仮パスワードを設定しました。本人は次回ログイン時に変更を求められます。",
    "role": "権限を変更しました。",
    "disabled": "アカウントを無効にしました。",
    "enabled": "アカウントを有効にしました。",
    "unlocked": "ログインのロックを解除しました。",
}


@router.post("/admin/users", dependencies=[Depends(csrf)])
def users_change(  # nosec B107  # form fields default to empty
    request: Request,
    user: Annotated[CurrentUser, Depends(admin)],
    op: Annotated[str, Form()] = "",
    username: Annotated[str, Form()] = "",
    display_name: Annotated[str, Form()] = "",
    role: Annotated[str, Form()] = "staff",
    password: Annotated[str, Form()] = "",
) -> Response:
    ctx = ui(request)
    accounts, by = ctx.accounts, user.username
    try:
        if op == "create":
            accounts.create(
                username, password, role, display_name=display_name, must_change_password=True, by=by
            )
            done = "created"
        elif op == "reset":
            accounts.set_password(username, password, by=by)
            ctx.security.sessions.destroy_all_for(username)
            done = "reset"
        elif op == "role":
            accounts.set_role(username, role, by=by)
            done = "role"
        elif op == "disable":
            accounts.disable(username, by=by)
            ctx.security.sessions.destroy_all_for(username)
            done = "disabled"
        elif op == "enable":
            accounts.enable(username, by=by)
            done = "enabled"
        elif op == "unlock":
            ctx.security.throttle.unlock(username)
            done = "unlocked"
        else:
            return _users_page(request, user, error="不明な操作です。", status_code=400)
    except AccountError as exc:
        typed = {"username": username, "display_name": display_name, "role": role} if op == "create" else None
        return _users_page(request, user, error=exc.message_ja, status_code=400, typed=typed)
    return RedirectResponse(f"/admin/users?{urlencode({'message': done})}", status_code=303)


# -- settings and 緊急モード (管理者) -------------------------------------------------------------------


def _settings_page(
    request: Request, user: CurrentUser, *, error: str = "", status_code: int = 200
) -> HTMLResponse:
    ctx = ui(request)
    s = ctx.settings
    return render(
        request,
        "settings.html",
        user,
        status_code,
        hours=ctx.hours,
        settings=s,
        flare_webhook=bool(s.secret("flare_webhook_url")),
        tokens={
            "facebook": bool(s.secret("facebook_page_token")),
            "instagram": bool(s.secret("instagram_token")),
        },
        problems=token_problems(ctx.r),
        meta=overview(ctx.r, s, datetime.now(JST).timestamp()),
        error=error,
    )


@router.get("/admin/settings", response_class=HTMLResponse)
def settings_page(request: Request, user: Annotated[CurrentUser, Depends(admin)]) -> HTMLResponse:
    return _settings_page(request, user)


@router.post("/admin/meta/check", dependencies=[Depends(csrf)])
def meta_check(request: Request, user: Annotated[CurrentUser, Depends(admin)]) -> Response:
    """Ask Meta now (read only), e.g. right after a renewed token was put in place."""
    ctx = ui(request)
    check_now(ctx.r, ctx.settings)
    return RedirectResponse("/admin/settings#meta", status_code=303)


@router.post("/admin/emergency", dependencies=[Depends(csrf)])
def emergency(
    request: Request,
    user: Annotated[CurrentUser, Depends(admin)],
    on: Annotated[str, Form()] = "",
    reason: Annotated[str, Form()] = "",
) -> Response:
    mode = ui(request).emergency
    try:
        if on == "1":
            mode.enable(user.username, reason)
        else:
            mode.disable(user.username)
    except EmergencyModeError as exc:
        return _settings_page(request, user, error=exc.message_ja, status_code=400)
    return RedirectResponse("/admin/settings", status_code=303)
