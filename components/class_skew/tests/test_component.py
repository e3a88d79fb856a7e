"""ClassSkew's construction: channels, parameters from the pipeline config, and settings checked at once."""

from __future__ import annotations

import dataclasses

import pytest
from tfx import types
from tfx.types import standard_artifacts

from components.class_skew import component
from components.class_skew.label_distribution import ClassSkewInputError
from components.class_skew.spec import ClassSkewParameters


def channels():
    return {
        "statistics": types.Channel(type=standard_artifacts.ExampleStatistics),
        "schema": types.Channel(type=standard_artifacts.Schema),
    }


def test_builds_from_the_pipeline_config():
    node = component.ClassSkew(**channels(), label_key="Class", **dataclasses.asdict(ClassSkewParameters()))
    assert node.outputs[component.REPORT_KEY].type is component.ClassSkewReport
    assert node.outputs[component.HYPERPARAMETERS_KEY].type is standard_artifacts.HyperParameters
    assert node.exec_properties["severe_ratio"] == 100.0
    assert node.exec_properties["on_single_class"] == "fail"
    assert component.ClassSkewReport.TYPE_NAME == "imbalanced.ClassSkewReport"


def test_previous_statistics_is_an_optional_input():
    previous = types.Channel(type=standard_artifacts.ExampleStatistics)
    node = component.ClassSkew(**channels(), previous_statistics=previous, imbalanced_ratio=2)
    assert node.inputs[component.PREVIOUS_STATISTICS_KEY] is previous
    assert node.exec_properties["imbalanced_ratio"] == 2.0
    assert component.PREVIOUS_STATISTICS_KEY not in component.ClassSkew(**channels()).inputs


@pytest.mark.parametrize(
    "params, message",
    [
        ({"on_skew": "ignore"}, r"on_skew must be one of warn, fail; got 'ignore'"),
        ({"imbalanced_ratio": 0.5}, r"imbalanced_ratio must be >= 1, got 0.5"),
        ({"severe_ratio": 2.0}, r"severe_ratio \(2.0\) must be >= imbalanced_ratio \(3.0\)"),
        ({"drift_js_threshold": 1.5}, r"drift_js_threshold must be in \[0, 1\], got 1.5"),
        ({"skew_linf_threshold": "0.1"}, r"skew_linf_threshold must be a number, got '0.1'"),
        ({"label_key": ""}, r"label_key must not be empty"),
        ({"eval_split": "train"}, r"train_split and eval_split must differ"),
    ],
)
def test_bad_parameters_fail_at_construction(params, message):
    with pytest.raises(ClassSkewInputError, match=message):
        component.ClassSkew(**channels(), **params)
