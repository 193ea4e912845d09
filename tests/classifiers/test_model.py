"""The estimator, its compiled scorer (and its numpy archive), skops persistence and the model phase."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from array import array
from pathlib import Path

import numpy as np
import pytest
import skops.io as sio
from sklearn.preprocessing import FunctionTransformer

from classifiers import moderate
from classifiers._ngram_scorer import NgramScorer, explainable
from classifiers.model import TEXT_CATEGORIES, CommentModel, export_scorer, labels_matrix, load, save
from classifiers.phases import model as model_phase
from classifiers.scorer import Vocabulary, load_scorer, scorer_path

REPO = Path(__file__).resolve().parents[2]
CORPUS = REPO / "classifiers" / "data" / "corpus.jsonl"


@pytest.fixture(scope="module")
def rows() -> list[dict]:
    lines = CORPUS.read_text(encoding="utf-8").splitlines()
    # Every third row keeps all categories present and the fit under a couple of seconds.
    return [json.loads(line) for line in lines[::3]]


@pytest.fixture(scope="module")
def fitted(rows: list[dict]) -> CommentModel:
    return CommentModel().fit([r["text"] for r in rows], labels_matrix([r["labels"] for r in rows]))


SAMPLE = [
    "お前マジでバカだろｗ",
    "ﾀﾋね",
    "し　ね",
    "申込方法がわかりにくいです",
    "",
    "ｗｗｗ",
    "Metaサポート: ページが停止されます https://meta-check.xyz",
    "住所は美祢市大嶺町東分123です",
    "  大雨  の日の   避難所は？ ",
]


def test_impersonation_is_not_a_text_category() -> None:
    assert "impersonation" not in TEXT_CATEGORIES
    assert len(TEXT_CATEGORIES) == 10


def test_compiled_scorer_matches_sklearn(fitted: CommentModel, rows: list[dict]) -> None:
    texts = SAMPLE + [r["text"] for r in rows[::10]]
    expected = fitted.predict_proba(texts)
    got = np.array(fitted.compile().predict_proba(texts))
    assert got.shape == expected.shape == (len(texts), len(TEXT_CATEGORIES))
    assert np.max(np.abs(got - expected)) < 1e-6


def test_scorer_archive_matches_sklearn(fitted: CommentModel, rows: list[dict], tmp_path: Path) -> None:
    fitted.thresholds_ = dict.fromkeys(TEXT_CATEGORIES, 0.55)
    fitted.metadata_ = {"version": "2025.11.24-zip"}
    path = tmp_path / "m.skops"
    save(fitted, path)
    archive = export_scorer(path, fitted)
    assert archive == scorer_path(path) and archive.suffixes == [".scorer", ".zip"]
    # A JSON manifest and raw arrays: nothing in it is a Python object to unpickle.
    with zipfile.ZipFile(archive) as z:
        assert sorted(z.namelist()) == sorted(
            ["manifest.json", "idf", "coef", "word_text", "word_lengths", "char_text", "char_lengths"]
        )
        json.loads(z.read("manifest.json"))
        # The coefficients hardly deflate: stored as they are, loading them is a copy, not an inflate.
        assert z.getinfo("coef").compress_type == zipfile.ZIP_STORED
        assert z.getinfo("word_text").compress_type == zipfile.ZIP_DEFLATED
    scorer = load_scorer(archive, path)
    assert scorer.metadata == {"version": "2025.11.24-zip"}
    assert scorer.thresholds == fitted.thresholds_
    texts = SAMPLE + [r["text"] for r in rows[::7]] + ["ｗ" * 400, "あ\n\n\u3000い"]
    assert np.max(np.abs(scorer.predict_proba(texts) - fitted.predict_proba(texts))) < 1e-6


def test_archive_of_another_model_file_is_refused(fitted: CommentModel, tmp_path: Path) -> None:
    path = tmp_path / "m.skops"
    fitted.metadata_ = {"version": "old"}
    save(fitted, path)
    export_scorer(path, fitted)
    fitted.metadata_ = {"version": "new"}
    save(fitted, path)  # retrained (here: relabelled) without exporting its scorer
    with pytest.raises(ValueError, match="different model file"):
        load_scorer(scorer_path(path), path)
    from classifiers.config import CONFIG

    previous = CONFIG.model_path
    CONFIG.model_path = path
    try:
        model_phase.reset()
        info = model_phase.model_info()
    finally:
        CONFIG.model_path = previous
        model_phase.reset()
    assert info["loaded"] is False
    assert "different model file" in info["error"]


def test_moderation_never_imports_sklearn_or_numpy() -> None:
    code = (
        "import sys\n"
        "from classifiers import moderate\n"
        "from classifiers.phases import model\n"
        "assert moderate('受け子募集 日当5万 テレグラムで連絡ください').flagged\n"
        "assert model.model_info()['loaded']\n"
        "print(sorted(m for m in ('sklearn', 'scipy', 'skops', 'numpy') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_vocabulary_is_one_string_with_offsets() -> None:
    terms = ["あ", "ばか", "死ね よ", "", "😊w"]
    vocab = Vocabulary.of(terms)
    assert list(vocab) == terms and len(vocab) == 5
    assert [vocab[i] for i in range(-5, 5)] == terms + terms
    assert vocab[1:4] == terms[1:4]
    assert Vocabulary(vocab.text, vocab.lengths())[2] == "死ね よ"
    with pytest.raises(IndexError):
        vocab[5]
    with pytest.raises(ValueError, match="disagree"):
        Vocabulary("ab", [1])


def test_explainable_terms_have_two_characters_besides_spaces() -> None:
    vocab = Vocabulary.of(["あ", "ばか", "死ね よ", " あ", "a b", "😊w", "   "])
    assert explainable(vocab.text, vocab.ends) == bytes([0, 1, 1, 0, 1, 1, 0])
    with pytest.raises(ValueError, match="disagree"):
        explainable("abc", array("q", [1, 2]))


def test_the_scorer_refuses_vocabularies_that_do_not_fit() -> None:
    words, chars = Vocabulary.of(["ばか", "死ね よ"]), Vocabulary.of(["ば", "ばか", "ばかだ"])
    idf, coef = array("d", [1.0] * 5), array("d", [0.5] * 5)
    NgramScorer(words.text, words.ends, chars.text, chars.ends, idf, coef, [0.0])  # fits
    with pytest.raises(ValueError, match="disagree"):
        NgramScorer(words.text + "x", words.ends, chars.text, chars.ends, idf, coef, [0.0])
    with pytest.raises(ValueError, match="decrease"):
        NgramScorer(words.text, array("q", [3, 2]), chars.text, chars.ends, idf, coef, [0.0])
    four = Vocabulary.of(["ば", "ばか", "ばかだな"])
    with pytest.raises(ValueError, match="n-gram of length 4"):
        NgramScorer(words.text, words.ends, four.text, four.ends, idf, coef, [0.0])
    with pytest.raises(ValueError, match="do not fit"):
        NgramScorer(words.text, words.ends, chars.text, chars.ends, idf, coef, [0.0, 0.0])


def test_skops_round_trip_with_trusted_types(fitted: CommentModel, tmp_path: Path) -> None:
    fitted.thresholds_ = dict.fromkeys(TEXT_CATEGORIES, 0.6)
    fitted.metadata_ = {"version": "test"}
    path = tmp_path / "m.skops"
    save(fitted, path)
    assert set(sio.get_untrusted_types(file=path)) <= {
        "classifiers.model.CommentModel",
        "classifiers.model.TextPreparer",
    }
    loaded = load(path)
    assert loaded.thresholds_ == fitted.thresholds_
    assert loaded.metadata_ == {"version": "test"}
    np.testing.assert_array_equal(loaded.predict_proba(SAMPLE), fitted.predict_proba(SAMPLE))


def test_load_refuses_unlisted_types(tmp_path: Path) -> None:
    path = tmp_path / "evil.skops"
    sio.dump(FunctionTransformer(func=json.loads), path)
    with pytest.raises(ValueError, match="untrusted"):
        load(path)


def test_phase_reports_scores_thresholds_and_tokens(fitted: CommentModel) -> None:
    fitted.thresholds_ = dict.fromkeys(TEXT_CATEGORIES, 0.5)
    with model_phase.use_scorer(fitted.compile()):
        verdict = moderate("受け子募集 日当5万 テレグラムで連絡ください")
        model_only = moderate("あの職員の態度は人として終わってる")
        clean = moderate("いつもありがとうございます")
    assert verdict.scores["illegal"] >= 0.5
    assert "illegal" in verdict.categories
    # A rule flagged it (staff see its spans); the model's words are shown where the model alone judged.
    assert verdict.matches and verdict.model_tokens == []
    assert not model_only.matches and model_only.scores["insult"] >= 0.5
    assert 1 <= len(model_only.model_tokens) <= 5
    assert clean.model_tokens == []
    assert set(clean.scores) >= set(TEXT_CATEGORIES)


def test_missing_model_file_is_reported_not_raised(tmp_path: Path) -> None:
    from classifiers.config import CONFIG

    previous = CONFIG.model_path
    CONFIG.model_path = tmp_path / "absent.skops"
    try:
        info = model_phase.model_info()
        verdict = moderate("ありがとうございます")
    finally:
        CONFIG.model_path = previous
        model_phase.reset()
    assert info["loaded"] is False
    assert "absent.skops" in info["path"]
    assert verdict.flagged is False


def test_model_info_of_shipped_model() -> None:
    model_phase.reset()
    info = model_phase.model_info()
    assert info["loaded"] is True
    assert info["version"]
    assert info["trained_at"]
    assert "lexicon_version" in info
    # The archive moderation loads is the one of the shipped skops model its card describes.
    assert f"Version: `{info['version']}`" in (REPO / "models" / "MODEL_CARD.md").read_text(encoding="utf-8")
    shipped = load(REPO / "models" / "comment_model.skops")
    texts = SAMPLE[:4]
    assert (
        np.max(np.abs(model_phase._judge().scorer.predict_proba(texts) - shipped.predict_proba(texts))) < 1e-6
    )
