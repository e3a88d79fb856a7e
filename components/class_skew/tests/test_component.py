"""ClassSkew's construction: channels, parameters from the pipeline config, and settings checked at once."""

from __future__ import annotations

import pytest
from tfx import types
from tfx.types import standard_artifacts

from components.class_skew import component
from components.class_skew.errors import ClassSkewInputError
from components.class_skew.spec import ClassSkewParameters


def channels():
    return {
        "statistics": types.Channel(type=standard_artifacts.ExampleStatistics),
        "schema": types.Channel(type=standard_artifacts.Schema),
    }


def test_builds_from_the_pipeline_config():
    node = component.ClassSkew(**channels(), label_key="Class", parameters=ClassSkewParameters())
    assert node.outputs[component.REPORT_KEY].type is component.ClassSkewReport
    assert node.outputs[component.HYPERPARAMETERS_KEY].type is standard_artifacts.HyperParameters
    assert node.exec_properties["label_key"] == "Class"
    assert node.exec_properties["severe_ratio"] == 100.0
    assert node.exec_properties["on_single_class"] == "fail"
    assert node.exec_properties["train_split"] == "train" and node.exec_properties["eval_split"] == "eval"
    assert component.ClassSkewReport.TYPE_NAME == "imbalanced.ClassSkewReport"


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
    assert node.inputs[component.PREVIOUS_STATISTICS_KEY] is previous
    assert node.inputs[component.EXAMPLES_KEY] is examples
    assert node.inputs[component.PREVIOUS_EXAMPLES_KEY] is previous_examples
    assert node.exec_properties["imbalanced_ratio"] == 2.0
    bare = component.ClassSkew(**channels(), label_key="Class").inputs
    for key in (component.PREVIOUS_STATISTICS_KEY, component.EXAMPLES_KEY, component.PREVIOUS_EXAMPLES_KEY):
        assert key not in bare


@pytest.mark.parametrize(
    "params, message",
    [
        ({"on_skew": "ignore"}, r"class_skew.on_skew must be one of warn, fail; got 'ignore'"),
        ({"imbalanced_ratio": 0.5}, r"class_skew.imbalanced_ratio must be >= 1, got 0.5"),
        ({"severe_ratio": 2.0}, r"class_skew.severe_ratio \(2.0\) must be >= imbalanced_ratio \(3.0\)"),
        ({"drift_js_threshold": 1.5}, r"class_skew.drift_js_threshold must be in \[0, 1\], got 1.5"),
        ({"skew_linf_threshold": "0.1"}, r"class_skew.skew_linf_threshold must be a number, got '0.1'"),
        ({"imbalanced_ratio": True}, r"class_skew.imbalanced_ratio must be a number, got True"),
        ({"eval_split": "train"}, r"train_split and class_skew.eval_split must differ"),
        ({"train_split": ""}, r"train_split and class_skew.eval_split must not be empty"),
        ({"positive_class": ""}, r"positive_class must be None or a non-empty class name"),
    ],
)
def test_bad_parameters_fail_when_built(params, message):
    with pytest.raises(ClassSkewInputError, match=message):
        ClassSkewParameters(**params)


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
