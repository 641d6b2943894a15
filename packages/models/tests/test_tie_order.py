"""Which fusion a tie goes to (``fusion.tie_order``, canids-models 0.19.0), in validation's
rule and the families rule: ``simplest`` (mean first, 0.18.0's order) or ``alone_first``
(max, cut_max and either, in which one detector flags alone, before the fusions that
average it with the other)."""

from types import SimpleNamespace

import pytest
from canids_models import load_config
from canids_models.families import CANDIDATES, choose_by_families
from canids_models.fusion_methods import EITHER, TIE_ORDERS
from canids_models.stages.fusion_choice import choose_by_validation

SIMPLEST, ALONE = TIE_ORDERS["simplest"], TIE_ORDERS["alone_first"]


def test_both_orders_rank_every_candidate_once():
    assert SIMPLEST == CANDIDATES
    assert sorted(ALONE) == sorted(CANDIDATES)
    assert ALONE[:3] == ("max", "cut_max", EITHER)


def _validation(scores: dict[str, float]):
    """A fitted fusion's view as validation's rule reads it: each method's frozen val F1
    and calibrated leave-one-capture-out F1 (here equal, so the score is that value)."""
    methods = tuple(m for m in CANDIDATES if m in scores or m == EITHER)
    thresholds = {m: SimpleNamespace(val_f1=scores.get(m, 0.0)) for m in methods}
    choices = {m: SimpleNamespace(loco_f1=scores[m], f1=scores[m]) for m in scores}
    return SimpleNamespace(methods=methods, thresholds=thresholds), choices


def test_validation_s_rule_gives_a_tie_to_the_first_of_the_order():
    """A single vehicle's validation: every fusion at 1.0 (hcrl_sa trained on kia alone,
    seeds 1 and 2), or within the margin of it."""
    tied = dict.fromkeys(("mean", "max", "logistic", "dqn", "cut_mean", "cut_max"), 1.0)
    model, choices = _validation(tied)
    assert choose_by_validation("auto", model, choices) == "mean"  # 0.18.0's default order
    assert choose_by_validation("auto", model, choices, SIMPLEST) == "mean"
    assert choose_by_validation("auto", model, choices, ALONE) == "max"
    near = {**tied, "max": 0.997}  # within 0.005: still a tie
    model, choices = _validation(near)
    assert choose_by_validation("auto", model, choices, ALONE) == "max"
    clear = {**tied, "max": 0.98, "cut_max": 0.98}  # mean leads by more than the margin
    model, choices = _validation(clear)
    assert choose_by_validation("auto", model, choices, ALONE) == "mean"
    assert choose_by_validation("cut_mean", model, choices, ALONE) == "cut_mean"  # fixed


def test_the_families_rule_gives_a_tie_to_the_first_of_the_order():
    figures = {
        "DoS": {"frozen_f1": {"mean": 0.8, "max": 0.8, "dqn": 0.7, EITHER: 0.8}},
        "fuzzing": {"frozen_f1": {"mean": 0.9, "max": 0.9, "dqn": 1.0, EITHER: 0.9}},
    }
    methods = ("mean", "max", "dqn", EITHER)
    val = dict.fromkeys(methods, 0.99)
    assert choose_by_families(figures, val, methods, 0.005)[0] == "mean"
    assert choose_by_families(figures, val, methods, 0.005, SIMPLEST)[0] == "mean"
    assert choose_by_families(figures, val, methods, 0.005, ALONE)[0] == "max"
    # Validation still breaks a tie before the order does.
    assert choose_by_families(figures, {**val, "max": 0.9}, methods, 0.005, ALONE)[0] == EITHER
    # A mean that leads by more than the margin wins under either order.
    figures["DoS"]["frozen_f1"]["dqn"] = 0.9
    assert choose_by_families(figures, val, methods, 0.005, ALONE)[0] == "dqn"


def test_an_order_that_leaves_a_candidate_out_is_refused():
    model, choices = _validation(dict.fromkeys(("mean", "max"), 1.0))
    with pytest.raises(ValueError, match=r"does not rank \['mean'\]"):
        choose_by_validation("auto", model, choices, ("max", EITHER))
    figures = {"a": {"frozen_f1": {"mean": 0.5, "max": 0.5}}}
    with pytest.raises(ValueError, match=r"does not rank \['max'\]"):
        choose_by_families(figures, {}, ("mean", "max"), 0.005, ("mean",))


def test_the_config_names_an_order_and_the_digest_counts_it_only_when_not_simplest():
    assert load_config("teacher").fusion.tie_order == "alone_first"  # since 0.19.0
    simplest = load_config("teacher", overrides=["fusion.tie_order=simplest"])
    alone = load_config("teacher", overrides=["fusion.tie_order=alone_first"])
    assert (simplest.fusion.tie_order, alone.fusion.tie_order) == ("simplest", "alone_first")
    assert simplest.digest != alone.digest
    assert "tie_order" in alone.to_dict()["fusion"]
    with pytest.raises(ValueError, match="tie_order"):
        load_config("teacher", overrides=["fusion.tie_order=random"])


def test_the_fusion_stage_records_its_order_and_follows_it(refit_fusion, tmp_path_factory):
    root = tmp_path_factory.mktemp("tie_order")
    for name, order in TIE_ORDERS.items():
        _, fusion, evaluate, _, log = refit_fusion(root / name, name, f"fusion.tie_order={name}")
        sel = fusion["selection"]
        assert sel["tie_order"] == list(order)
        assert evaluate["fusion_method"] == fusion["method"] == sel["method"]
        if sel["families"]:
            assert f"then the first of {', '.join(order)}, breaks it" in "\n".join(log)
            val_f1 = {k: v["frozen_val_f1"] for k, v in sel["scores"].items()}
            best, _ = choose_by_families(sel["families"], val_f1, CANDIDATES, 0.005, order)
            assert sel["method"] == best
