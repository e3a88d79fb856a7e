"""Rebalance's parameters: every check names the setting; the data set's names are checked against them."""

from __future__ import annotations

import dataclasses

import pytest

from components.common.parameters import ParameterError
from components.rebalance.errors import RebalanceError, RebalanceParameterError
from components.rebalance.spec import RebalanceParameters, RebalanceSpec, smote_features


def params(**overrides) -> RebalanceParameters:
    return RebalanceParameters(**{"smote_feature_keys": ("f0", "f1"), **overrides})


def test_defaults_are_the_pipelines():
    defaults = RebalanceParameters()
    assert (defaults.strategy, defaults.target_ratio, defaults.splits, defaults.seed) == ("none", 0.1, ("train",), 42)
    assert defaults.smote_feature_keys == () and defaults.target_counts is None
    assert (defaults.noise_scale, defaults.mixup_alpha) == (0.1, 0.4)


@pytest.mark.parametrize("ratio", [0.0, -0.1, 1.5])
def test_ratio_out_of_range_is_refused(ratio):
    with pytest.raises(RebalanceParameterError, match=r"rebalance.target_ratio must be in \(0, 1\]"):
        params(target_ratio=ratio)


@pytest.mark.parametrize(
    "overrides, match",
    [
        ({"strategy": "random"}, "rebalance.strategy must be one of"),
        ({"target_ratio": "0.5"}, "rebalance.target_ratio must be a number"),
        ({"k_neighbors": 0}, "rebalance.k_neighbors"),
        ({"splits": ()}, "rebalance.splits must name"),
        ({"splits": ("train", "train")}, "more than once"),
        ({"target_counts": {"0": -1}}, "must be >= 0"),
        ({"target_counts": (("0", 1), ("0", 2))}, "more than once"),
        ({"target_counts": {"0": 1.5}}, "must be an int"),
        ({"target_counts": ()}, "must name at least one class"),
        ({"seed": 1.5}, "rebalance.seed must be an int"),
        ({"smote_feature_keys": ("f0", "f0")}, "rebalance.smote_feature_keys names a feature more than once"),
        ({"max_oversampling_factor": 0.5}, "rebalance.max_oversampling_factor"),
        ({"on_single_class": "ignore"}, "rebalance.on_single_class"),
        ({"smote_max_minority_rows": 0}, "rebalance.smote_max_minority_rows"),
        ({"noise_scale": 0.0}, r"rebalance.noise_scale must be a finite number > 0, got 0.0"),
        ({"noise_scale": float("nan")}, "rebalance.noise_scale must be a finite number > 0"),
        ({"noise_scale": "0.1"}, "rebalance.noise_scale must be a finite number > 0"),
        ({"mixup_alpha": -1}, r"rebalance.mixup_alpha must be a finite number > 0, got -1"),
        ({"mixup_alpha": True}, "rebalance.mixup_alpha must be a finite number > 0"),
    ],
)
def test_bad_parameters_are_refused(overrides, match):
    with pytest.raises(RebalanceParameterError, match=match):
        params(**overrides)


def test_a_bad_parameter_is_both_a_rebalance_error_and_a_parameter_error():
    with pytest.raises(RebalanceParameterError) as raised:
        params(k_neighbors=0)
    assert isinstance(raised.value, RebalanceError) and isinstance(raised.value, ParameterError)


def test_sequences_become_tuples_and_one_name_is_not_split_into_characters():
    given = params(splits="train", smote_feature_keys="f0", target_counts={1: 5, "0": 7})
    assert given.splits == ("train",) and given.smote_feature_keys == ("f0",)
    assert given.target_counts == (("1", 5), ("0", 7))


def test_exec_properties_round_trip():
    original = params(strategy="hybrid", target_counts={"a": 3, "b": 5}, splits=("train", "extra"), seed=-7)
    assert RebalanceParameters.from_exec_properties(original.to_exec_properties()) == original


def test_smote_interpolates_every_numeric_model_input_unless_told_otherwise():
    assert smote_features(RebalanceParameters(strategy="smote"), "Class", ("f0", "f1", "f2")) == ("f0", "f1", "f2")
    assert smote_features(params(strategy="smote"), "Class", ("f0", "f1", "f2")) == ("f0", "f1")


@pytest.mark.parametrize(
    "parameters, feature_keys, match",
    [
        (RebalanceParameters(strategy="smote"), (), "strategy 'smote' needs rebalance.smote_feature_keys"),
        (RebalanceParameters(strategy="augment_noise"), (), "strategy 'augment_noise' needs rebalance.smote_"),
        (RebalanceParameters(strategy="mixup"), (), "strategy 'mixup' needs rebalance.smote_feature_keys"),
        (params(smote_feature_keys=("f0", "Class")), ("f0",), "smote_feature_keys must not include the label"),
        (RebalanceParameters(), ("f0", "Class"), "feature_keys must not include the label 'Class'"),
    ],
)
def test_smote_features_are_refused_without_numbers_to_interpolate_or_with_the_label(parameters, feature_keys, match):
    with pytest.raises(RebalanceParameterError, match=match):
        smote_features(parameters, "Class", feature_keys)


def test_an_empty_label_key_is_refused():
    with pytest.raises(RebalanceParameterError, match="label_key must be a non-empty string"):
        smote_features(RebalanceParameters(), "", ("f0",))


def test_the_spec_has_one_parameter_per_setting_plus_the_data_sets_names():
    settings = {field.name for field in dataclasses.fields(RebalanceParameters)}
    assert set(RebalanceSpec.PARAMETERS) == settings | {"label_key", "feature_keys"}
