"""links phase: URL extraction with exact spans, allow/deny lists, shorteners, look-alikes, punycode."""

from __future__ import annotations

import pytest

from classifiers.phases import links, normalise, tokenise
from classifiers.phases.context import Context
from classifiers.verdict import Match


def _matches(text: str) -> list[Match]:
    ctx = Context(original=text)
    normalise.phase(ctx)
    tokenise.phase(ctx)
    ev = links.phase(ctx)
    matches = ev.matches if ev is not None else []
    for m in matches:
        assert m.category in ("harmful_link", "security")
        assert 0 <= m.start < m.end <= len(text)
        assert m.text == text[m.start : m.end]
    return matches


EXTRACTION = [
    ("日本語テキストhttps://example.com/xx続き", "https://example.com/xx", "example.com"),
    (
        "詳しくはｈｔｔｐｓ：／／ｅｘａｍｐｌｅ．ｃｏｍ／ａｂｃを見て",
        "ｈｔｔｐｓ：／／ｅｘａｍｐｌｅ．ｃｏｍ／ａｂｃ",
        "example.com",
    ),
    ("見てね example.xyz/page!", "example.xyz/page", "example.xyz"),
    ("hxxps://evil[.]example/login", "hxxps://evil[.]example/login", "evil.example"),
    ("ここ→ bad(dot)example(dot)com", "bad(dot)example(dot)com", "bad.example.com"),
    ("(https://example.com/a_(b))です", "https://example.com/a_(b)", "example.com"),
    ("URLはwww.Example.COM。", "www.Example.COM", "example.com"),
    ("ttps://example.net/x", "ttps://example.net/x", "example.net"),
    # Without a scheme: www. is a link whatever the TLD; other bare domains need a listed TLD.
    ("安いよ www.brand-cheap.fashion です", "www.brand-cheap.fashion", "brand-cheap.fashion"),
    ("激安はwww.brand-cheap.fashion/saleで", "www.brand-cheap.fashion/sale", "brand-cheap.fashion"),
    (
        "ｗｗｗ．ｂｒａｎｄ－ｃｈｅａｐ．ｆａｓｈｉｏｎ",
        "ｗｗｗ．ｂｒａｎｄ－ｃｈｅａｐ．ｆａｓｈｉｏｎ",
        "brand-cheap.fashion",
    ),
    ("(www2.brand-cheap.boutique)", "www2.brand-cheap.boutique", "www2.brand-cheap.boutique"),
    ("www.example.xn--tckwe/", "www.example.xn--tckwe/", "example.xn--tckwe"),
    ("www[.]brand-cheap[.]fashion", "www[.]brand-cheap[.]fashion", "brand-cheap.fashion"),
    ("brand-cheap.jp/sale を見て", "brand-cheap.jp/sale", "brand-cheap.jp"),
    ("セールはshop.brand-cheap.fashion/bagへ", "shop.brand-cheap.fashion/bag", "shop.brand-cheap.fashion"),
]


@pytest.mark.parametrize(("text", "span", "host"), EXTRACTION)
def test_extracts_urls_with_exact_spans(text: str, span: str, host: str) -> None:
    (url,) = links.find_urls(text)
    assert text[url.start : url.end] == span
    assert url.host == host


@pytest.mark.parametrize(
    "text",
    [
        "ver.2.0 になりました",
        "Node.jsの勉強会",
        "午前10時〜a.m.",
        "メールはtaro@example.comへ",  # an e-mail is personal_info's, not a link
        "今日は晴れ。明日も晴れ。",
        "体重が3.5kg増えた",
        "ファイル名.txt を送って",
        "Node.js/Deno どっち",
        "e.g. 例えば",
        "Mr.Children 最高",
        "草wwww.まじで",
        "ウケるwww.ok.",
        "No.1 になった",
    ],
)
def test_not_urls(text: str) -> None:
    assert links.find_urls(text) == []


