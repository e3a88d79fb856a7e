"""ClassSkew's parameters: their trip through TFX's execution properties and the command line."""

from __future__ import annotations

import pytest

from components.class_skew.errors import ClassSkewParameterError
from components.class_skew.spec import ClassSkewParameters, ClassSkewSpec
from components.common.parameters import ParameterError


def test_every_parameter_is_an_execution_parameter_beside_the_label_key():
    assert set(ClassSkewSpec.PARAMETERS) == {"label_key", *ClassSkewParameters.field_types()}
    assert ClassSkewSpec.PARAMETERS["positive_class"].optional


@pytest.mark.parametrize(
    "parameters",
    [
        ClassSkewParameters(),
        ClassSkewParameters(
            imbalanced_ratio=2, on_skew="fail", train_split="fit", eval_split="test", positive_class="0"
        ),
    ],
    ids=["defaults", "overridden"],
)
def test_exec_properties_round_trip(parameters):
    properties = parameters.to_exec_properties()
    assert ClassSkewParameters.from_exec_properties({"label_key": "Class", **properties}) == parameters


def test_ints_travel_as_floats():
    assert ClassSkewParameters(imbalanced_ratio=2).imbalanced_ratio == 2.0
    assert isinstance(ClassSkewParameters(severe_ratio=200).to_exec_properties()["severe_ratio"], float)


# In the order ClassSkewParameters checks them: numbers, ratios, thresholds, actions, splits, positive class.
@pytest.mark.parametrize(
    "params, message",
    [
        ({"skew_linf_threshold": "0.1"}, r"class_skew.skew_linf_threshold must be a number, got '0.1'"),
        ({"imbalanced_ratio": True}, r"class_skew.imbalanced_ratio must be a number, got True"),
        ({"imbalanced_ratio": 0.5}, r"class_skew.imbalanced_ratio must be >= 1, got 0.5"),
        ({"severe_ratio": 2.0}, r"class_skew.severe_ratio \(2.0\) must be >= imbalanced_ratio \(3.0\)"),
        ({"drift_js_threshold": 1.5}, r"class_skew.drift_js_threshold must be in \[0, 1\], got 1.5"),
        ({"on_skew": "ignore"}, r"class_skew.on_skew must be one of warn, fail; got 'ignore'"),
        ({"on_drift": "stop"}, r"class_skew.on_drift must be one of warn, fail; got 'stop'"),
        ({"train_split": ""}, r"train_split and class_skew.eval_split must not be empty"),
        ({"eval_split": "train"}, r"train_split and class_skew.eval_split must differ"),
        ({"positive_class": ""}, r"positive_class must be None or a non-empty class name"),
    ],
)
def test_a_bad_setting_fails_when_built_naming_it(params, message):
    with pytest.raises(ClassSkewParameterError, match=message):
        ClassSkewParameters(**params)


def test_a_bad_setting_is_a_parameter_error_for_the_command_line():
    assert issubclass(ClassSkewParameterError, ParameterError)
    assert ClassSkewParameters.parse_field("positive_class", "none") is None
    assert ClassSkewParameters.parse_field("skew_js_threshold", "0.05") == 0.05
