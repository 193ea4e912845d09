"""The 「Meta接続」 picture shared by the settings page and `shakyo-mod meta status`.

Per platform: the configured account, the token's owner, kind, expiry and permissions, the webhook fields
read back, and when a webhook last arrived. No webhook for `SHAKYO_WEBHOOK_SILENCE_HOURS` is a warning:
Meta may have stopped sending (an app taken out of the Page, a lapsed token, a changed callback URL), and
nothing else would show it. Quiet hours on the Page look the same, so the message says what to check.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import redis

from service.hours import JST
from service.meta_status.state import configured_platforms, last_webhooks, load_report
from service.reconcile.sync import MISSED_INDEX
from service.settings import Settings
from webhooks.connect import Check, TokenStatus

_PLATFORM_JA = {"facebook": "Facebook", "instagram": "Instagram"}
_KIND_JA = {"PAGE": "ページのトークン", "USER": "ユーザーのトークン"}


@dataclass(frozen=True, slots=True)
class PlatformView:
    platform: str
    name_ja: str
    account_id: str
    token: TokenStatus | None
    expiry_ja: str
    subscribed: list[str] | None
    last_webhook: float | None
    silence_ja: str  # "" while webhooks arrive

    @property
    def owner_ja(self) -> str:
        if self.token is None:
            return "未確認"
        if self.token.valid is False:
            return self.token.error or "使えません"
        kind = _KIND_JA.get(self.token.kind, "")
        owner = f"{self.token.owner_name}（{self.token.owner_id}）" if self.token.owner_id else "不明"
        return f"{owner} {kind}".strip()

    @property
    def permissions_ja(self) -> str:
        if self.token is None or self.token.scopes is None:
            return "未確認（SHAKYO_META_APP_ID を設定すると確かめます）"
        return "、".join(self.token.scopes) or "なし"

    @property
    def subscribed_ja(self) -> str:
        if self.subscribed is None:
            return "未確認"
        return "、".join(self.subscribed) or "未登録"


@dataclass(frozen=True, slots=True)
class MetaOverview:
    checked_at: float | None
    checks: list[Check] = field(default_factory=list)
    platforms: list[PlatformView] = field(default_factory=list)
    silence_hours: int = 24

    @property
    def failed(self) -> list[Check]:
        return [c for c in self.checks if c.mark == "fail"]


def overview(r: redis.Redis, settings: Settings, now: float) -> MetaOverview:
    report = load_report(r)
    seen = last_webhooks(r)
    views = []
    for platform in configured_platforms(settings):
        token = report.tokens.get(platform) if report else None
        account = settings.facebook_page_id if platform == "facebook" else settings.instagram_account_id
        views.append(
            PlatformView(
                platform=platform,
                name_ja=_PLATFORM_JA[platform],
                account_id=account or "",
                token=token,
                expiry_ja=expiry_ja(token, now),
                subscribed=report.subscribed.get(platform) if report else None,
                last_webhook=seen.get(platform),
                silence_ja=silence_ja(
                    seen.get(platform),
                    now,
                    settings.webhook_silence_hours,
                    found_by_sync=_found_by_sync(r, platform, seen.get(platform)),
                ),
            )
        )
    return MetaOverview(
        checked_at=report.checked_at if report else None,
        checks=report.checks if report else [],
        platforms=views,
        silence_hours=settings.webhook_silence_hours,
    )


def expiry_ja(token: TokenStatus | None, now: float) -> str:
    lapses = token.lapses_at if token else None
    if lapses is None:
        return "未確認"
    if lapses == 0:
        return "期限なし"
    when = jst(lapses)
    if lapses <= now:
        return f"{when}に切れています"
    return f"{when}まで（あと{int((lapses - now) // 86400)}日）"


def _found_by_sync(r: redis.Redis, platform: str, since: float | None) -> int:
    """Comments of ``platform`` the reconciliation job found after ``since`` that no webhook had brought."""
    found = r.zrangebyscore(MISSED_INDEX, since if since is not None else "-inf", "+inf")
    return sum(1 for item in found if str(item).startswith(platform + ":"))


def silence_ja(last: float | None, now: float, hours: int, *, found_by_sync: int = 0) -> str:
    """The warning for a platform whose webhooks have gone quiet; the reconciliation job's finds tell a broken
    subscription (comments were posted, no webhook came) from a quiet Page."""
    if found_by_sync and (last is None or now - last > hours * 3600):
        return (
            f"Webhookが{hours}時間以上届いていないのに、Metaとの照合でその間のコメントが{found_by_sync}件"
            "見つかりました。Metaからの通知が止まっています。`shakyo-mod meta connect` で購読を確かめてください。"
        )
    if last is None:
        return (
            "Webhookがまだ一度も届いていません。`shakyo-mod meta connect` の結果と、"
            "アプリダッシュボードの「Webhooks」のCallback URLを確かめてください。"
        )
    if now - last <= hours * 3600:
        return ""
    return (
        f"{hours}時間以上Webhookが届いていません（最後は{jst(last)}）。Metaとの照合ではこの間のコメントは"
        "見つかっていないので、ページが静かなだけかもしれません。`shakyo-mod meta status` で確かめてください。"
    )


def jst(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, JST).strftime("%Y-%m-%d %H:%M")
