"""SudachiPy tokenisation: offsets into Normalised.text, mode C, one dictionary per process, threads."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from classifiers.phases import tokenise as tokenise_module
from classifiers.phases.context import Context
from classifiers.phases.normalise import normalise
from classifiers.phases.tokenise import Morphemes, Token, phase, scan, tokenise
from classifiers.scorer import word_features


def test_tokens_cover_text_with_offsets() -> None:
    text = "お前しねシネマ見に行こう"
    tokens = tokenise(text)
    assert all(isinstance(t, Token) for t in tokens)
    assert "".join(t.surface for t in tokens) == text
    for t in tokens:
        assert text[t.start : t.end] == t.surface


def test_word_boundaries() -> None:
    surfaces = [t.surface for t in tokenise("シネマと殺虫剤")]
    assert "シネマ" in surfaces and "殺虫剤" in surfaces


def test_mode_c_and_forms() -> None:
    tokens = tokenise("障害者福祉の相談をした")
    by_surface = {t.surface: t for t in tokens}
    assert "障害者" in by_surface  # mode C keeps the compound
    assert by_surface["障害者"].pos == "名詞"
    verb = next(t for t in tokenise("ころす") if t.pos == "動詞")
    assert verb.normalized_form == "殺す"
    went = next(t for t in tokenise("行った") if t.pos == "動詞")
    assert went.dictionary_form == "行く"


def test_empty_and_long_input() -> None:
    assert tokenise("") == []
    text = "あいうえお。" * 5000  # over SudachiPy's per-call byte limit
    tokens = tokenise(text)
    assert tokens[-1].end == len(text)
    assert all(text[t.start : t.end] == t.surface for t in tokens[::97])


def test_dictionary_loaded_once_and_threads_are_safe() -> None:
    tokenise("一度")
    first = tokenise_module._dictionary
    texts = [f"{i}番目のコメントです。ありがとうございました" for i in range(200)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(tokenise, texts))
    assert tokenise_module._dictionary is first
    for text, tokens in zip(texts, results, strict=True):
        assert "".join(t.surface for t in tokens) == text


def test_phase_tokenises_normalised_text() -> None:
    ctx = Context(original="ｼﾈﾏ見た")
    ctx.normalised = normalise(ctx.original)
    assert phase(ctx) is None
    assert isinstance(ctx.tokens, Morphemes)
    assert ctx.tokens[0].surface == "シネマ"
    assert ctx.tokens.features()[0] == "シネマ"


def test_person_name_flag() -> None:
    tokens = {t.surface: t for t in tokenise("田中太郎さんの住所")}
    assert tokens["田中"].person and tokens["太郎"].person
    assert not tokens["さん"].person and not tokens["住所"].person
    # The cached forms of a word keep its flag on the next comment too.
    assert next(t for t in tokenise("田中です") if t.surface == "田中").person


def test_reused_morpheme_list_leaves_earlier_tokens_intact() -> None:
    # Each thread refills one MorphemeList: tokens already handed out must not change with the next call.
    first = tokenise("障害者福祉の相談をした")
    snapshot = list(first)
    second = tokenise("2万円を振り込んだ")
    assert first == snapshot
    assert [t.surface for t in second] != [t.surface for t in first]
    assert "".join(t.surface for t in second) == "2万円を振り込んだ"
    assert tokenise("障害者福祉の相談をした") == snapshot


def test_morphemes_match_tokens_and_word_features() -> None:
    # scan() keeps only offsets and cached forms; its Token view and its model features must be exactly
    # what tokenise() and scorer.word_features() give, including unknown words, whitespace and numbers.
    text = "2万円の ｼﾈﾏ　チケット🎫 ﾎﾟﾁｬｯｺ ok? 田中さん\n" * 3
    morphemes = scan(text)
    assert list(morphemes) == tokenise(text)
    assert len(morphemes) == len(tokenise(text))
    assert morphemes[-1] == tokenise(text)[-1]
    assert morphemes.features() == word_features(tokenise(text))
    assert "" not in morphemes.features()
