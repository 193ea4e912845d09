"""personal_info phase: phones, e-mail, addresses, My Number and names next to 住所/電話番号 → privacy."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from classifiers.config import CONFIG, configure, phone_digits
from classifiers.phases import normalise, personal_info, tokenise
from classifiers.phases._detect import fold_width
from classifiers.phases.context import Context
from classifiers.verdict import Match


def _matches(text: str) -> list[Match]:
    ctx = Context(original=text)
    normalise.phase(ctx)
    tokenise.phase(ctx)
    ev = personal_info.phase(ctx)
    matches = ev.matches if ev is not None else []
    for m in matches:
        assert m.category == "privacy"
        assert 0 <= m.start < m.end <= len(text)
        assert m.text == text[m.start : m.end]
    return matches


def _flagged(text: str) -> list[Match]:
    return [m for m in _matches(text) if m.score >= 0.5]


def _valid_mynumber(body: str) -> str:
    return next(body + d for d in "0123456789" if personal_info.mynumber_valid(body + d))


MYNUMBER = _valid_mynumber("12345678901")  # 123456789018

POSITIVES = [
    ("電話は090-1234-5678です", "pii:phone_mobile", "090-1234-5678"),
    ("０９０ー１２３４ー５６７８に連絡ください", "pii:phone_mobile", "０９０ー１２３４ー５６７８"),
    ("携帯 080 1234 5678", "pii:phone_mobile", "080 1234 5678"),
    ("070‐1111‐2222まで", "pii:phone_mobile", "070‐1111‐2222"),
    ("電話+81 90-1234-5678へ", "pii:phone_mobile", "+81 90-1234-5678"),
    ("番号は09012345678", "pii:phone_mobile", "09012345678"),
    ("〇九〇ー一二三四ー五六七八に電話して", "pii:phone_mobile", "〇九〇ー一二三四ー五六七八"),
    ("実家は0837-52-1234です", "pii:phone", "0837-52-1234"),
    ("0836－21－9876", "pii:phone", "0836－21－9876"),
    ("(0837)52-1234", "pii:phone", "(0837)52-1234"),
    ("東京の03-1234-5678", "pii:phone", "03-1234-5678"),
    ("メールはtaro.yamada@example.co.jpへ", "pii:email", "taro.yamada@example.co.jp"),
    ("ｈａｎａｋｏ＠ｅｘａｍｐｌｅ．ｃｏｍまで", "pii:email", "ｈａｎａｋｏ＠ｅｘａｍｐｌｅ．ｃｏｍ"),
    ("連絡はtaro(at)example(dot)comに", "pii:email", "taro(at)example(dot)com"),
    ("hanako アット gmail.com", "pii:email", "hanako アット gmail.com"),
    ("jiro★example.jp（★を@に）", "pii:email", "jiro★example.jp"),
    ("あの人は山口県美祢市大嶺町東分1234-5に住んでる", "pii:address", "山口県美祢市大嶺町東分1234-5"),
    ("美祢市秋芳町秋吉 123番地", "pii:address", "美祢市秋芳町秋吉 123番地"),
    ("住所は美祢市大嶺町1丁目2番3号", "pii:address", "美祢市大嶺町1丁目2番3号"),
    ("住所美祢市大嶺町東分1234-5", "pii:address", "美祢市大嶺町東分1234-5"),
    ("東京都新宿区西新宿2-8-1", "pii:address", "東京都新宿区西新宿2-8-1"),
    (f"マイナンバーは{MYNUMBER[:4]} {MYNUMBER[4:8]} {MYNUMBER[8:]}です", "pii:mynumber", MYNUMBER[:4] + " "),
    (f"個人番号{MYNUMBER}", "pii:mynumber", MYNUMBER),
    ("〇〇さんの住所は美祢市です", "pii:person", "〇〇さんの住所"),
    ("山田太郎の電話番号は知ってる", "pii:person", "山田太郎の電話番号"),
    ("佐藤さんの勤務先はあそこ", "pii:person", "佐藤さんの勤務先"),
    ("田中さんの家はここ", "pii:person", "田中さんの家"),
]


@pytest.mark.parametrize(("text", "rule_id", "span"), POSITIVES)
def test_detects_personal_information(text: str, rule_id: str, span: str) -> None:
    found = [m for m in _flagged(text) if m.rule_id == rule_id]
    assert found, f"{rule_id} not found in {text!r}: {_matches(text)}"
    if rule_id == "pii:mynumber" and " " in span:
        assert found[0].text == f"{MYNUMBER[:4]} {MYNUMBER[4:8]} {MYNUMBER[8:]}"
    else:
        assert found[0].text == span


BENIGN = [
    "イベントは2026-11-24に開催します",
    "時間は10:00-12:00です",
    "参加費1,000円、定員30名です",
    "〒759-2212 までお送りください",
    "令和8年度の予算は1234万円",
    "2026年11月24日(火)13:30〜",
    "第3回 ふれあいサロン 3-4人で参加",
    "美祢市で2026-11-24開催",
    "美祢市内で3番目に大きい",
    "社協の電話番号を教えてください",
    "職員さんの電話番号が知りたいです",
    "お母さんの家に行きました",
    "田中さんの家に遊びに行きました",
    "ご住所・お電話番号をご記入ください",
    "@mineshakyo さんいつもありがとう",
    "123456789012 という番号",
    "ver.2.0 になりました",
]


@pytest.mark.parametrize("text", BENIGN)
def test_benign_text_is_not_flagged(text: str) -> None:
    assert _flagged(text) == []


def test_mynumber_check_digit() -> None:
    assert personal_info.mynumber_valid("123456789018")
    assert not personal_info.mynumber_valid("123456789012")
    assert not personal_info.mynumber_valid("12345678901")
    # A valid number without the 4-4-4 grouping or a cue is review evidence, not a flag.
    (m,) = _matches(f"注文番号{MYNUMBER}")
    assert m.rule_id == "pii:mynumber" and m.score < 0.5
    assert _matches("マイナンバー 1234 5678 9012") == []  # wrong check digit


def test_business_only_numbers_are_not_personal() -> None:
    # 0120/0800 (toll-free), 0570 and 0990 are let only to businesses and public bodies.
    for text in ("お問い合わせは0120-123-456へ", "0800-000-0000まで", "ナビダイヤル0570-000-000"):
        assert _matches(text) == [], text


# Fictional numbers throughout (0837-00-…): no real organisation's number belongs in the tests.
PUBLIC_NUMBERS = [
    "避難所の問い合わせは社協（0837-00-0000）へ",
    "避難所の問い合わせは社協の地域福祉係（0837-00-0000）へ",
    "詳しくは美祢市社会福祉協議会 0837-00-0000 まで",
    "市役所の代表番号は0837-00-0001です",
    "0837-00-0002（美祢市役所）まで",
    "消防署0837-00-0003に連絡しました",
    "地域包括支援センター：0837-00-0004",
    "高齢福祉課 (0837)00-0005",
    "消防は119、警察は110、児童相談所は189、迷ったら#7119へ",
]


@pytest.mark.parametrize("text", PUBLIC_NUMBERS)
def test_public_bodies_numbers_are_not_personal(text: str) -> None:
    assert _matches(text) == []


@pytest.mark.parametrize(
    ("text", "private"),
    [
        # The body's number passes, the person's number in the same comment does not.
        ("避難所の問い合わせは社協（0837-00-0000）へ。田中さんの家は0837-00-1111です", "0837-00-1111"),
        ("社協（0837-00-0000）か、山田さんの携帯090-0000-1111に", "090-0000-1111"),
        ("社協の田中さん宅 0837-00-1111", "0837-00-1111"),  # a person between the body and the number
        ("市役所の隣の佐藤さんは0837-00-1111", "0837-00-1111"),
        ("0837-00-1111は田中さんの家、社協とは別", "0837-00-1111"),
        ("社協の職員の携帯は090-0000-1111", "090-0000-1111"),  # a mobile is a person's, even at 社協
    ],
)
def test_private_numbers_beside_public_ones_still_flag(text: str, private: str) -> None:
    assert [m.text for m in _flagged(text) if m.rule_id.startswith("pii:phone")] == [private]


@pytest.fixture
def public_phones() -> Iterator[None]:
    previous = CONFIG.public_phones
    configure(public_phones=["0837-00-0000", "+81 90 0000 2222", ""])
    try:
        yield
    finally:
        CONFIG.public_phones = previous


def test_phone_digits_ignores_how_a_number_is_written() -> None:
    keys = {
        phone_digits(n)
        for n in ("0837-00-0000", "(0837)00-0000", "０８３７ー００ー００００", "+81 837 00 0000")
    }
    assert keys == {"0837000000"}
    assert phone_digits("+81 (0)90-0000-2222") == "09000002222"


@pytest.mark.usefixtures("public_phones")
def test_configured_public_numbers_are_not_personal() -> None:
    assert _matches("電話は0837-00-0000です") == []
    assert _matches("この番号 ０８３７ー００ー００００ に掛けて") == []
    assert _matches("災害用の携帯 090-0000-2222") == []  # a listed mobile number too
    (m,) = _flagged("電話は(0837)00-0000です、田中さんは0837-00-1111")
    assert m.text == "0837-00-1111"


@pytest.mark.usefixtures("public_phones")
def test_a_public_number_clears_the_model_for_privacy() -> None:
    # The model reads the digits as a phone number; a number the council publishes is no reason to flag.
    ctx = Context(original="電話は0837-00-0000です")
    normalise.phase(ctx)
    ev = personal_info.phase(ctx)
    assert ev is not None and ev.matches == [] and ev.cleared == {"privacy"}
    ctx = Context(original="電話は0837-00-0000、田中さんは0837-00-1111")
    normalise.phase(ctx)
    ev = personal_info.phase(ctx)
    assert ev is not None and ev.matches and not ev.cleared


@given(st.text(max_size=60))
def test_fold_width_keeps_every_offset(text: str) -> None:
    assert len(fold_width(text)) == len(text)


def test_names_come_from_the_tokenise_phase() -> None:
    text = "山田太郎の電話番号は知ってる"
    ctx = Context(original=text)
    normalise.phase(ctx)
    tokenise.phase(ctx)
    assert [m.text for m in personal_info.detect(ctx)] == ["山田太郎の電話番号"]
    # The detector reads the person-name flag of ctx.tokens: without it there is no name before の.
    ctx.tokens = [t._replace(person=False) for t in ctx.tokens]
    assert personal_info.detect(ctx) == []


def test_names_without_the_tokenise_phase() -> None:
    # Report masking runs only normalise; the detector tokenises itself when a cue needs a name.
    ctx = Context(original="佐藤さんの住所は美祢市です")
    normalise.phase(ctx)
    assert [m.rule_id for m in personal_info.detect(ctx)] == ["pii:person"]


@given(st.text(alphabet="0123456789-ー－ 　()+８１", max_size=30))
def test_spans_are_exact_on_digit_soup(text: str) -> None:
    _matches(text)  # the assertions inside check every span
