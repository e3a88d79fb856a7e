"""ClassSkew component: makes the pipeline see class imbalance, train/eval label skew and label drift.

Runs right after StatisticsGen and reads its ExampleStatistics (no pass over the data).
Outputs:
- `class_skew` (ClassSkewReport): `class_skew.json` (everything, see `report.load_report`)
  and `summary.txt` (one line per split / finding); key figures as MLMD custom properties.
- `hyperparameters` (standard HyperParameters): one JSON file that the stock Trainer
  parses into `fn_args.hyperparameters` (label_key, classes, class_counts, class_weights,
  initial_bias, positive_class; counts of the train split).

A custom artifact type rather than TFDV's ExampleAnomalies: the findings carry numbers
(counts, ratios, distances, weights) that the Anomalies proto has no place for, and
ExampleValidator's ExampleAnomalies already means "schema violations" to its readers.
"""

from __future__ import annotations

from typing import Optional

from tfx import types
from tfx.dsl.components.base import base_component, executor_spec
from tfx.types import standard_artifacts
from tfx.types.artifact import Artifact
from tfx.types.component_spec import ChannelParameter, ExecutionParameter

from components.class_skew import executor
from components.class_skew import label_distribution as ld
from components.class_skew.keys import (
    FLOAT_PARAMS,
    HYPERPARAMETERS_KEY,
    POSITIVE_CLASS_PARAM,
    PREVIOUS_STATISTICS_KEY,
    REPORT_KEY,
    SCHEMA_KEY,
    STATISTICS_KEY,
    STRING_PARAMS,
)
from components.class_skew.label_distribution import ClassSkewError, ClassSkewInputError
from components.class_skew.report import load_report

__all__ = [
    "ClassSkew",
    "ClassSkewError",
    "ClassSkewInputError",
    "ClassSkewReport",
    "ClassSkewSpec",
    "HYPERPARAMETERS_KEY",
    "PREVIOUS_STATISTICS_KEY",
    "REPORT_KEY",
    "SCHEMA_KEY",
    "STATISTICS_KEY",
    "load_report",
]


class ClassSkewReport(Artifact):
    """The label's class distribution per split, skew, drift and findings (class_skew.json, summary.txt)."""

    TYPE_NAME = "imbalanced.ClassSkewReport"


class ClassSkewSpec(types.ComponentSpec):
    """Inputs, outputs and parameters of ClassSkew."""

    PARAMETERS = {
        **{name: ExecutionParameter(type=str) for name in STRING_PARAMS},
        **{name: ExecutionParameter(type=float) for name in FLOAT_PARAMS},
        POSITIVE_CLASS_PARAM: ExecutionParameter(type=str, optional=True),
    }
    INPUTS = {
        STATISTICS_KEY: ChannelParameter(type=standard_artifacts.ExampleStatistics),
        SCHEMA_KEY: ChannelParameter(type=standard_artifacts.Schema),
        PREVIOUS_STATISTICS_KEY: ChannelParameter(type=standard_artifacts.ExampleStatistics, optional=True),
    }
    OUTPUTS = {
        REPORT_KEY: ChannelParameter(type=ClassSkewReport),
        HYPERPARAMETERS_KEY: ChannelParameter(type=standard_artifacts.HyperParameters),
    }


class ClassSkew(base_component.BaseComponent):
    """Flags class imbalance, train/eval label skew and span drift; hands class weights and bias to the Trainer."""

    SPEC_CLASS = ClassSkewSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.Executor)

    def __init__(
        self,
        statistics: types.BaseChannel,
        schema: types.BaseChannel,
        previous_statistics: Optional[types.BaseChannel] = None,
        label_key: str = "Class",
        imbalanced_ratio: float = 3.0,
        severe_ratio: float = 100.0,
        skew_linf_threshold: float = 0.01,
        skew_js_threshold: float = 0.01,
        drift_linf_threshold: float = 0.01,
        drift_js_threshold: float = 0.01,
        on_single_class: str = ld.FAIL,
        on_empty_split: str = ld.FAIL,
        on_severe_imbalance: str = ld.WARN,
        on_skew: str = ld.WARN,
        on_drift: str = ld.WARN,
        train_split: str = "train",
        eval_split: str = "eval",
        positive_class: Optional[str] = None,
    ):
        """Checks the settings at once (ClassSkewInputError naming the parameter).

        Args:
          statistics: StatisticsGen's ExampleStatistics, computed with a schema in which the label is categorical.
          schema: the Schema (ImportSchemaGen / SchemaGen).
          previous_statistics: optional ExampleStatistics of the previous span (see `resolver.py`) for drift.
          label_key: the label feature.
          imbalanced_ratio, severe_ratio: majority/minority count ratio from which a split is imbalanced / severe.
          skew_*_threshold: train-vs-other-split label distribution limits (L-infinity, Jensen-Shannon in bits).
          drift_*_threshold: previous-vs-current span label distribution limits.
          on_*: "warn" (record, go on) or "fail" (raise ClassSkewError, nothing downstream runs).
            on_single_class applies to the train split (other splits warn).
          train_split, eval_split: the split whose counts feed the Trainer, and the headline skew split.
          positive_class: binary labels only; default "1" if it is a class, else the train minority class.
        """
        settings = ld.Settings(
            label_key=label_key,
            imbalanced_ratio=_number("imbalanced_ratio", imbalanced_ratio),
            severe_ratio=_number("severe_ratio", severe_ratio),
            skew_linf_threshold=_number("skew_linf_threshold", skew_linf_threshold),
            skew_js_threshold=_number("skew_js_threshold", skew_js_threshold),
            drift_linf_threshold=_number("drift_linf_threshold", drift_linf_threshold),
            drift_js_threshold=_number("drift_js_threshold", drift_js_threshold),
            on_single_class=on_single_class,
            on_empty_split=on_empty_split,
            on_severe_imbalance=on_severe_imbalance,
            on_skew=on_skew,
            on_drift=on_drift,
            train_split=train_split,
            eval_split=eval_split,
            positive_class=positive_class,
        )
        spec = ClassSkewSpec(
            statistics=statistics,
            schema=schema,
            previous_statistics=previous_statistics,
            class_skew=types.Channel(type=ClassSkewReport),
            hyperparameters=types.Channel(type=standard_artifacts.HyperParameters),
            **{name: getattr(settings, name) for name in (*STRING_PARAMS, *FLOAT_PARAMS)},
            positive_class=positive_class,
        )
        super().__init__(spec=spec)


def _number(name: str, value: object) -> float:
    """Floats for the float parameters (TFX type-checks them); ints are fine, strings and bools are not."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ClassSkewInputError(f"ClassSkew: {name} must be a number, got {value!r}")
    return float(value)
