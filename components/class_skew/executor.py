"""ClassSkew executor: reads the statistics and schema, calls the pure analysis, writes the report.

Nothing is written before every check has passed: a `fail` finding or bad input raises
first, so an earlier run's outputs are never replaced by a partial one.
"""

from __future__ import annotations

import dataclasses
import json
import os
from typing import Any, Dict, List, Mapping, Optional, Tuple

import tensorflow as tf
from absl import logging
from google.protobuf import message
from tensorflow_metadata.proto.v0 import statistics_pb2
from tfx import types
from tfx.components.statistics_gen import executor as statistics_gen_executor
from tfx.components.statistics_gen import stats_artifact_utils
from tfx.dsl.components.base import base_executor
from tfx.dsl.io import fileio
from tfx.types import artifact_utils
from tfx.utils import io_utils

from components.class_skew import keys, report
from components.class_skew import label_distribution as ld
from components.common.artifact_io import write_text_atomically


def settings_from_exec_properties(exec_properties: Mapping[str, Any]) -> ld.Settings:
    values: Dict[str, Any] = {name: str(exec_properties[name]) for name in keys.STRING_PARAMS}
    values.update({name: float(exec_properties[name]) for name in keys.FLOAT_PARAMS})
    values[keys.POSITIVE_CLASS_PARAM] = exec_properties.get(keys.POSITIVE_CLASS_PARAM) or None
    return ld.Settings(**values)


def _load_split_statistics(
    artifact: types.Artifact, split: str, source: str
) -> statistics_pb2.DatasetFeatureStatisticsList:
    split_uri = artifact_utils.get_split_uri([artifact], split)
    try:
        return stats_artifact_utils.load_statistics(artifact, split).proto()
    except (message.DecodeError, tf.errors.OpError, OSError) as error:
        raise ld.ClassSkewInputError(
            f"{source}: cannot read the statistics of split {split!r} in {split_uri} "
            f"(expected {stats_artifact_utils.BINARY_PB_BASENAME} as StatisticsGen writes it): {error}"
        ) from error


def read_split_counts(artifact: types.Artifact, label_key: str, source: str) -> Dict[str, ld.LabelCounts]:
    """The label's class counts per split of an ExampleStatistics artifact."""
    splits = artifact_utils.decode_split_names(artifact.split_names) if artifact.split_names else []
    if not splits:
        raise ld.ClassSkewInputError(f"{source}: the ExampleStatistics artifact at {artifact.uri} names no splits")
    sample_rates = _sample_rates(artifact)
    return {
        split: dataclasses.replace(
            ld.label_counts(_load_split_statistics(artifact, split, source), label_key, split, source),
            sample_rate=float(sample_rates.get(split, 1.0)),
        )
        for split in splits
    }


def _sample_rates(artifact: types.Artifact) -> Dict[str, float]:
    """StatisticsGen's `sample_rate_by_split` custom property (a JSON string), {} when absent."""
    if not artifact.has_custom_property(statistics_gen_executor.SAMPLE_RATE_BY_SPLIT_PROPERTY_NAME):
        return {}
    value = artifact.get_json_value_custom_property(statistics_gen_executor.SAMPLE_RATE_BY_SPLIT_PROPERTY_NAME)
    rates = json.loads(value) if isinstance(value, str) else value
    return {str(split): float(rate) for split, rate in dict(rates or {}).items() if rate is not None}


def _span(artifact: types.Artifact) -> int:
    return int(artifact.span) if artifact.has_property("span") else 0


def _latest(artifacts: List[types.Artifact]) -> types.Artifact:
    """The artifact of the highest span (then the newest), if a resolver hands over several."""
    chosen = max(artifacts, key=lambda a: (_span(a), a.id))
    if len(artifacts) > 1:
        logging.warning(
            "ClassSkew: %d previous statistics artifacts given; comparing with span %d at %s",
            len(artifacts),
            _span(chosen),
            chosen.uri,
        )
    return chosen


def read_previous_counts(
    artifacts: Optional[List[types.Artifact]], label_key: str
) -> Tuple[Optional[Dict[str, ld.LabelCounts]], Optional[int]]:
    if not artifacts:
        return None, None
    previous = _latest(artifacts)
    span = _span(previous)
    source = f"previous_statistics (span {span}, {previous.uri})"
    try:
        return read_split_counts(previous, label_key, source), span
    except ld.ClassSkewInputError as error:
        raise ld.ClassSkewInputError(
            f"malformed previous-span statistics: {error}. Drift cannot be measured; pass the ExampleStatistics "
            "that StatisticsGen made for the previous span, or leave previous_statistics unset"
        ) from error


