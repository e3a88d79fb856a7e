"""ClassSkew component: makes the pipeline see class imbalance, train/eval label skew and label drift.

Runs right after StatisticsGen and reads its ExampleStatistics (no pass over the data).
Outputs:
- `class_skew` (ClassSkewReport): `class_skew.json` (everything, see
  `report.LabelDistributionReport`, read back with its `load`) and `summary.txt` (one line per
  split / finding); key figures as MLMD custom properties.
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

from components.class_skew import executor
from components.class_skew.errors import ClassSkewParameterError
from components.class_skew.spec import (
    EXAMPLES_KEY,
    PREVIOUS_EXAMPLES_KEY,
    PREVIOUS_STATISTICS_KEY,
    SCHEMA_KEY,
    STATISTICS_KEY,
    ClassSkewParameters,
    ClassSkewSpec,
)
from components.common.component import component_spec
from components.common.parameters import check_component_arguments

# The default `parameters`: one frozen instance, so the defaults stay those of ClassSkewParameters.
_DEFAULT_PARAMETERS = ClassSkewParameters()


class ClassSkew(base_component.BaseComponent):
    """Flags class imbalance, train/eval label skew and span drift; hands class weights and bias to the Trainer."""

    SPEC_CLASS = ClassSkewSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.Executor)

    def __init__(
        self,
        statistics: types.BaseChannel,
        schema: types.BaseChannel,
        previous_statistics: Optional[types.BaseChannel] = None,
        examples: Optional[types.BaseChannel] = None,
        previous_examples: Optional[types.BaseChannel] = None,
        *,
        label_key: str,
        parameters: ClassSkewParameters = _DEFAULT_PARAMETERS,
    ):
        """Checks the names at once (ClassSkewParameterError); the parameters checked themselves when built.

        Args:
          statistics: StatisticsGen's ExampleStatistics, computed with a schema in which the label is categorical.
          schema: the Schema (ImportSchemaGen / SchemaGen).
          previous_statistics: optional ExampleStatistics of the previous span (see `resolver.py`) for drift.
          examples: optional Examples that `statistics` describe; only their span is read, for the report.
          previous_examples: optional Examples that `previous_statistics` describe (the resolver's), for their span.
          label_key: the label feature.
          parameters: thresholds, per-finding actions and split names (see `spec.ClassSkewParameters`).
        """
        check_component_arguments("ClassSkew", parameters, ClassSkewParameters, label_key, ClassSkewParameterError)
        inputs = {
            STATISTICS_KEY: statistics,
            SCHEMA_KEY: schema,
            PREVIOUS_STATISTICS_KEY: previous_statistics,
            EXAMPLES_KEY: examples,
            PREVIOUS_EXAMPLES_KEY: previous_examples,
        }
        super().__init__(spec=component_spec(ClassSkewSpec, inputs, parameters, label_key=label_key))
