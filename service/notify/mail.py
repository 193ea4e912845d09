"""E-mail to staff through the council's SMTP server (stdlib smtplib + email), for alerts that cannot wait.

Settings: SHAKYO_SMTP_HOST, SHAKYO_SMTP_PORT (587; 465 means TLS from the start), SHAKYO_SMTP_USER,
SHAKYO_SMTP_PASSWORD, SHAKYO_SMTP_FROM (else the user name when it is an address), SHAKYO_SMTP_STARTTLS
(true: upgrade before logging in) and SHAKYO_NOTIFY_EMAIL_TO (comma-separated recipients). Without a host or a
recipient nothing is sent: e-mail is optional, the staff UI is not.

Callers get a MailError (one Japanese line, never the password or the message) and decide what a failure
means for them; nothing here retries, since an alert re-sent minutes later is worse than one logged as failed.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from service.settings import Settings

log = logging.getLogger(__name__)

_TIMEOUT_SECONDS = 15.0
_IMPLICIT_TLS_PORT = 465


class MailError(Exception):
    def __init__(self, message_ja: str) -> None:
        super().__init__(message_ja)
        self.message_ja = message_ja


def mail_configured(settings: Settings) -> bool:
    return bool(settings.smtp_host and settings.notify_email_to)


def _sender(settings: Settings) -> str:
    if settings.smtp_from:
        return settings.smtp_from
    if settings.smtp_user and "@" in settings.smtp_user:
        return settings.smtp_user
    raise MailError("送信元アドレスがありません。SHAKYO_SMTP_FROM を設定してください。")


def build_message(settings: Settings, subject: str, body: str) -> EmailMessage:
    msg = EmailMessage()
    sender = _sender(settings)
    msg["Subject"] = subject
    msg["From"] = sender
    msg["To"] = ", ".join(settings.notify_email_to)
    msg["Date"] = formatdate(localtime=True)
    msg["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
    msg.set_content(body)  # UTF-8, encoded for 7-bit transport by the email package
    return msg


def send_mail(settings: Settings, subject: str, body: str) -> None:
    """Send one message to SHAKYO_NOTIFY_EMAIL_TO; does nothing when e-mail is not configured.

    Raises MailError when the server cannot be reached or refuses the message.
    """
    if not mail_configured(settings):
        return
    msg = build_message(settings, subject, body)
    host = settings.smtp_host or ""
    tls = ssl.create_default_context()
    try:
        if settings.smtp_port == _IMPLICIT_TLS_PORT:
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                host, settings.smtp_port, timeout=_TIMEOUT_SECONDS, context=tls
            )
        else:
            smtp = smtplib.SMTP(host, settings.smtp_port, timeout=_TIMEOUT_SECONDS)
        with smtp:
            if settings.smtp_port != _IMPLICIT_TLS_PORT and settings.smtp_starttls:
                smtp.starttls(context=tls)
            if settings.smtp_user:
                smtp.login(settings.smtp_user, settings.secret("smtp_password"))
            smtp.send_message(msg)
    except smtplib.SMTPAuthenticationError as exc:
        raise MailError(
            "メールサーバーにログインできませんでした。SMTPのユーザー名とパスワードを確認してください。"
        ) from exc
    except (smtplib.SMTPException, OSError) as exc:
        # The exception text may quote the server's reply; the type and host are enough to act on.
        raise MailError(
            f"メールを送信できませんでした（{host}:{settings.smtp_port}、{type(exc).__name__}）。"
            "SMTPの設定とネットワークを確認してください。"
        ) from exc
    log.info("mail sent", extra={"recipients": len(settings.notify_email_to), "smtp_host": host})
