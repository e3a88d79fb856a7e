"""Per-class plans (pure Python)."""

from __future__ import annotations

import math

import pytest

from components.rebalance.errors import RebalanceInputError
from components.rebalance.plan import SplitPlan, plan_split
from components.rebalance.spec import RebalanceParameters


def params(**overrides) -> RebalanceParameters:
    return RebalanceParameters(**{"strategy": "undersample", **overrides})


def plan_train(counts, parameters: RebalanceParameters) -> SplitPlan:
    """The plan of a split named train whose label is Class."""
    return plan_split("train", counts, parameters, "Class")


def test_undersample_keeps_every_minority_row_and_meets_the_ratio():
    plan = plan_train({"0": 284_315, "1": 492}, params(target_ratio=0.1))
    assert plan.counts_after == {"0": 4920, "1": 492}
    assert plan.rules["1"].action == "keep" and plan.rules["0"].action == "undersample"
    assert (plan.rules["0"].copies, plan.rules["0"].extra) == (0, 4920)


def test_oversample_keeps_every_row_and_adds_copies():
    plan = plan_train({"0": 1000, "1": 30}, params(strategy="oversample", target_ratio=0.5))
    assert plan.counts_after == {"0": 1000, "1": 500}
    rule = plan.rules["1"]
    assert (rule.copies, rule.extra) == (16, 20) and rule.copies * 30 + rule.extra == 500


def test_hybrid_meets_at_the_geometric_mean():
    m, big_m, ratio = 492, 284_315, 0.5
    plan = plan_train({"0": big_m, "1": m}, params(strategy="hybrid", target_ratio=ratio))
    minority, majority = plan.counts_after["1"], plan.counts_after["0"]
    assert minority == round(math.sqrt(ratio * m * big_m))
    assert majority == round(minority / ratio)
    # Both classes change by the same factor (up to rounding).
    assert minority / m == pytest.approx(big_m / majority, rel=1e-3)
    assert m < minority and majority < big_m


def test_smote_plans_synthetic_rows():
    plan = plan_train({"0": 1000, "1": 40}, params(strategy="smote", target_ratio=0.2, k_neighbors=3))
    assert plan.counts_after == {"0": 1000, "1": 200}
    assert plan.smote_classes["1"].synthetic == 160 and plan.rules["0"].action == "keep"


@pytest.mark.parametrize("strategy", ["augment_noise", "mixup"])
def test_augmentation_plans_synthetic_rows_like_smote_and_never_removes_rows(strategy):
    plan = plan_train({"0": 1000, "1": 40}, params(strategy=strategy, target_ratio=0.2))
    assert plan.counts_after == {"0": 1000, "1": 200} and plan.smote_classes["1"].synthetic == 160
    assert plan.rules["1"].action == "synthesize" and plan.rules["0"].action == "keep"
    with pytest.raises(RebalanceInputError, match=f"target_counts\\['1'\\]=30 < 40 rows, but strategy '{strategy}'"):
        plan_train({"0": 1000, "1": 40}, params(strategy=strategy, target_counts={"1": 30}))
    with pytest.raises(RebalanceInputError, match=f"{strategy} would hold class '1' \\(40 rows\\) in memory"):
        plan_train({"0": 1000, "1": 40}, params(strategy=strategy, target_ratio=0.2, smote_max_minority_rows=30))


def test_already_balanced_split_is_left_unchanged():
    plan = plan_train({"0": 100, "1": 50}, params(target_ratio=0.1))
    assert not plan.changes_data and plan.counts_after == {"0": 100, "1": 50}
    assert "already" in plan.note


def test_multiclass_target_counts():
    plan = plan_train({"a": 500, "b": 40, "c": 90}, params(strategy="hybrid", target_counts={"a": 200, "b": 100}))
    assert plan.counts_after == {"a": 200, "b": 100, "c": 90}
    assert [plan.rules[n].action for n in "abc"] == ["undersample", "oversample", "keep"]


def test_target_class_without_rows_is_refused():
    with pytest.raises(RebalanceInputError, match=r"class\(es\) \['z'\] with no rows.*'a': 5"):
        plan_train({"a": 5, "b": 7, "z": 0}, params(strategy="hybrid", target_counts={"z": 3}))


def test_target_counts_against_the_strategy_direction_are_refused():
    with pytest.raises(RebalanceInputError, match="never adds rows"):
        plan_train({"a": 5, "b": 7}, params(strategy="undersample", target_counts={"a": 6}))
    with pytest.raises(RebalanceInputError, match="never removes rows"):
        plan_train({"a": 5, "b": 7}, params(strategy="oversample", target_counts={"b": 6}))


def test_single_class_split_fails_or_is_skipped_as_configured():
    with pytest.raises(RebalanceInputError, match=r"only one class \('0': 40 rows\).*on_single_class='skip'"):
        plan_train({"0": 40, "1": 0}, params())
    plan = plan_train({"0": 40, "1": 0}, params(on_single_class="skip"))
    assert not plan.changes_data and "Skipped" in plan.note


def test_more_than_two_classes_need_target_counts():
    with pytest.raises(RebalanceInputError, match="Set target_counts"):
        plan_train({"a": 5, "b": 7, "c": 9}, params())


def test_oversampling_beyond_the_maximum_factor_is_refused():
    with pytest.raises(RebalanceInputError, match=r"factor of 50.0 > max_oversampling_factor=10"):
        plan_train({"0": 1000, "1": 10}, params(strategy="oversample", target_ratio=0.5, max_oversampling_factor=10))


def test_smote_needs_more_rows_than_k_neighbors():
    with pytest.raises(RebalanceInputError, match=r"k_neighbors=5 .* has 5\. Lower k_neighbors"):
        plan_train({"0": 100, "1": 5}, params(strategy="smote", target_ratio=0.5, k_neighbors=5))


def test_smote_refuses_a_class_beyond_the_memory_limit():
    with pytest.raises(RebalanceInputError, match="smote_max_minority_rows=50"):
        plan_train({"0": 1000, "1": 60}, params(strategy="smote", target_ratio=0.5, smote_max_minority_rows=50))


def test_empty_split_is_refused():
    with pytest.raises(RebalanceInputError, match="split 'train' has no examples"):
        plan_train({"0": 0, "1": 0}, params())
    with pytest.raises(RebalanceInputError, match="has no examples"):
        plan_train({}, params())


def test_strategy_none_copies_every_split_unchanged():
    plan = plan_train({"0": 1000, "1": 10}, RebalanceParameters())
    assert not plan.changes_data and plan.counts_after == {"0": 1000, "1": 10}
    assert "strategy 'none'" in plan.note


def test_messages_name_the_label():
    with pytest.raises(RebalanceInputError, match="in label 'Class'; target_ratio is for binary labels"):
        plan_train({"a": 5, "b": 7, "c": 9}, params())
