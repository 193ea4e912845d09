"""Login, logout and the password change page (policy 3(1)カ)."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from service.accounts import AccountError
from service.hours import now_jst
from service.ui.common import csrf, new_token, render, ui
from service.web_security import LOGIN_PATH, PASSWORD_PATH, CurrentUser, safe_next

router = APIRouter()

# The login form has no session yet, so its CSRF token is a double-submit cookie (SameSite=Strict).
LOGIN_CSRF_COOKIE = "shakyo_login_csrf"
HOME = "/queue"


def _login_page(
    request: Request, *, next_path: str, error: str = "", status_code: int = 200, expired: bool = False
) -> HTMLResponse:
    token = new_token()
    response = render(
        request,
        "login.html",
        None,
        status_code,
        next_path=next_path,
        error=error,
        login_csrf=token,
        expired=expired,
    )
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=ui(request).settings.secure_cookies,
        path=LOGIN_PATH,
    )
    return response


@router.get(LOGIN_PATH, response_class=HTMLResponse)
def login_form(request: Request, next: str = HOME, expired: int = 0) -> HTMLResponse:
    return _login_page(request, next_path=safe_next(next, HOME), expired=bool(expired))


@router.post(LOGIN_PATH, response_class=HTMLResponse)
def login(  # nosec B107  # form fields default to empty
    request: Request,
    username: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = HOME,
) -> Response:
    target = safe_next(next, HOME)
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not cookie or not hmac.compare_digest(cookie.encode(), csrf_token.encode()):
        return _login_page(
            request,
            next_path=target,
            error="画面の有効期限が切れました。もう一度ログインしてください。",
            status_code=403,
        )
    response = RedirectResponse(target, status_code=303)
    outcome = ui(request).security.login_request(request, response, username, password)
    if not outcome.ok:
        return _login_page(request, next_path=target, error=outcome.message_ja, status_code=401)
    response.delete_cookie(LOGIN_CSRF_COOKIE, path=LOGIN_PATH)
    if outcome.password_change_reason:
        response.headers["location"] = PASSWORD_PATH
    return response


@router.post("/logout", dependencies=[Depends(csrf)])
def logout(request: Request) -> Response:
    response = RedirectResponse(LOGIN_PATH, status_code=303)
    ui(request).security.logout(request, response)
    return response


def _logged_in(request: Request) -> CurrentUser:
    """Logged in, even with a password change pending (this page is where it is done)."""
    return ui(request).security.require_login(request)


@router.get(PASSWORD_PATH, response_class=HTMLResponse)
def password_form(request: Request, user: Annotated[CurrentUser, Depends(_logged_in)]) -> HTMLResponse:
    reason = user.account.password_change_reason(now_jst(), ui(request).accounts.policy)
    return render(request, "password.html", user, reason=reason, policy=ui(request).accounts.policy)


@router.post(PASSWORD_PATH, response_class=HTMLResponse, dependencies=[Depends(csrf)])
def change_password(  # nosec B107  # form fields default to empty
    request: Request,
    user: Annotated[CurrentUser, Depends(_logged_in)],
    current_password: Annotated[str, Form()] = "",
    new_password: Annotated[str, Form()] = "",
    confirm_password: Annotated[str, Form()] = "",
) -> Response:
    ctx = ui(request)
    reason = user.account.password_change_reason(now_jst(), ctx.accounts.policy)
    if new_password != confirm_password:
        error = "確認用のパスワードが一致しません。"
    else:
        response = RedirectResponse(f"{HOME}?changed=1", status_code=303)
        try:
            ctx.security.change_password(request, response, user, current_password, new_password)
        except AccountError as exc:
            error = exc.message_ja
        else:
            return response
    return render(request, "password.html", user, 400, reason=reason, policy=ctx.accounts.policy, error=error)
