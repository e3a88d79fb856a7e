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


def test_a_bad_setting_is_a_parameter_error_for_the_command_line():
    with pytest.raises(ParameterError, match=r"class_skew.on_drift must be one of warn, fail"):
        ClassSkewParameters(on_drift="stop")
    assert issubclass(ClassSkewParameterError, ParameterError)
    assert ClassSkewParameters.parse_field("positive_class", "none") is None
    assert ClassSkewParameters.parse_field("skew_js_threshold", "0.05") == 0.05
