"""The shipped model, through the whole pipeline, on a held-out table written here (not in the corpus)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from classifiers import moderate
from classifiers.phases import model as model_phase

CORPUS = Path(__file__).resolve().parents[2] / "classifiers" / "data" / "corpus.jsonl"

# Clear violations, each with the category it must at least be flagged for.
TOXIC: list[tuple[str, str]] = [
    ("ほんまにアホちゃうかこの職員ｗｗ", "insult"),
    ("社協のやつら全員無能で草", "insult"),
    ("きっしょい写真載せんなよブス", "insult"),
    ("ゴミみたいな投稿すんなカス", "insult"),
    ("ば～～か", "insult"),
    ("在日はさっさと国へ帰れや", "discrimination"),
    ("ガイジなんか施設から出すなよ", "discrimination"),
    ("ナマポの連中は寄生虫", "discrimination"),
    ("明日事務所燃やしに行くから待っとけ", "threat"),
    ("担当のやつ見つけたらぶっ殺す", "threat"),
    ("今度のまつりに刃物持って乗り込むわ", "threat"),
    ("受け子急募 日当5万 テレグラムで連絡して", "illegal"),
    ("手押しで野菜あります DMください", "illegal"),
    ("銀行口座買い取ります 1口座3万円", "illegal"),
    ("あの職員の家の住所晒しとくわ", "privacy"),
    ("ヘルパーの田中の携帯は090-4321-8765な", "privacy"),
    ("この職員おっぱいでかいな揉ませろ", "obscene"),
    ("パンツ見せてくれよｗ", "obscene"),
    ("このサイトで近所の人妻と出会える https://hitozuma-love.xyz", "harmful_link"),
    ("Metaサポートです。ページは規約違反で停止されます。24時間以内にこちらで認証してください", "security"),
    ("管理者のパスワードDMで教えてください", "security"),
    ("フォロバ100%！相互フォローお願いします", "spam"),
    ("スマホだけで月収80万稼げる方法、プロフ見てね", "spam"),
    ("社協は募金を職員の飲み代に使ってるらしい", "misinformation"),
    ("ダムが決壊したってよ、拡散して", "misinformation"),
]

# What the council's pages receive every day: these must pass untouched.
WELFARE: list[str] = [
    "いつも見守り活動ありがとうございます。母も安心しています",
    "ふれあいサロンの次回はいつですか？",
    "福祉まつりの駐車場は何台くらい停められますか",
    "子ども食堂、娘がまた行きたいと言ってました",
    "配食サービスのお弁当を父が楽しみにしています",
    "大雨のときの避難所はどこになりますか",
    "災害ボランティアセンターの受付時間を教えてください",
    "申込方法がわかりにくいので、電話でも受け付けてほしいです",
    "電話がなかなかつながらなくて困りました",
    "もっと早く告知してもらえると助かります",
    "障害のある息子の就労のことで相談したいです",
    "高齢者の一人暮らしを支える取り組み、大事ですね",
    "生活保護の相談はどこの窓口に行けばいいですか",
    "部落差別をなくすための研修に参加しました",
    "在日外国人の方との交流会、楽しかったです",
    "薬物乱用防止教室の話を中学生の息子にも聞かせたい",
    "詐欺被害に注意、祖母にも伝えておきます",
    "自殺予防のゲートキーパー研修、勉強になりました",
    "認知症の父の介護で疲れています。家族会はありますか",
    "シネマ上映会の作品が楽しみです",
    "殺虫剤の正しい使い方のお話、ためになりました",
    "死ぬほど笑ったｗ 落語ボランティア最高でした",
    "お疲れ様です！暑い中の配達ありがとうございます",
    "ボランティアに高校生でも参加できますか？",
    "車椅子の貸し出しはしていますか",
]


@pytest.fixture(scope="module", autouse=True)
def _shipped_model() -> None:
    model_phase.reset()
    if not model_phase.model_info()["loaded"]:
        pytest.fail("models/comment_model.skops is missing: run python -m classifiers.training train")


def test_table_is_held_out() -> None:
    corpus = {json.loads(line)["text"] for line in CORPUS.read_text(encoding="utf-8").splitlines()}
    assert not [t for t, _ in TOXIC if t in corpus]
    assert not [t for t in WELFARE if t in corpus]


def test_clear_violations_are_flagged_for_their_category() -> None:
    verdicts = [(text, cat, moderate(text).categories) for text, cat in TOXIC]
    missed = [v for v in verdicts if v[1] not in v[2]]
    # The model is small and synthetic-trained: allow a few misses, never a majority.
    assert len(missed) <= len(TOXIC) // 5, missed


def test_welfare_comments_pass() -> None:
    flagged = [(text, moderate(text).categories) for text in WELFARE if moderate(text).flagged]
    assert flagged == []


def test_model_explains_a_flag_with_readable_tokens() -> None:
    # No lexicon entry here: the model is the only witness, so staff are shown its strongest words.
    verdict = moderate("あの職員の態度は人として終わってる")
    assert "insult" in verdict.categories and not verdict.matches
    assert verdict.model_tokens
    assert all(len(t) >= 2 for t in verdict.model_tokens)


def test_a_rule_flag_is_not_explained_again_by_the_model() -> None:
    # Staff see the rule's own spans; ranking the model's words for it would only cost time.
    verdict = moderate("受け子急募 日当5万 テレグラムで連絡して")
    assert "illegal" in verdict.categories and verdict.matches
    assert verdict.model_tokens == []
