"""ClassSkew's construction: channels, parameters from the pipeline config, and settings checked at once."""

from __future__ import annotations

import pytest
from tfx import types
from tfx.types import standard_artifacts

from components.class_skew import component, spec
from components.class_skew.errors import ClassSkewInputError
from components.class_skew.spec import ClassSkewParameters


def channels():
    return {
        "statistics": types.Channel(type=standard_artifacts.ExampleStatistics),
        "schema": types.Channel(type=standard_artifacts.Schema),
    }


def test_builds_from_the_pipeline_config():
    node = component.ClassSkew(**channels(), label_key="Class", parameters=ClassSkewParameters())
    assert node.outputs[spec.REPORT_KEY].type is spec.ClassSkewReport
    assert node.outputs[spec.HYPERPARAMETERS_KEY].type is standard_artifacts.HyperParameters
    assert node.exec_properties["label_key"] == "Class"
    assert node.exec_properties["severe_ratio"] == 100.0
    assert node.exec_properties["on_single_class"] == "fail"
    assert node.exec_properties["train_split"] == "train" and node.exec_properties["eval_split"] == "eval"
    assert spec.ClassSkewReport.TYPE_NAME == "imbalanced.ClassSkewReport"


def test_default_parameters_are_the_dataclass_defaults():
    node = component.ClassSkew(**channels(), label_key="Class")
    assert ClassSkewParameters.from_exec_properties(node.exec_properties) == ClassSkewParameters()


def test_previous_statistics_and_examples_are_optional_inputs():
    previous = types.Channel(type=standard_artifacts.ExampleStatistics)
    examples = types.Channel(type=standard_artifacts.Examples)
    previous_examples = types.Channel(type=standard_artifacts.Examples)
    node = component.ClassSkew(
        **channels(),
        previous_statistics=previous,
        examples=examples,
        previous_examples=previous_examples,
        label_key="Class",
        parameters=ClassSkewParameters(imbalanced_ratio=2),
    )
    assert node.inputs[spec.PREVIOUS_STATISTICS_KEY] is previous
    assert node.inputs[spec.EXAMPLES_KEY] is examples
    assert node.inputs[spec.PREVIOUS_EXAMPLES_KEY] is previous_examples
    assert node.exec_properties["imbalanced_ratio"] == 2.0
    bare = component.ClassSkew(**channels(), label_key="Class").inputs
    for key in (spec.PREVIOUS_STATISTICS_KEY, spec.EXAMPLES_KEY, spec.PREVIOUS_EXAMPLES_KEY):
        assert key not in bare


@pytest.mark.parametrize(
    "arguments, message",
    [
        ({"label_key": ""}, r"ClassSkew: label_key must be a non-empty string"),
        ({"label_key": "Class", "parameters": {"on_skew": "warn"}}, r"parameters must be ClassSkewParameters"),
    ],
)
def test_bad_arguments_fail_at_construction(arguments, message):
    with pytest.raises(ClassSkewInputError, match=message):
        component.ClassSkew(**channels(), **arguments)
