"""Component construction: parameters validated at once, channels typed, Beam args accepted."""

from __future__ import annotations

import dataclasses

import pytest
from tfx import types
from tfx.dsl.components.base import executor_spec
from tfx.types import standard_artifacts

from components.class_skew.component import ClassSkewReport
from components.rebalance import component, spec
from components.rebalance.plan import RebalanceParameterError, RebalanceParameters


def examples_channel():
    return types.Channel(type=standard_artifacts.Examples)


def test_built_from_the_pipeline_config_with_beam_args():
    config = spec.RebalanceParameters()
    rebalance = component.Rebalance(
        examples=examples_channel(),
        class_skew=types.Channel(type=ClassSkewReport),
        label_key="Class",
        **{**dataclasses.asdict(config), "smote_feature_keys": ("V1",)},
    ).with_beam_pipeline_args(["--direct_num_workers=2"])
    assert isinstance(rebalance.executor_spec, executor_spec.BeamExecutorSpec)
    assert "--direct_num_workers=2" in rebalance.executor_spec.beam_pipeline_args
    assert set(rebalance.inputs) == {component.EXAMPLES_KEY, component.CLASS_SKEW_KEY}
    assert rebalance.outputs[component.REBALANCED_EXAMPLES_KEY].type is standard_artifacts.Examples
    params = RebalanceParameters.from_exec_properties(rebalance.exec_properties)
    assert params.strategy == config.strategy and params.splits == config.splits
    assert params.smote_feature_keys == ("V1",) and params.target_ratio == config.target_ratio


def test_config_fields_are_exactly_the_parameters():
    component_params = set(component.RebalanceSpec.PARAMETERS) - {"label_key"}
    assert component_params == {field.name for field in dataclasses.fields(spec.RebalanceParameters)}


def test_class_skew_is_optional_and_target_counts_travel_as_json():
    rebalance = component.Rebalance(examples=examples_channel(), strategy="hybrid", target_counts={"a": 3, "b": 9})
    assert component.CLASS_SKEW_KEY not in rebalance.inputs or not rebalance.inputs[component.CLASS_SKEW_KEY]
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
def test_bad_parameters_fail_when_the_component_is_built(overrides, match):
    with pytest.raises(RebalanceParameterError, match=match):
        component.Rebalance(examples=examples_channel(), **overrides)


def test_wrong_input_type_is_refused():
    with pytest.raises(TypeError):
        component.Rebalance(examples=types.Channel(type=standard_artifacts.Schema))
