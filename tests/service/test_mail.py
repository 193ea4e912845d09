"""service.notify.mail against a real SMTP server on loopback (aiosmtpd)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from service.notify.mail import MailError, mail_configured, send_mail
from service.settings import Settings
from tests.conftest import free_port
from tests.fakes.smtp import smtp_server


def test_sends_utf8_mail_to_every_recipient(make_settings: Callable[..., Settings]) -> None:
    with smtp_server() as (port, inbox):
        settings = make_settings(
            smtp_host="127.0.0.1",
            smtp_port=port,
            smtp_starttls=False,
            smtp_from="moderation@shakyo.example.jp",
            notify_email_to="soudan@shakyo.example.jp, kacho@shakyo.example.jp",
        )
        send_mail(settings, "【相談】確認してください", "本文：至急確認をお願いします。")
        (msg,) = inbox.wait_for(1)
    assert msg["Subject"] == "【相談】確認してください"
    assert msg["From"] == "moderation@shakyo.example.jp"
    assert msg.get_content().strip() == "本文：至急確認をお願いします。"
    assert sorted(inbox.recipients[0]) == ["kacho@shakyo.example.jp", "soudan@shakyo.example.jp"]


# Plain-text AUTH is what the loopback test server offers; aiosmtpd warns about it on every connection.
@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_logs_in_when_a_user_is_set(make_settings: Callable[..., Settings]) -> None:
    with smtp_server(user="mod@shakyo.example.jp", password="pw-123") as (port, inbox):
        common: dict[str, Any] = {
            "smtp_host": "127.0.0.1",
            "smtp_port": port,
            "smtp_starttls": False,
            "smtp_user": "mod@shakyo.example.jp",
            "notify_email_to": "soudan@shakyo.example.jp",
        }
        send_mail(make_settings(smtp_password="pw-123", **common), "件名", "本文")
        assert inbox.wait_for(1)[0]["From"] == "mod@shakyo.example.jp"  # the user name is the sender
        with pytest.raises(MailError) as refused:
            send_mail(make_settings(smtp_password="wrong-pw", **common), "件名", "本文")
    assert "ログインできません" in refused.value.message_ja and "wrong-pw" not in refused.value.message_ja


def test_unconfigured_sends_nothing_and_unreachable_raises(make_settings: Callable[..., Settings]) -> None:
    assert not mail_configured(make_settings())
    send_mail(make_settings(), "件名", "本文")  # no host, no recipients: nothing to do
    closed = make_settings(
        smtp_host="127.0.0.1",
        smtp_port=free_port(),
        smtp_starttls=False,
        smtp_from="a@example.jp",
        notify_email_to="b@example.jp",
    )
    with pytest.raises(MailError) as failed:
        send_mail(closed, "件名", "本文")
    assert "送信できませんでした" in failed.value.message_ja


def test_recipients_must_be_addresses(make_settings: Callable[..., Settings]) -> None:
    with pytest.raises(ValueError, match="not an e-mail address"):
        make_settings(notify_email_to="soudan@example.jp, 総務課")
