"""Warnings before an access token lapses: 14 and 3 days ahead, and once it has.

A token lapses at the earlier of its expiry and its data-access expiry (`TokenStatus.lapses_at`, from the
last stored check). Every page shows a banner while a warning stands (`lapse_warnings`, computed from the
clock at each request). Each warning is also sent once (`notify_lapses`, deduplicated per platform, level
and lapse time in Redis, so several processes and restarts send it once) to the outgoing webhook
(`SHAKYO_FLARE_WEBHOOK_URL`, the same one as 炎上 warnings) and by e-mail when SMTP is configured
(`service.notify.mail`, SHAKYO_SMTP_* and SHAKYO_NOTIFY_EMAIL_TO).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal
from urllib.parse import urlsplit

import redis
import requests

from service.hours import JST
from service.meta_status.state import LAPSE_SENT_KEY
from service.notify.mail import MailError, send_mail
from service.settings import Settings
from webhooks.connect import ConnectionReport

log = logging.getLogger(__name__)

Level = Literal["expired", "3", "14"]
# Nearest first: a token 2 days from lapsing stands at level "3", not "14".
WARN_LEVELS: tuple[tuple[int, Level], ...] = ((3, "3"), (14, "14"))
_DAY = 86400
_PLATFORM_JA = {"facebook": "Facebook", "instagram": "Instagram"}
_ENV = {"facebook": "SHAKYO_FACEBOOK_PAGE_TOKEN", "instagram": "SHAKYO_INSTAGRAM_TOKEN"}


@dataclass(frozen=True, slots=True)
class LapseWarning:
    platform: str
    level: Level
    lapses_at: float

    def days_left(self, now: float) -> int:
        """Whole days left (2.5 days is "あと2日"), as the checklist counts them."""
        return max(0, int((self.lapses_at - now) // _DAY))

    def message_ja(self, now: float) -> str:
        name = _PLATFORM_JA.get(self.platform, self.platform)
        when = datetime.fromtimestamp(self.lapses_at, JST).strftime("%Y-%m-%d %H:%M")
        renew = f"管理者はMetaでトークンを取り直し、.env の {_ENV.get(self.platform, '')} を更新して再起動してください。"
        if self.level == "expired":
            return f"{name}のアクセストークンの有効期限が切れています（{when}）。コメントの削除・非表示ができません。{renew}"
        return (
            f"{name}のアクセストークンの有効期限まであと{self.days_left(now)}日です（{when}まで）。"
            f"期限が切れるとコメントの削除・非表示ができなくなります。{renew}"
        )


def lapse_warnings(report: ConnectionReport | None, now: float) -> list[LapseWarning]:
    """The warnings standing at `now` for the tokens in the last check; none for a token that never lapses."""
    if report is None:
        return []
    found: list[LapseWarning] = []
    for platform, token in sorted(report.tokens.items()):
        lapses = token.lapses_at
        if not lapses:  # None: unknown; 0: never
            continue
        left = lapses - now
        if left <= 0:
            found.append(LapseWarning(platform, "expired", lapses))
            continue
        for days, level in WARN_LEVELS:
            if left <= days * _DAY:
                found.append(LapseWarning(platform, level, lapses))
                break
    return found


Sender = Callable[[LapseWarning, str], None]


def notify_lapses(
    r: redis.Redis, report: ConnectionReport | None, now: float, senders: list[Sender]
) -> list[LapseWarning]:
    """Send each standing warning that has not been sent yet; returns the ones sent now."""
    sent: list[LapseWarning] = []
    for warning in lapse_warnings(report, now):
        field = f"{warning.platform}:{warning.level}:{int(warning.lapses_at)}"
        if not r.hsetnx(LAPSE_SENT_KEY, field, repr(now)):
            continue
        message = warning.message_ja(now)
        log.warning(
            "access token lapse warning",
            extra={"platform": warning.platform, "level": warning.level, "lapses_at": warning.lapses_at},
        )
        for send in senders:
            send(warning, message)
        sent.append(warning)
    return sent


def webhook_sender(url: str, timeout: float = 5.0) -> Sender:
    """POST the warning as JSON to the outgoing webhook; a failure is logged and never raised."""
    host = urlsplit(url).hostname or "?"  # the URL of a chat webhook is itself a secret

    def send(warning: LapseWarning, message: str) -> None:
        payload = {
            "event": "token_lapse",
            "text": message,
            "platform": warning.platform,
            "level": warning.level,
            "lapses_at": datetime.fromtimestamp(warning.lapses_at, JST).isoformat(),
        }
        try:
            resp = requests.post(url, json=payload, timeout=timeout)
        except requests.RequestException as exc:
            log.warning("token lapse webhook to %s failed: %s", host, type(exc).__name__)
            return
        if not resp.ok:
            log.warning("token lapse webhook to %s answered HTTP %d", host, resp.status_code)

    return send


def mail_sender(settings: Settings) -> Sender:
    """E-mail the warning to SHAKYO_NOTIFY_EMAIL_TO; a failure is logged (one line, no secrets), never raised."""

    def send(warning: LapseWarning, message: str) -> None:
        name = _PLATFORM_JA.get(warning.platform, warning.platform)
        what = "期限切れ" if warning.level == "expired" else "期限が近づいています"
        try:
            send_mail(settings, f"【要対応】{name}のアクセストークンの{what}", message)
        except MailError as exc:
            log.warning("token lapse mail not sent: %s", exc.message_ja)

    return send
