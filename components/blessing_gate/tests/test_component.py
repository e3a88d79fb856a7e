"""The component: data-set names and one BlessingGateParameters, checked at construction; channel types."""

import json

import pytest
from tfx import types
from tfx.types import standard_artifacts

from components.blessing_gate.component import BlessingGate
from components.blessing_gate.errors import GateConfigError
from components.blessing_gate.spec import (
    BASELINE_MODEL_KEY,
    BLESSING_KEY,
    EVALUATION_KEY,
    EVALUATOR_BLESSING_KEY,
    EXAMPLES_KEY,
    GATE_REPORT_KEY,
    MODEL_KEY,
    SCHEMA_KEY,
    BlessingGateParameters,
    GateReport,
)

NAMES = {"label_key": "Class", "slice_feature_keys": ("hour_band", "amount_bucket"), "eval_split": "eval"}


def _channels(with_baseline=True):
    channels = {
        EVALUATION_KEY: types.Channel(type=standard_artifacts.ModelEvaluation),
        EVALUATOR_BLESSING_KEY: types.Channel(type=standard_artifacts.ModelBlessing),
        EXAMPLES_KEY: types.Channel(type=standard_artifacts.Examples),
        MODEL_KEY: types.Channel(type=standard_artifacts.Model),
        SCHEMA_KEY: types.Channel(type=standard_artifacts.Schema),
    }
    if with_baseline:
        channels[BASELINE_MODEL_KEY] = types.Channel(type=standard_artifacts.Model)
    return channels


def test_exec_properties_are_the_parameters_and_the_names_it_is_given():
    settings = BlessingGateParameters(min_auc=0.8, min_slice_positives=25, recall_at_fpr=0.01)
    gate = BlessingGate(**_channels(), **NAMES, parameters=settings)
    properties = gate.exec_properties
    assert properties["min_auc"] == 0.8 and properties["min_slice_positives"] == 25
    assert properties["max_recall_drop"] == settings.max_recall_drop
    assert BlessingGateParameters.from_exec_properties(properties) == settings
    assert json.loads(properties["slice_feature_keys"]) == ["hour_band", "amount_bucket"]
    assert properties["label_key"] == "Class" and properties["eval_split"] == "eval"
    assert gate.outputs[BLESSING_KEY].type is standard_artifacts.ModelBlessing
    assert gate.outputs[GATE_REPORT_KEY].type is GateReport
    assert set(gate.inputs) == {
        EVALUATION_KEY,
        EVALUATOR_BLESSING_KEY,
        EXAMPLES_KEY,
        MODEL_KEY,
        SCHEMA_KEY,
        BASELINE_MODEL_KEY,
    }


def test_baseline_model_is_optional():
    gate = BlessingGate(**_channels(with_baseline=False), **NAMES)
    assert BASELINE_MODEL_KEY not in gate.inputs


def test_default_parameters_are_the_pipeline_configs():
    properties = BlessingGate(**_channels(), **NAMES).exec_properties
    defaults = BlessingGateParameters()
    for name, value in defaults.to_exec_properties().items():
        assert properties[name] == value, name
    assert BlessingGateParameters.from_exec_properties(properties) == defaults


@pytest.mark.parametrize(
    "field, value",
    [("min_auc", 1.2), ("min_pr_auc", -0.5), ("min_recall", 100), ("max_pr_auc_drop", 1.5), ("max_recall_drop", -1)],
)
def test_threshold_outside_0_1_fails_before_the_gate_is_built_naming_it(field, value):
    with pytest.raises(GateConfigError, match=f"evaluator.{field} must be in \\[0, 1\\], got {value!r}"):
        BlessingGate(**_channels(), **NAMES, parameters=BlessingGateParameters(**{field: value}))


def test_bad_names_fail_at_construction():
    with pytest.raises(GateConfigError, match="evaluator.min_slice_positives must be an integer >= 1, got 0"):
        BlessingGate(**_channels(), **NAMES, parameters=BlessingGateParameters(min_slice_positives=0))
    with pytest.raises(GateConfigError, match="slice_feature_keys must be a list of feature names, got 'hour_band'"):
        BlessingGate(**_channels(), label_key="Class", slice_feature_keys="hour_band", eval_split="eval")
    with pytest.raises(GateConfigError, match="label_key must be a non-empty string"):
        BlessingGate(**_channels(), label_key="", slice_feature_keys=(), eval_split="eval")
    with pytest.raises(GateConfigError, match="eval_split must be a split name, got ''"):
        BlessingGate(**_channels(), label_key="Class", slice_feature_keys=(), eval_split="")
    with pytest.raises(GateConfigError, match="parameters must be BlessingGateParameters, got {'min_auc': 0.8}"):
        BlessingGate(**_channels(), **NAMES, parameters={"min_auc": 0.8})