FLAGGED = [
    ("https://faceb00k-help.com/login", "security", "link:lookalike:"),
    ("instagrarn.com で確認", "security", "link:lookalike:"),
    ("https://rneta-support.xyz", "security", "link:lookalike:"),
    ("https://meta-support-center.com/appeal", "security", "link:lookalike:"),
    ("https://facebook.com.verify-page.net", "security", "link:lookalike:"),
    ("http://facebok.com/x", "security", "link:lookalike:"),
    ("https://facebooklogin.example/", "security", "link:lookalike:"),
    ("見てhttps://xn--80ak6aa92e.com/", "security", "link:punycode:"),
    ("https://facebook.com@evil.example/", "security", "link:userinfo:"),
    ("http://192.168.10.5/login", "security", "link:ip:"),
    ("https://account-verify.com/", "security", "link:suspicious:"),
    ("hxxps://evil[.]xyz/login", "security", "link:suspicious:"),
    ("無料動画 https://hot-porn.example/", "harmful_link", "link:deny:"),
    ("deai-match.net で出会おう", "harmful_link", "link:deny:"),
    ("https://online-casino.example/", "harmful_link", "link:deny:"),
    ("https://sex-chat.example/", "harmful_link", "link:deny:"),
    ("https://example.com/free.apk", "harmful_link", "link:download:"),
    ("当選しました！ bit.ly/abc123 から受け取り", "harmful_link", "link:shortener:"),
    ("当選しました！ www.gift-verify.fashion/login から受け取り", "security", "link:suspicious:"),
    ("www.faceb00k-help.fashion で確認", "security", "link:lookalike:"),
]


@pytest.mark.parametrize(("text", "category", "rule_prefix"), FLAGGED)
def test_flags_harmful_and_phishing_links(text: str, category: str, rule_prefix: str) -> None:
    found = [m for m in _matches(text) if m.category == category and m.score >= 0.5]
    assert found, _matches(text)
    assert found[0].rule_id.startswith(rule_prefix)


@pytest.mark.parametrize(
    "text",
    [
        "https://www.city.mine.lg.jp/soshiki/",
        "facebook.com/mineshishakyo",
        "https://www.instagram.com/mineshakyo/",
        "https://www.mhlw.go.jp/stf/index.html を参照",
        "動画はyoutu.be/abcdefg",
        "note.com/someone/n/n123",
        "https://m.facebook.com/groups/1234",
        "meta.wikimedia.org",
        "https://www.essex.ac.uk/",
        "https://alphabet.example/",
        "https://av-watch.example/review",
        "https://example.com/news",
    ],
)
def test_plain_links_do_not_flag(text: str) -> None:
    assert [m for m in _matches(text) if m.score >= 0.5] == []


def test_allowed_links_leave_no_evidence() -> None:
    assert _matches("https://www.city.mine.lg.jp/ と https://www.facebook.com/mineshishakyo/") == []


def test_shortener_alone_is_review_evidence() -> None:
    (m,) = _matches("イベントの詳細はbit.ly/abc123")
    assert m.rule_id == "link:shortener:bit.ly"
    assert m.category == "harmful_link"
    assert 0 < m.score < 0.5
    assert m.text == "bit.ly/abc123"


def test_suspicious_tld_alone_is_review_evidence() -> None:
    (m,) = _matches("abc.xyz")
    assert m.rule_id == "link:suspicious:abc.xyz" and m.score < 0.5


def test_skeleton_folds_lookalike_letters() -> None:
    assert links.skeleton("faceb00k") == links.skeleton("facebook")
    assert links.skeleton("instagrarn") == links.skeleton("instagram")
    assert links.skeleton("rneta") == links.skeleton("meta")


def test_domain_list_has_a_version() -> None:
    assert links.DOMAINS_VERSION
    assert links.allowed("city.mine.lg.jp") and links.allowed("www.pref.yamaguchi.lg.jp")
    assert not links.allowed("lg.jp.evil.example")
