"""The gate's parameters: every check names the setting and the value; they travel through TFX unchanged."""

import dataclasses

import pytest

from components.blessing_gate.errors import GateConfigError
from components.blessing_gate.spec import (
    CLASS_NAMES,
    EVAL_SPLIT,
    LABEL_KEY,
    PROTECTED_CLASSES,
    SLICE_FEATURE_KEYS,
    BlessingGateParameters,
    BlessingGateSpec,
)
from components.blessing_gate.tests import fixtures
from components.common.parameters import ParameterError

PARAMETERS = fixtures.UNIT_PARAMETERS


@pytest.mark.parametrize(
    "field, value",
    [
        ("min_auc", 1.5),
        ("min_pr_auc", -0.1),
        ("min_recall", 2),
        ("max_pr_auc_drop", -0.01),
        ("max_recall_drop", 1.01),
        ("min_recall", float("nan")),
        ("min_auc", True),
        ("min_auc", "0.9"),
    ],
)
def test_thresholds_outside_0_1_are_rejected_with_the_value(field, value):
    with pytest.raises(GateConfigError, match=f"evaluator.{field} must be in \\[0, 1\\], got {value!r}"):
        dataclasses.replace(PARAMETERS, **{field: value})


@pytest.mark.parametrize("value", [0, -3, 2.5, True])
def test_min_slice_positives_must_be_a_positive_integer(value):
    with pytest.raises(GateConfigError, match=f"evaluator.min_slice_positives must be an integer >= 1, got {value!r}"):
        dataclasses.replace(PARAMETERS, min_slice_positives=value)


@pytest.mark.parametrize("field", ["recall_at_fpr", "confidence"])
@pytest.mark.parametrize("rate", [0.0, 1.0, -0.5])
def test_rates_must_be_strictly_between_0_and_1(field, rate):
    with pytest.raises(GateConfigError, match=f"evaluator.{field} must be in \\(0, 1\\), got {rate!r}"):
        dataclasses.replace(PARAMETERS, **{field: rate})


@pytest.mark.parametrize("field, value, minimum", [("bootstrap_samples", 99, 100), ("seed", -1, 0), ("seed", 1.5, 0)])
def test_bootstrap_settings_are_checked(field, value, minimum):
    with pytest.raises(GateConfigError, match=f"evaluator.{field} must be an integer >= {minimum}, got {value!r}"):
        dataclasses.replace(PARAMETERS, **{field: value})


def test_uncertain_blocks_is_a_boolean_and_parses_from_the_command_line():
    with pytest.raises(GateConfigError, match="evaluator.uncertain_blocks must be true or false, got 1"):
        dataclasses.replace(PARAMETERS, uncertain_blocks=1)
    assert BlessingGateParameters.parse_field("uncertain_blocks", "true") is True
    strict = dataclasses.replace(PARAMETERS, uncertain_blocks=True)
    assert strict.to_exec_properties()["uncertain_blocks"] == 1
    assert BlessingGateParameters.from_exec_properties(strict.to_exec_properties()) == strict


def test_defaults_judge_small_slices_with_intervals():
    defaults = BlessingGateParameters()
    assert (defaults.min_slice_positives, defaults.confidence, defaults.uncertain_blocks) == (5, 0.95, False)


def test_a_bad_setting_is_a_parameter_error_like_every_other_sections():
    with pytest.raises(ParameterError, match="evaluator.min_recall"):
        BlessingGateParameters(min_recall=1.5)


def test_whole_numbers_are_taken_as_fractions():
    parameters = BlessingGateParameters(min_auc=1, max_recall_drop=0)
    assert (parameters.min_auc, parameters.max_recall_drop) == (1.0, 0.0)
    assert isinstance(parameters.min_auc, float) and isinstance(parameters.max_recall_drop, float)


def test_every_setting_is_an_execution_parameter_and_round_trips():
    fields = {field.name for field in dataclasses.fields(BlessingGateParameters)}
    names = {LABEL_KEY, SLICE_FEATURE_KEYS, EVAL_SPLIT, CLASS_NAMES, PROTECTED_CLASSES}
    assert set(BlessingGateSpec.PARAMETERS) == fields | names
    changed = dataclasses.replace(PARAMETERS, recall_at_fpr=0.01)
    properties = changed.to_exec_properties()
    assert set(properties) == fields
    assert BlessingGateParameters.from_exec_properties(properties) == changed
