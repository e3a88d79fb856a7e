"""Component construction: parameters validated at once, channels typed, Beam args accepted."""

from __future__ import annotations

import json

import pytest
from tfx import types
from tfx.dsl.components.base import executor_spec
from tfx.types import standard_artifacts

from components.class_skew.spec import ClassSkewReport
from components.rebalance import component, spec
from components.rebalance.errors import RebalanceParameterError
from components.rebalance.spec import RebalanceParameters


def examples_channel():
    return types.Channel(type=standard_artifacts.Examples)


def test_built_from_the_pipeline_config_with_beam_args():
    parameters = RebalanceParameters(strategy="smote", smote_feature_keys=("V1",))
    rebalance = component.Rebalance(
        examples=examples_channel(),
        class_skew=types.Channel(type=ClassSkewReport),
        label_key="Class",
        feature_keys=("V1", "V2"),
        parameters=parameters,
    ).with_beam_pipeline_args(["--direct_num_workers=2"])
    assert isinstance(rebalance.executor_spec, executor_spec.BeamExecutorSpec)
    assert "--direct_num_workers=2" in rebalance.executor_spec.beam_pipeline_args
    assert set(rebalance.inputs) == {spec.EXAMPLES_KEY, spec.CLASS_SKEW_KEY}
    assert rebalance.outputs[spec.REBALANCED_EXAMPLES_KEY].type is standard_artifacts.Examples
    assert RebalanceParameters.from_exec_properties(rebalance.exec_properties) == parameters
    assert rebalance.exec_properties[spec.LABEL_KEY] == "Class"
    assert json.loads(rebalance.exec_properties[spec.FEATURE_KEYS]) == ["V1", "V2"]


def test_default_parameters_are_the_dataclass_defaults():
    rebalance = component.Rebalance(examples=examples_channel(), label_key="Class")
    assert RebalanceParameters.from_exec_properties(rebalance.exec_properties) == RebalanceParameters()
    assert rebalance.exec_properties["strategy"] == "none"


def test_class_skew_is_optional_and_target_counts_travel_as_json():
    parameters = RebalanceParameters(strategy="hybrid", target_counts={"a": 3, "b": 9})
    rebalance = component.Rebalance(examples=examples_channel(), label_key="Class", parameters=parameters)
    assert spec.CLASS_SKEW_KEY not in rebalance.inputs or not rebalance.inputs[spec.CLASS_SKEW_KEY]
    params = RebalanceParameters.from_exec_properties(rebalance.exec_properties)
    assert params.target_counts == (("a", 3), ("b", 9))


@pytest.mark.parametrize(
    "overrides, match",
    [
        ({"target_ratio": 0.0}, "target_ratio"),
        ({"target_ratio": 1.5}, "target_ratio"),
        ({"strategy": "smite"}, "strategy"),
        ({"k_neighbors": 0}, "k_neighbors"),
        ({"on_single_class": "warn"}, "on_single_class"),
    ],
)
def test_bad_parameters_fail_before_the_component_is_built(overrides, match):
    with pytest.raises(RebalanceParameterError, match=match):
        component.Rebalance(examples=examples_channel(), label_key="Class", parameters=RebalanceParameters(**overrides))


@pytest.mark.parametrize(
    "feature_keys, parameters, match",
    [
        ((), RebalanceParameters(strategy="smote"), "strategy 'smote' needs rebalance.smote_feature_keys"),
        ((), RebalanceParameters(strategy="mixup"), "strategy 'mixup' needs rebalance.smote_feature_keys"),
        (("V1",), RebalanceParameters(smote_feature_keys=("V1", "Class")), "must not include the label 'Class'"),
    ],
)
def test_smote_features_are_checked_against_the_data_set_when_the_component_is_built(feature_keys, parameters, match):
    with pytest.raises(RebalanceParameterError, match=match):
        component.Rebalance(
            examples=examples_channel(), label_key="Class", feature_keys=feature_keys, parameters=parameters
        )


def test_parameters_of_another_type_are_refused():
    with pytest.raises(RebalanceParameterError, match="parameters must be RebalanceParameters"):
        component.Rebalance(examples=examples_channel(), label_key="Class", parameters={"strategy": "smote"})


def test_wrong_input_type_is_refused():
    with pytest.raises(TypeError):
        component.Rebalance(examples=types.Channel(type=standard_artifacts.Schema), label_key="Class")
