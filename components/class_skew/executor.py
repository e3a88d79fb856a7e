"""ClassSkew executor: reads the statistics and schema, calls the pure analysis, writes the report.

Nothing is written before every check has passed: a `fail` finding or bad input raises
first, so an earlier run's outputs are never replaced by a partial one.
"""

from __future__ import annotations

import math
from typing import Any

from absl import logging
from tfx import types

from components.class_skew import inputs, spec
from components.class_skew import report as rp
from components.class_skew.analysis import analyze, raise_for_failures
from components.class_skew.counts import declared_classes
from components.common.artifact_io import read_schema, write_artifact_files
from components.common.executor import ComponentExecutor, Execution


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _set_custom_properties(artifact: types.Artifact, report: rp.LabelDistributionReport) -> None:
    """Key figures on the ClassSkewReport artifact, so MLMD queries need not open the JSON."""
    for name, split in report.splits.items():
        artifact.set_int_custom_property(f"{name}_num_examples", split.num_examples)
        artifact.set_string_custom_property(f"{name}_severity", split.severity)
        if _finite(split.minority_share):
            artifact.set_float_custom_property(f"{name}_minority_share", split.minority_share)
        if _finite(split.imbalance_ratio):
            artifact.set_float_custom_property(f"{name}_imbalance_ratio", split.imbalance_ratio)
        artifact.set_json_value_custom_property(f"{name}_class_counts", split.class_counts)
    headline = report.skew.get(report.eval_split)
    if headline:
        artifact.set_float_custom_property("skew_linf", headline.linf)
        artifact.set_float_custom_property("skew_js", headline.js)
    drift = report.drift
    if drift and report.train_split in drift.splits:
        artifact.set_float_custom_property("drift_linf", drift.splits[report.train_split].linf)
        artifact.set_float_custom_property("drift_js", drift.splits[report.train_split].js)
        if drift.previous_span is not None:
            artifact.set_int_custom_property("previous_span", drift.previous_span)
    if report.span is not None:
        artifact.set_int_custom_property("span", report.span)
    artifact.set_int_custom_property("findings_count", len(report.findings))
    artifact.set_string_custom_property("label_key", report.label_key)
    artifact.set_string_custom_property("summary", "\n".join(report.summary))
    if _finite(report.initial_bias):
        artifact.set_float_custom_property("initial_bias", report.initial_bias)


def _log(report: rp.LabelDistributionReport) -> None:
    for line in report.summary:
        logging.info("ClassSkew: %s", line)
    for finding in report.findings:
        log = logging.info if finding.action == rp.NOTE else logging.warning
        log("ClassSkew finding [%s, action %s]: %s", finding.kind, finding.action, finding.message)


class Executor(ComponentExecutor[spec.ClassSkewParameters]):
    """Reads ExampleStatistics (not the examples), writes ClassSkewReport and HyperParameters."""

    PARAMETERS = spec.ClassSkewParameters

    def run(self, execution: Execution[spec.ClassSkewParameters]) -> None:
        label_key = execution.label_key
        schema_classes = declared_classes(read_schema(execution.input_dict[spec.SCHEMA_KEY]), label_key)

        statistics = execution.input(spec.STATISTICS_KEY)
        current = inputs.read_split_counts(statistics, label_key, f"statistics ({statistics.uri})")
        previous, previous_span = inputs.read_previous_counts(
            execution.input_dict.get(spec.PREVIOUS_STATISTICS_KEY),
            execution.input_dict.get(spec.PREVIOUS_EXAMPLES_KEY),
            label_key,
        )
        report = analyze(
            current,
            label_key,
            execution.parameters,
            schema_classes=schema_classes,
            previous_counts=previous,
            previous_span=previous_span,
            span=inputs.data_span(statistics, execution.input_dict.get(spec.EXAMPLES_KEY)),
        )
        _log(report)
        # Before writing anything: a failing finding leaves no half-made outputs.
        raise_for_failures(report)

        report_artifact = execution.output(spec.REPORT_KEY)
        report.save(report_artifact.uri)
        _set_custom_properties(report_artifact, report)

        hyperparameters_uri = execution.output(spec.HYPERPARAMETERS_KEY).uri
        (hyperparameters_path,) = write_artifact_files(
            hyperparameters_uri, {rp.HYPERPARAMETERS_FILE_NAME: rp.to_json(report.hyperparameters())}
        )
        logging.info("ClassSkew wrote %s and %s", report_artifact.uri, hyperparameters_path)