def _set_custom_properties(artifact: types.Artifact, analysis: Mapping[str, Any]) -> None:
    """Key figures on the ClassSkewReport artifact, so MLMD queries need not open the JSON."""
    for name, split in analysis["splits"].items():
        artifact.set_int_custom_property(f"{name}_num_examples", split["num_examples"])
        artifact.set_string_custom_property(f"{name}_severity", split["severity"])
        if report.finite(split["minority_share"]):
            artifact.set_float_custom_property(f"{name}_minority_share", split["minority_share"])
        if report.finite(split["imbalance_ratio"]):
            artifact.set_float_custom_property(f"{name}_imbalance_ratio", split["imbalance_ratio"])
        artifact.set_json_value_custom_property(f"{name}_class_counts", split["class_counts"])
    headline = analysis["skew"].get(analysis["eval_split"])
    if headline:
        artifact.set_float_custom_property("skew_linf", headline["linf"])
        artifact.set_float_custom_property("skew_js", headline["js"])
    drift = analysis["drift"]
    if drift and analysis["train_split"] in drift["splits"]:
        artifact.set_float_custom_property("drift_linf", drift["splits"][analysis["train_split"]]["linf"])
        artifact.set_float_custom_property("drift_js", drift["splits"][analysis["train_split"]]["js"])
        if drift["previous_span"] is not None:
            artifact.set_int_custom_property("previous_span", drift["previous_span"])
    artifact.set_int_custom_property("findings_count", len(analysis["findings"]))
    artifact.set_string_custom_property("label_key", analysis["label_key"])
    artifact.set_string_custom_property("summary", "\n".join(analysis["summary"]))
    if report.finite(analysis["initial_bias"]):
        artifact.set_float_custom_property("initial_bias", analysis["initial_bias"])


def _log(analysis: Mapping[str, Any]) -> None:
    for line in analysis["summary"]:
        logging.info("ClassSkew: %s", line)
    for finding in analysis["findings"]:
        log = logging.info if finding["action"] == ld.NOTE else logging.warning
        log("ClassSkew finding [%s, action %s]: %s", finding["kind"], finding["action"], finding["message"])


class Executor(base_executor.BaseExecutor):
    """Reads ExampleStatistics (not the examples), writes ClassSkewReport and HyperParameters."""

    def Do(
        self,
        input_dict: Dict[str, List[types.Artifact]],
        output_dict: Dict[str, List[types.Artifact]],
        exec_properties: Dict[str, Any],
    ) -> None:
        self._log_startup(input_dict, output_dict, exec_properties)
        settings = settings_from_exec_properties(exec_properties)

        schema_uri = artifact_utils.get_single_uri(input_dict[keys.SCHEMA_KEY])
        schema = io_utils.SchemaReader().read(io_utils.get_only_uri_in_dir(schema_uri))
        schema_classes = ld.declared_classes(schema, settings.label_key)

        statistics = artifact_utils.get_single_instance(input_dict[keys.STATISTICS_KEY])
        current = read_split_counts(statistics, settings.label_key, f"statistics ({statistics.uri})")
        previous, previous_span = read_previous_counts(input_dict.get(keys.PREVIOUS_STATISTICS_KEY), settings.label_key)

        analysis = ld.analyze(
            current,
            settings,
            schema_classes=schema_classes,
            previous_counts=previous,
            previous_span=previous_span,
            span=_span(statistics),
        )
        _log(analysis)
        # Before writing anything: a failing finding leaves no half-made outputs.
        ld.raise_for_failures(analysis)

        report_artifact = artifact_utils.get_single_instance(output_dict[keys.REPORT_KEY])
        report_path = os.path.join(report_artifact.uri, report.REPORT_FILE_NAME)
        fileio.makedirs(report_artifact.uri)
        write_text_atomically(report_path, report.to_json(analysis))
        write_text_atomically(
            os.path.join(report_artifact.uri, report.SUMMARY_FILE_NAME), "\n".join(analysis["summary"]) + "\n"
        )
        _set_custom_properties(report_artifact, analysis)

        hyperparameters_artifact = artifact_utils.get_single_instance(output_dict[keys.HYPERPARAMETERS_KEY])
        hyperparameters_path = os.path.join(hyperparameters_artifact.uri, report.HYPERPARAMETERS_FILE_NAME)
        fileio.makedirs(hyperparameters_artifact.uri)
        write_text_atomically(hyperparameters_path, report.to_json(ld.hyperparameters(analysis)))
        logging.info("ClassSkew wrote %s and %s", report_path, hyperparameters_path)
