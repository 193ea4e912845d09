"""相談が必要 (needs_support): the support phase, its cue file and its place in the verdict."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from classifiers import moderate
from classifiers.phases.normalise import normalise
from classifiers.phases.support import SUPPORT_KINDS, current, find_support, load
from classifiers.verdict import Verdict
from tests.conftest import REPO

DATA = REPO / "tests" / "data"
# The development set the cues were tuned on, and a second set written at the same time, before any cue, and
# left out of tuning.
EVAL_SETS = ("support_eval.jsonl", "support_eval_holdout.jsonl")

NEEDS_SUPPORT: list[tuple[str, str]] = [
    # the examples
    ("生きる意味がわからない、もう終わりにしたい", "suicide"),
    ("彼氏に殴られてアザだらけです", "abuse"),
    ("所持金が200円で今月の家賃も払えません", "poverty"),
    ("祖父が散歩から戻らない、携帯もつながらない", "missing"),
    ("土砂で道がふさがって家から出られません", "disaster"),
    # suicide: plain, casual, evasions, third person, dialect
    ("もう死にたい", "suicide"),
    ("氏にたい", "suicide"),
    ("ﾀﾋにたい", "suicide"),
    ("し に た い", "suicide"),
    ("息子が「死にたい」と言っています。どうしたらいいですか", "suicide"),
    ("遺書を書きました。今までありがとう", "suicide"),
    ("生きとってもしょうがないけえ、もうええわ", "suicide"),
    # abuse, including a writer afraid of harming someone
    ("旦那からのDVがひどくて家に帰るのが怖い", "abuse"),
    ("隣の家から毎晩子どもの泣き声と怒鳴り声がして、叩く音もします", "abuse"),
    ("介護してる父に手を出してしまいそうで怖い", "abuse"),
    # poverty
    ("電気止められた。ガスももうすぐ止まる", "poverty"),
    ("3日何も食べてない", "poverty"),
    ("米が買えん。どうしたらええんかね", "poverty"),
    # missing
    ("認知症の母が朝から行方不明です", "missing"),
    ("近所のおばあちゃん、ここ数日姿を見ない。新聞がたまってる", "missing"),
    # disaster
    ("足の悪い母と二人で避難できません", "disaster"),
    ("水が引かない、もう2日も2階に取り残されてる", "disaster"),
    # isolation
    ("話し相手がいません。誰か話を聞いてほしい", "isolation"),
    ("誰にも相談できない。ひとりぼっち", "isolation"),
]

MUST_PASS: list[str] = [
    # hyperbole (the list and more)
    "恥ずかしすぎて死ねる",
    "眠すぎて死ぬ",
    "筋肉痛で死亡",
    "推しが尊くて死にそう",
    "死ぬほど美味しい",
    "恥ずかしくて消えたい…あんなところで転ぶなんて",
    "ネタバレされて死にたい笑",
    "月曜の朝は死にたくなるよねw",
    # games and dramas
    "最終回で主人公死ぬの？",
    "ドラマの主人公が殴られるシーン泣いた",
    "漫画のキャラが「死にたい」って言う場面で泣いた",
    # grief
    "愛犬が亡くなって一年",
    "祖母が亡くなりました。たくさんの思い出をありがとう",
    # the council's own vocabulary, used calmly
    "ゲートキーパー養成講座に申し込みました",
    "児童虐待防止のオレンジリボン",
    "生活福祉資金の貸付について知りたい",
    "DV防止のパープルリボン運動に賛同します",
    "子ども食堂で食べ物がない家庭を支えたい",
    "認知症の方の行方不明を防ぐ見守り訓練に参加しました",
    # ordinary comments with the same words
    "連絡取れなくてごめん！携帯の充電切れてた",
    "電話がつながらないんですが、受付時間は何時までですか",
    "猫が昨日から帰ってこない、どこ行ったんだろう",
    "キャンプで野宿してきた",
    "電気を消して寝ます",
    # resolved, past
    "行方不明の男性が無事保護されたそうでよかった",
    "若い頃は死にたいと思った時期もあったけど、今は幸せです",
]


@pytest.mark.parametrize(("text", "kind"), NEEDS_SUPPORT)
def test_needs_support(text: str, kind: str) -> None:
    verdict = moderate(text)
    assert verdict.needs_support, text
    assert verdict.support_kind == kind
    assert verdict.support_matches and {m.category for m in verdict.support_matches} <= set(SUPPORT_KINDS)


@pytest.mark.parametrize("text", MUST_PASS)
def test_must_pass(text: str) -> None:
    verdict = moderate(text)
    assert not verdict.needs_support, (text, [m.text for m in verdict.support_matches])
    assert verdict.support_kind == "" and verdict.support_matches == []


@pytest.mark.parametrize("name", EVAL_SETS)
def test_eval_set_recall_and_false_marks(name: str) -> None:
    rows = [json.loads(line) for line in (DATA / name).read_text(encoding="utf-8").splitlines()]
    crisis = [r for r in rows if r["support_kind"]]
    calm = [r for r in rows if not r["support_kind"]]
    assert len(crisis) >= (150 if name == "support_eval.jsonl" else 50) and len(calm) >= len(crisis)
    assert {r["support_kind"] for r in crisis} == set(SUPPORT_KINDS)
    found = sum(moderate(r["text"]).needs_support for r in crisis)
    false_marks = [r["text"] for r in calm if moderate(r["text"]).needs_support]
    assert found / len(crisis) >= 0.90
    assert len(false_marks) / len(calm) <= 0.03, false_marks


def test_spans_point_at_the_original_text() -> None:
    text = "今日は\u200bもう、し.に.た.い"
    verdict = moderate(text)
    (match,) = verdict.support_matches
    assert text[match.start : match.end] == match.text
    assert match.text.startswith("し") and match.text.endswith("い")


def test_needs_support_is_not_a_violation_but_both_can_show() -> None:
    alone = moderate("夫に毎日怒鳴られて、蹴られることもあります")
    assert alone.needs_support and not alone.flagged and alone.action == "none"
    both = moderate("死ねよクズ。俺ももう死にたい")
    assert both.flagged and both.needs_support and both.support_kind == "suicide"


def test_verdicts_round_trip_and_old_ones_still_load() -> None:
    verdict = moderate("一人暮らしの父と3日連絡が取れません")
    again = Verdict.from_dict(json.loads(json.dumps(verdict.to_dict())))
    assert again.needs_support and again.support_kind == "missing"
    assert again.support_matches == verdict.support_matches
    old = verdict.to_dict()
    for key in ("needs_support", "support_kind", "support_matches"):
        del old[key]
    loaded = Verdict.from_dict(old)
    assert not loaded.needs_support and loaded.support_kind == "" and loaded.support_matches == []


def test_the_prefilter_never_drops_a_cue() -> None:
    """Every cue that matches a text also has one of its anchors in it (the one-pass prefilter is sound)."""
    cues = current()
    texts = [
        json.loads(line)["text"]
        for path in [REPO / "classifiers" / "data" / "corpus.jsonl", *sorted(DATA.glob("*.jsonl"))]
        for line in path.read_text(encoding="utf-8").splitlines()
    ]
    uncovered = []
    for text in texts:
        kana = normalise(text).kana
        candidates = {ref for _, refs in cues.automaton.iter(kana) for ref in refs}
        uncovered += [
            (cue.rule_id, text)
            for i, cue in enumerate(cues.cues)
            if i not in candidates and cue.pattern.search(kana)
        ]
    assert uncovered == []


def test_most_comments_stop_at_the_prefilter() -> None:
    lines = (REPO / "classifiers" / "data" / "corpus.jsonl").read_text(encoding="utf-8").splitlines()
    clean = [json.loads(line)["text"] for line in lines if not json.loads(line)["labels"]]
    automaton = current().automaton
    passed = sum(next(automaton.iter(normalise(t).kana), None) is not None for t in clean)
    assert passed / len(clean) < 0.2


def test_find_support_orders_kinds_by_urgency() -> None:
    kind, matches = find_support(normalise("お金も尽きて、もう死にたい"))
    assert kind == "suicide" and {m.category for m in matches} == {"poverty", "suicide"}


def test_a_malformed_cue_file_names_its_line(tmp_path: Path) -> None:
    bad = tmp_path / "cues.tsv"
    bad.write_text("# version\t1\nsuicide\tcue\tしにたい\t(unclosed\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"cues\.tsv:2"):
        load(bad)
    bad.write_text("hunger\tcue\tx\tx\n", encoding="utf-8")
    with pytest.raises(ValueError, match="unknown kind"):
        load(bad)
