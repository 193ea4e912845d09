"""What every staff page shares: the UI context (Redis-backed services), templates, banners, helpers.

Routes are plain (sync) functions, so FastAPI runs them in its thread pool and the sync Redis client
never blocks the event loop. Templates autoescape everything: comment text, author names and notes
are untrusted and are only ever inserted as text.
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import redis
from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, select_autoescape

from classifiers.categories import CATEGORIES, Severity
from classifiers.phases.support import SUPPORT_KINDS
from service import keys
from service.accounts import AccountStore, PasswordPolicy, Role
from service.actions import token_problems
from service.hours import JST, EmergencyMode, OperatingHours
from service.incidents import FlareDetector
from service.meta_status.lapse import lapse_warnings
from service.meta_status.state import load_report
from service.moderation import (
    AUDIT_ACTION_JA,
    DECISION_JA,
    STATUS_JA,
    Moderation,
    flare_detector,
    operating_hours,
)
from service.settings import Settings
from service.store import REVIEW, jst_datetime
from service.support.desk import AUDIT_JA as SUPPORT_AUDIT_JA
from service.support.desk import AUDIT_STATUS_JA as SUPPORT_STATUS_JA
from service.support.desk import SupportDesk
from service.support.replies import AUDIT_JA as REPLY_AUDIT_JA
from service.support.templates import AUDIT_JA as TEMPLATE_AUDIT_JA
from service.web_security import CSRF_FIELD, CurrentUser, SecuritySettings, WebSecurity, session_secret

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates"
STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
PLATFORM_JA = {"facebook": "Facebook", "instagram": "Instagram"}
# Policy 3(1)イ: the council's Instagram account. A webhook gives only the media id, not its permalink.
INSTAGRAM_PROFILE_URL = "https://www.instagram.com/mineshakyo/"

# The item page's keys (static/live.js presses the button carrying data-key; j/k follow rel=next/prev).
SHORTCUT_KEYS: dict[str, str] = {"delete": "d", "hide": "h", "dismiss": "n", "escalate": "e"}


@dataclass(slots=True)
class UIContext:
    r: redis.Redis
    settings: Settings
    moderation: Moderation
    accounts: AccountStore
    security: WebSecurity
    emergency: EmergencyMode
    flares: FlareDetector
    hours: OperatingHours
    templates: Jinja2Templates


class LazyUI:
    """Builds the UIContext on first use, so creating the app never needs Redis (the session secret
    lives there); `r` is the UI's own client, closed by the app at shutdown."""

    def __init__(self, r: redis.Redis, settings: Settings) -> None:
        self.r = r
        self._settings = settings
        self._ctx: UIContext | None = None
        self._lock = threading.Lock()

    def get(self) -> UIContext:
        if self._ctx is None:
            with self._lock:
                if self._ctx is None:
                    self._ctx = build_context(self.r, self._settings)
        return self._ctx


def build_context(r: redis.Redis, settings: Settings) -> UIContext:
    secret = settings.secret("session_secret") or session_secret(r)
    accounts = AccountStore(r, policy=password_policy(settings))
    security = WebSecurity(
        r,
        accounts,
        SecuritySettings(
            secret_key=secret,
            secure_cookie=settings.secure_cookies,
            idle_timeout_seconds=settings.session_idle_minutes * 60,
        ),
    )
    return UIContext(
        r=r,
        settings=settings,
        moderation=Moderation(r),
        accounts=accounts,
        security=security,
        emergency=EmergencyMode(r),
        flares=flare_detector(r, settings),
        hours=operating_hours(settings),
        templates=Jinja2Templates(env=_environment()),
    )


def password_policy(settings: Settings) -> PasswordPolicy:
    return PasswordPolicy(
        min_length=settings.password_min_length, max_age_days=settings.password_max_age_days
    )


def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES_DIR)),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["jst"] = jst
    env.globals.update(
        STATUS_JA={**STATUS_JA, **SUPPORT_STATUS_JA},
        DECISION_JA=DECISION_JA,
        SHORTCUT_KEYS=SHORTCUT_KEYS,
        AUDIT_ACTION_JA={**AUDIT_ACTION_JA, **SUPPORT_AUDIT_JA, **REPLY_AUDIT_JA, **TEMPLATE_AUDIT_JA},
        ROLE_JA={**{r.value: r.ja for r in Role}, "system": "自動"},
        CATEGORIES=CATEGORIES,
        PLATFORM_JA=PLATFORM_JA,
        CSRF_FIELD=CSRF_FIELD,
        severity_ja=lambda label: Severity.parse(label).ja if label else "",
        KINDS=SUPPORT_KINDS,
        since_ja=since_ja,
        post_url=post_url,
        # Verdict.action, worded as advice: staff decide, the classifier only suggests.
        ACTION_ADVICE_JA={"delete": "削除", "hide": "非表示（迷うときは課長へ相談）", "review": "内容を読んで判断"},
    )
    return env


