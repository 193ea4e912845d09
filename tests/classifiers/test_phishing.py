"""phishing phase: "your page broke the rules" and fake Meta support → security, by combination of cues."""

from __future__ import annotations

import pytest

from classifiers.phases import normalise, phishing, tokenise
from classifiers.phases.context import Context
from classifiers.verdict import Match


def _matches(text: str) -> list[Match]:
    ctx = Context(original=text)
    normalise.phase(ctx)
    tokenise.phase(ctx)
    ev = phishing.phase(ctx)
    matches = ev.matches if ev is not None else []
    for m in matches:
        assert m.category == "security"
        assert 0 <= m.start < m.end <= len(text)
        assert m.text == text[m.start : m.end]
    return matches


def _score(text: str) -> float:
    return max((m.score for m in _matches(text)), default=0.0)


PHISHING = [
    "【Meta サポートチーム】あなたのページが規約に違反していると報告されました。24時間以内に認証しない場合、"
    "アカウントが停止されます。異議申し立てはこちら https://meta-appeal-center.xyz",
    "お知らせ：あなたのページはコミュニティ規定に違反しています。アカウントは永久に削除されます",
    "Facebook セキュリティ担当です。ログイン情報を教えてください",
    "２段階認証コードを入力してください",
    "著作権侵害の報告がありました。48時間以内に確認してください",
    "ﾍﾟｰｼﾞが規約に違反しています。ｱｶｳﾝﾄが停止されます",
    "Meta Business Support：ページが削除されます。下記のリンクから異議申し立てを行ってください",
    "インスタグラムサポートです。パスワードをDMで送ってください",
]


@pytest.mark.parametrize("text", PHISHING)
def test_flags_phishing(text: str) -> None:
    assert _score(text) >= 0.5, _matches(text)


BENIGN = [
    "確認しました。ありがとうございます",
    "認証ってどうやるんですか？",
    "パスワードを忘れてしまいました",
    "申込フォームに入力してください",
    "24時間以内に返信しますね",
    "本人確認書類をお持ちください",
    "アカウントが停止されたみたいで困っています",
    "運営事務局の皆さまお疲れさまでした",
    "Metaサポートを名乗り「24時間以内にアカウントが停止されます」というメッセージが届く詐欺が増えています。ご注意ください",
]


@pytest.mark.parametrize("text", BENIGN)
def test_benign_text_is_not_flagged(text: str) -> None:
    assert _score(text) < 0.5, _matches(text)


def test_single_generic_word_leaves_no_evidence() -> None:
    assert _matches("確認") == []
    assert _matches("認証") == []


def test_cues_combine() -> None:
    alone = _score("アカウントが停止されます")
    with_violation = _score("規約違反のためアカウントが停止されます")
    with_deadline_and_link = _score(
        "規約違反のため24時間以内にアカウントが停止されます https://example.com/x"
    )
    assert alone < 0.5 <= with_violation < with_deadline_and_link


def test_credential_request_needs_the_request_close_by() -> None:
    assert _score("パスワードを教えてください") >= 0.5
    assert _score("パスワードの管理は大切です。ところで来週のサロンの日程を教えてください") < 0.5


def test_matches_point_at_each_cue() -> None:
    text = "Facebook セキュリティ担当です。ログイン情報を教えてください"
    spans = {m.text for m in _matches(text)}
    assert {"ログイン情報", "教えてください"} <= spans
    assert "Facebook セキュリティ" in spans  # a space inside a cue does not hide it
