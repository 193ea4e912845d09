"""Keyword rules: the bundled lexicon per category, near misses, the allow-list, and the site file."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from classifiers import lexicon
from classifiers.categories import CATEGORY_NAMES, Severity
from classifiers.config import CONFIG
from classifiers.lexicon import LexiconError, LexiconStore, parse_allow, parse_lexicon, parse_site
from classifiers.phases import lexicon_rules, normalise, tokenise
from classifiers.phases.context import Context, Evidence


def run(text: str) -> Evidence | None:
    ctx = Context(original=text)
    normalise.phase(ctx)
    tokenise.phase(ctx)
    return lexicon_rules.phase(ctx)


def categories(text: str) -> set[str]:
    ev = run(text)
    return {m.category for m in ev.matches} if ev else set()


def test_bundled_files_parse_and_cover_every_category() -> None:
    version, entries = parse_lexicon(lexicon.LEXICON_PATH.read_text(encoding="utf-8"))
    assert version.count(".") == 2
    assert len(entries) >= 300
    assert {e.category for e in entries} == set(CATEGORY_NAMES)
    allow = parse_allow(lexicon.ALLOW_PATH.read_text(encoding="utf-8"))
    assert any(a.phrase == "部落差別をなくす" for a in allow)


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("お前ほんとにばかだな", "insult"),
        ("職員クズすぎ", "insult"),
        ("きもいんだよ", "insult"),
        ("ガイジかよ", "discrimination"),
        ("在日は出ていけ", "discrimination"),
        ("部落のやつらは信用できない", "discrimination"),
        ("ナマポは黙ってろ", "discrimination"),
        ("明日事務所を爆破する", "threat"),
        ("ぶっ殺してやる", "threat"),
        ("夜道に気をつけろよ", "threat"),
        ("社協に火をつけてやる", "threat"),
        ("野菜あります 手押しOK テレグラムまで", "illegal"),
        ("アイス即日配達します", "illegal"),
        ("ホワイト案件紹介します", "illegal"),
        ("受け子募集中、日給5万", "illegal"),
        ("口座売ります", "illegal"),
        ("無修正動画あります", "obscene"),
        ("セフレ募集中", "obscene"),
        ("出会い系サイトで今すぐ会える", "harmful_link"),
        ("こいつの住所晒してやる", "privacy"),
        ("あなたのページは削除されます。以下のリンクから確認してください", "security"),
        ("認証コードを送ってください", "security"),
        ("スマホ一台で誰でも簡単に稼げる", "spam"),
        ("フォロバ100", "spam"),
        ("ワクチンにマイクロチップが入っている", "misinformation"),
        ("新しいアカウントに移行しました", "impersonation"),
    ],
)
def test_each_category_fires(text: str, category: str) -> None:
    assert category in categories(text)


@pytest.mark.parametrize(
    "text",
    [
        "シネマに行きました",
        "みんなで押しかけようぜ",  # うぜー must not match inside 〜ようぜ
        "次も頑張ろうぜ！",
        "殺虫剤と殺菌スプレー",
        "申し込みが殺到しています",
        "もう死ねないよ、まだやることがある",
        "詐欺に注意してください",
        "部落差別をなくす学習会に参加しました",
        "薬物乱用防止教室のお知らせ",
        "闇バイトに注意しましょう",
        "野菜の直売所があります",
        "手押し車の貸し出しはありますか",
        "アイスクリーム作り体験",
        "申込方法がわかりにくいです",
        "障害者福祉の講演会ありがとうございました",
        "生活保護の相談をしたいです",
        "死にたいです。誰か話を聞いてください",
        "自殺予防の取り組みに感謝します",
        "ゴミの分別方法を教えてください",
        "ボケ防止の体操教室",
        "ばかりです",
        "早く国に帰れるといいですね",
        "暗証番号を教えないでください",
        "職員がキャッシュカードを預かることはありません",
        "在日外国人の方向けの相談窓口",
        "しゃぶしゃぶ食べ放題",
        "くそ寒い中ありがとうございました",  # くそ as an intensifier
        "バザーの品がばか売れでした",
    ],
)
def test_near_misses_and_welfare_talk_pass(text: str) -> None:
    assert categories(text) == set()


def test_match_fields_and_original_span() -> None:
    text = "おまえ、し ね\u200bよ"
    ev = run(text)
    assert ev is not None
    m = next(m for m in ev.matches if m.category == "insult")
    assert m.rule_id.startswith("lex:insult:")
    assert text[m.start : m.end] == m.text == "し ね"
    assert m.score == 1.0 and m.severity is Severity.HIGH


def test_requires_column() -> None:
    assert categories("アイスあります") == set()
    assert categories("アイスあります、手押しで") == {"illegal"}


def test_except_column_cancels_overlapping_hit_only() -> None:
    assert categories("殺虫剤で殺すぞ") == {"threat"}
    assert categories("殺虫剤") == set()


def test_allow_list_clears_category() -> None:
    ev = run("部落差別をなくす学習会に参加しました")
    assert ev is not None and ev.matches == [] and "discrimination" in ev.cleared


def test_rule_outside_allowed_span_keeps_category_open() -> None:
    ev = run("差別のない社会なんて無理、在日は出ていけ")
    assert ev is not None
    assert "discrimination" not in ev.cleared
    assert any(m.category == "discrimination" for m in ev.matches)


def test_allow_phrase_drops_hit_inside_it() -> None:
    ev = run("闇バイトに注意、募集の投稿は通報を")
    assert ev is not None
    assert ev.matches == []
    assert "illegal" in ev.cleared


def test_clean_comment_returns_no_evidence() -> None:
    assert run("今日の講演会とても良かったです") is None
    assert run("") is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("id\tentry\tcategory\nx:1\tばか\tinsult\n", "version"),
        ("# version: 2026.01.1\nid\tentry\tcategory\nx:1\tばか\tunknown\n", "category"),
        ("# version: 2026.01.1\nid\tentry\tcategory\tmode\nx:1\tばか\tinsult\tfuzzy\n", "mode"),
        ("# version: 2026.01.1\nid\tentry\tcategory\tseverity\nx:1\tばか\tinsult\tnone\n", "severity"),
        ("# version: 2026.01.1\nid\tentry\tcategory\tclause\nx:1\tばか\tinsult\t2(7)オ\n", "clause"),
        ("# version: 2026.01.1\nid\tentry\tcategory\nx:1\tばか\tinsult\nx:1\tあほ\tinsult\n", "duplicate"),
        ("# version: 2026.01.1\nid\tentry\tcategory\nx:1\t\u200b\tinsult\n", "empty"),
    ],
)
def test_parse_errors(text: str, message: str) -> None:
    with pytest.raises(LexiconError, match=message):
        parse_lexicon(text, "t.tsv")


def test_parse_site_actions() -> None:
    changes = parse_site(
        "action\tid\tentry\tcategory\tseverity\n"
        "add\tsite:1\tふざけんな\tinsult\tlow\n"
        "remove\tinsult:0001\t\t\t\n"
        "remove\t\tハゲ\t\t\n"
    )
    assert [e.entry for e in changes.added] == ["ふざけんな"]
    assert "insult:0001" in changes.removed and "entry:はげ" in changes.removed
    with pytest.raises(LexiconError, match="action"):
        parse_site("action\tid\nrename\tx\n")


@pytest.fixture
def site_file(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "site_lexicon.tsv"
    previous = CONFIG.site_lexicon_path
    CONFIG.site_lexicon_path = path
    try:
        yield path
    finally:
        CONFIG.site_lexicon_path = previous


def _write(path: Path, text: str, bump: int) -> None:
    path.write_text(text, encoding="utf-8")
    # Make the change visible even on file systems with coarse mtimes.
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + bump * 1_000_000_000))


def _find(store: LexiconStore, text: str) -> set[str]:
    ctx = Context(original=text)
    normalise.phase(ctx)
    tokenise.phase(ctx)
    matches, _ = lexicon_rules.find_matches(ctx.normalised, ctx.tokens, store.get())  # type: ignore[arg-type]
    return {m.rule_id for m in matches}


def test_site_file_adds_removes_and_reloads(site_file: Path, caplog: pytest.LogCaptureFixture) -> None:
    store = LexiconStore()
    assert _find(store, "ふざけんなよ") == set()
    assert "lex:insult:0001" in _find(store, "死ね")

    _write(
        site_file,
        "action\tid\tentry\tcategory\tseverity\tmode\n"
        "add\tsite:0001\tふざけんな\tinsult\tlow\tsubstring\n"
        "remove\tinsult:0001\t\t\t\t\n",
        1,
    )
    store.invalidate()
    assert _find(store, "ﾌｻﾞｹﾝﾅよ") == {"lex:site:0001"}
    assert "lex:insult:0001" not in _find(store, "死ね")

    # A broken file keeps the last good lexicon and warns in both languages.
    _write(site_file, "action\tid\tentry\tcategory\nadd\tsite:0002\tあ\tnope\n", 2)
    store.invalidate()
    with caplog.at_level(logging.WARNING, logger="classifiers.lexicon"):
        assert _find(store, "ふざけんな") == {"lex:site:0001"}
    assert "サイト辞書" in caplog.text and "site lexicon" in caplog.text

    # Removing by entry text withdraws every entry with that normalised key.
    _write(site_file, "action\tentry\nremove\tハゲ\n", 3)
    store.invalidate()
    assert _find(store, "このハゲ") == set()
    assert "lex:insult:0001" in _find(store, "死ね")

    site_file.unlink()
    store.invalidate()
    assert _find(store, "このハゲ") != set()


def test_site_file_checked_at_most_once_a_second(site_file: Path) -> None:
    store = LexiconStore()
    first = store.get()
    _write(site_file, "action\tid\tentry\tcategory\nadd\tsite:9\tふざけんな\tinsult\n", 1)
    assert store.get() is first  # within the interval: no stat, no reload
    store.invalidate()
    assert store.get() is not first


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.sampled_from(
                ["死ね", "ばか", "殺す", "ｼﾈ", "氏ね", "手押し", "野菜", "部落差別をなくす", "😊"]
            ),
            st.text(max_size=4),
        ),
        max_size=8,
    )
)
def test_rule_spans_lie_in_original(parts: list[str]) -> None:
    text = "".join(parts)
    ev = run(text)
    for m in ev.matches if ev else []:
        assert 0 <= m.start < m.end <= len(text)
        assert m.text == text[m.start : m.end]
