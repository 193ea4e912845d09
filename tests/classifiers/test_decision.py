"""The decision policy: the model alone is a weaker witness than a rule, a disguise or rough address."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from classifiers.compose import compose
from classifiers.decision import POLICY_FILE, DecisionPolicy, load_policy
from classifiers.phases import address
from classifiers.phases.context import Context, Evidence
from classifiers.phases.model import DEFAULT_MODEL_PATH, _judge
from classifiers.phases.normalise import normalise
from classifiers.verdict import Match

CATS = ("insult", "threat")
SUPPORTED = {"insult": 0.6, "threat": 0.6}
POLICY = DecisionPolicy(
    alone={"insult": 0.9, "threat": 0.9}, review={"insult": 0.7, "threat": 0.7}, addressed=0.8
)


def _verdict(
    probs: dict[str, float],
    *,
    text: str = "ふつうの文",
    matches: list[Match] | None = None,
    addressed: bool = False,
):
    alone, review, aimed = POLICY.cutoffs(CATS, SUPPORTED)
    ctx = Context(original=text, normalised=normalise(text))
    ctx.evidence.append(
        Evidence(
            scores=probs,
            thresholds=SUPPORTED,
            alone_thresholds=alone,
            review_thresholds=review,
            addressed_thresholds=aimed,
            lowest_thresholds={c: min(SUPPORTED[c], alone[c], review[c], aimed[c]) for c in CATS},
        )
    )
    if matches:
        ctx.evidence.append(Evidence(matches=matches))
    if addressed:
        ctx.evidence.append(Evidence(addressed=True))
    return compose(ctx)


def test_the_model_alone_flags_only_at_the_policy_cut_off() -> None:
    assert _verdict({"insult": 0.95, "threat": 0.0}).categories == ["insult"]
    middling = _verdict({"insult": 0.8, "threat": 0.0})
    assert not middling.flagged and middling.review_categories == ["insult"] and middling.needs_review
    low = _verdict({"insult": 0.65, "threat": 0.0})
    assert not low.flagged and not low.needs_review


def test_a_weak_rule_hit_lets_the_model_flag_at_its_own_threshold() -> None:
    witness = Match("lex:insult:0031", "insult", 0, 2, "ばか", score=0.45)
    verdict = _verdict({"insult": 0.65, "threat": 0.0}, matches=[witness])
    assert verdict.categories == ["insult"] and not verdict.review_categories
    # The witness names its own category only.
    other = _verdict({"insult": 0.0, "threat": 0.65}, matches=[witness])
    assert not other.flagged


def test_a_disguised_spelling_witnesses_every_category() -> None:
    assert normalise("ぶ.ら.く出身").disguised and normalise("ｺﾛｽ").disguised
    verdict = _verdict({"insult": 0.0, "threat": 0.65}, text="ｺﾛｽ")
    assert verdict.categories == ["threat"]


@pytest.mark.parametrize("text", ["あ、もう帰る", "○○さんへ", "今日は雨", "wwww", "ねむーーーい", "音楽は◎"])
def test_ordinary_writing_is_not_a_disguise(text: str) -> None:
    assert not normalise(text).disguised


def test_rough_address_has_its_own_cut_off() -> None:
    assert not _verdict({"insult": 0.75, "threat": 0.0}, addressed=True).flagged
    assert _verdict({"insult": 0.85, "threat": 0.0}, addressed=True).categories == ["insult"]


@pytest.mark.parametrize(
    ("text", "aimed"),
    [
        ("お前ほんと使えないな", True),
        ("こいつの投稿いつも長い", True),
        ("あいつら全員グルだろ", True),
        ("事故が相次いでいる", False),  # あいつぐ
        ("あなたの投稿ありがとう", False),  # polite address does not count
        ("田中さんおめでとう", False),
    ],
)
def test_address_phase(text: str, aimed: bool) -> None:
    ctx = Context(original=text, normalised=normalise(text))
    ev = address.phase(ctx)
    assert (ev is not None and ev.addressed) == aimed


def test_policy_file_rejects_nonsense(tmp_path: Path) -> None:
    model = tmp_path / "m.skops"
    (tmp_path / POLICY_FILE).write_text(json.dumps({"alone": {"insult": 1.5}}), encoding="utf-8")
    with pytest.raises(ValueError, match="alone"):
        load_policy(model)
    assert load_policy(tmp_path / "nowhere" / "m.skops") == DecisionPolicy()


def test_without_a_policy_the_model_keeps_its_own_thresholds() -> None:
    alone, review, aimed = DecisionPolicy().cutoffs(CATS, SUPPORTED)
    assert alone == review == aimed == SUPPORTED


def test_shipped_policy_was_chosen_for_the_shipped_model() -> None:
    # Retraining changes the model's probabilities: the policy must be chosen again (bench/choose_policy.py).
    policy = load_policy(DEFAULT_MODEL_PATH)
    judge = _judge()
    assert judge is not None and policy.alone
    assert policy.model_version == judge.scorer.metadata["version"]
    assert set(policy.alone) == set(judge.scorer.categories)


@pytest.mark.parametrize(
    ("text", "flagged"),
    [
        ("借金が返せない。死んでお詫びするしかない", False),  # the words of abuse, of oneself, in crisis
        ("いっそ死ねたら楽なのに", False),
        ("もう死にたい。でもお前だけは絶対に殺してやる", True),  # both: in need and a threat to someone
        ("お前が死んでお詫びしろ", True),  # said to a person, the same words are an attack
        ("4んでお詫びしろ", True),
    ],
)
def test_a_writer_in_crisis_is_not_flagged_for_their_own_words(text: str, flagged: bool) -> None:
    from classifiers import moderate

    verdict = moderate(text)
    assert verdict.flagged is flagged, verdict.to_dict()
    if "死にたい" in text or "しかない" in text:
        assert verdict.needs_support


def test_the_policy_search_decides_as_compose_does() -> None:
    # bench/choose_policy.py judges thousands of candidate policies without classifying again, so it mirrors
    # compose's decision; on our own sets, with the shipped policy, the mirror and moderate() must agree.
    import sys

    from classifiers import moderate
    from classifiers.phases import model as model_phase

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
    import choose_policy as cp

    policy = load_policy(DEFAULT_MODEL_PATH)
    data = Path(__file__).resolve().parents[1] / "data"
    for name in ("eval_crowd.jsonl", "support_eval.jsonl"):
        judge = _judge()
        assert judge is not None
        with model_phase.use_scorer(judge.scorer):  # the model's own thresholds, as the search reads them
            rows = cp.judge_rows(data / name)
        texts = [r.text for r in cp.read_set(data / name)]
        mirrored = [cp.flagged(j, cp.as_searched(policy)) for j in rows]
        assert mirrored == [moderate(t).flagged for t in texts], name
