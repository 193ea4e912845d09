"""Tell staff at once, at any hour, that a comment needs support: the outgoing webhook and e-mail.

The webhook is the one 炎上 warnings use (SHAKYO_FLARE_WEBHOOK_URL, e.g. a chat channel); e-mail goes to
SHAKYO_NOTIFY_EMAIL_TO when SHAKYO_SMTP_* are set (service.notify.mail). Both carry the kind, the time, the
author, the comment (it is public on the Page already; staff on call must be able to judge it from a phone)
and a link to the 相談 item. A failure is logged and audited and never stops the worker; the item is
in the 相談 view and the banner whatever happens here. Logs never carry the text or the webhook URL.
"""

from __future__ import annotations

import logging
from datetime import datetime
from urllib.parse import quote, urlsplit

import requests

from classifiers.phases.support import SUPPORT_KINDS
from service.hours import JST
from service.notify.mail import MailError, mail_configured, send_mail
from service.settings import Settings
from service.store import Comment
from service.support.desk import SupportItem

log = logging.getLogger(__name__)

_WEBHOOK_TIMEOUT = 5.0
_EXCERPT_CHARS = 400
_PLATFORM_JA = {"facebook": "Facebook", "instagram": "Instagram"}


def item_path(item_id: str) -> str:
    return f"/support/{quote(item_id, safe=':')}"


class SupportNotifier:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self.webhook_url = settings.secret("flare_webhook_url")

    def message(self, item: SupportItem, comment: Comment) -> tuple[str, str]:
        """(subject, body) in Japanese."""
        kind_ja = SUPPORT_KINDS.get(item.kind, item.kind)
        posted = datetime.fromtimestamp(comment.created_time or comment.received_at, JST)
        text = comment.text if len(comment.text) <= _EXCERPT_CHARS else comment.text[:_EXCERPT_CHARS] + "…"
        base = self._settings.public_url
        where = (
            f"{base}{item_path(item.item_id)}"
            if base
            else "職員画面の「相談」を開いてください（SHAKYO_PUBLIC_URL を設定するとここにリンクが入ります）。"
        )
        subject = f"【相談・至急】{kind_ja}の可能性があるコメント（{_PLATFORM_JA.get(comment.platform, '')}）"
        body = "\n".join(
            [
                "相談が必要かもしれないコメントが投稿されました。内容を確認し、対応してください。",
                "このコメントは自動では非表示・削除されません。",
                "",
                f"種類：{kind_ja}",
                f"投稿日時：{posted:%Y-%m-%d %H:%M}（日本時間）",
                f"媒体：{_PLATFORM_JA.get(comment.platform, comment.platform)}",
                f"投稿者：{comment.author_name or '（不明）'}",
                "コメント：",
                text,
                "",
                f"対応画面：{where}",
            ]
        )
        return subject, body

    def notify(self, item: SupportItem, comment: Comment) -> tuple[list[str], list[str]]:
        """Send on every configured channel; returns (delivered, failed) channel names in Japanese."""
        subject, body = self.message(item, comment)
        delivered: list[str] = []
        failed: list[str] = []
        if self.webhook_url:
            (delivered if self._post(item, subject, body) else failed).append("Webhook")
        if mail_configured(self._settings):
            try:
                send_mail(self._settings, subject, body)
                delivered.append("メール")
            except MailError as exc:
                log.warning("support mail failed", extra={"item_id": item.item_id, "error": exc.message_ja})
                failed.append("メール")
        return delivered, failed

    def _post(self, item: SupportItem, subject: str, body: str) -> bool:
        payload = {
            "event": "needs_support",
            "text": f"{subject}\n{body}",
            "item_id": item.item_id,
            "kind": item.kind,
            "detected_at": datetime.fromtimestamp(item.detected_at, JST).isoformat(timespec="seconds"),
        }
        # The URL of a chat webhook is itself a secret: log only its host.
        host = urlsplit(self.webhook_url).hostname or "?"
        try:
            resp = requests.post(self.webhook_url, json=payload, timeout=_WEBHOOK_TIMEOUT)
        except requests.RequestException as exc:
            log.warning("support webhook to %s failed: %s", host, type(exc).__name__)
            return False
        if not resp.ok:
            log.warning("support webhook to %s answered HTTP %d", host, resp.status_code)
            return False
        return True