def post_url(platform: str, post_id: str) -> str:
    """Where staff open a post: a Facebook post by its id; Instagram only by the account's profile."""
    if platform == "facebook" and post_id:
        return f"https://www.facebook.com/{post_id}"
    return INSTAGRAM_PROFILE_URL


def since_ja(epoch: float, now: float | None = None) -> str:
    """How long ago, in words staff read at a glance (3分前, 2時間前, 4日前)."""
    seconds = max(0, int((time.time() if now is None else now) - epoch))
    if seconds < 60:
        return "1分以内"
    if seconds < 3600:
        return f"{seconds // 60}分前"
    if seconds < 86400:
        return f"{seconds // 3600}時間前"
    return f"{seconds // 86400}日前"


def jst(epoch: float | datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    if epoch is None or epoch == 0:
        return ""
    when = epoch if isinstance(epoch, datetime) else jst_datetime(float(epoch))
    return when.astimezone(JST).strftime(fmt) if when else ""


def ui(request: Request) -> UIContext:
    return request.app.state.ui.get()


def render(
    request: Request, template: str, user: CurrentUser | None, status_code: int = 200, **values: Any
) -> HTMLResponse:
    """Render a page with the banners every page shows (炎上, token problems and lapses, 緊急モード)."""
    ctx = ui(request)
    values.setdefault("flares", ctx.flares.active() if user else [])
    problems, lapses = token_banners(ctx.r) if user else ({}, [])
    values.setdefault("token_problems", problems)
    values.setdefault("token_lapses", lapses)
    values.setdefault("emergency", ctx.emergency.state() if user else None)
    values.setdefault("support_open", SupportDesk(ctx.r).open_count() if user else 0)
    values.setdefault("review_count", int(ctx.r.zcard(keys.queue(REVIEW))) if user else 0)
    is_chief = bool(user and user.role.at_least(Role.CHIEF))
    is_admin = bool(user and user.role.at_least(Role.ADMIN))
    return ctx.templates.TemplateResponse(
        request,
        template,
        {"user": user, "is_chief": is_chief, "is_admin": is_admin, **values},
        status_code=status_code,
    )


def token_banners(r: redis.Redis) -> tuple[dict[str, str], list[str]]:
    """Tokens Meta refused (platform -> message), and warnings of tokens lapsing within 14 days.

    A token the last check found past its lapse time joins the refused ones, so the existing
    expired-token banner shows it before a delete fails.
    """
    problems = token_problems(r)
    now = time.time()
    lapses: list[str] = []
    report = load_report(r)
    for platform, token in report.tokens.items() if report else ():
        if token.valid is False and token.error:  # refused at the last check, before any delete failed
            problems.setdefault(platform, token.error)
    for warning in lapse_warnings(report, now):
        if warning.level == "expired":
            problems.setdefault(warning.platform, warning.message_ja(now))
        else:
            lapses.append(warning.message_ja(now))
    return problems, lapses


def highlight(text: str, matches: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """The text cut into (piece, category) parts; category "" for unmatched text. Overlapping spans merge."""
    spans = sorted(
        (int(m["start"]), int(m["end"]), str(m.get("category", "")))
        for m in matches
        if 0 <= int(m["start"]) < int(m["end"]) <= len(text)
    )
    merged: list[list[Any]] = []
    for start, end, category in spans:
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end, category])
    parts: list[tuple[str, str]] = []
    pos = 0
    for start, end, category in merged:
        if start > pos:
            parts.append((text[pos:start], ""))
        parts.append((text[start:end], category or "match"))
        pos = end
    if pos < len(text):
        parts.append((text[pos:], ""))
    return parts


def new_token() -> str:
    return secrets.token_urlsafe(32)


# -- dependencies ---------------------------------------------------------------------------------------


def staff(request: Request) -> CurrentUser:
    """Any logged-in user with no password change pending (職員 and up)."""
    return ui(request).security.require_user(request)


def chief(request: Request) -> CurrentUser:
    return ui(request).security.require_role(Role.CHIEF)(request)


def admin(request: Request) -> CurrentUser:
    return ui(request).security.require_role(Role.ADMIN)(request)


async def csrf(request: Request) -> None:
    """Refuses (403) a state-changing request without the session's CSRF token."""
    await ui(request).security.require_csrf(request)
