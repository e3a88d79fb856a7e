"""Reading ClassSkew's input artifacts: the label counts per split, and the span of the data they describe."""

from __future__ import annotations

import dataclasses
import json
from typing import Dict, List, Optional, Tuple

import tensorflow as tf
from absl import logging
from google.protobuf import message
from tensorflow_metadata.proto.v0 import statistics_pb2
from tfx import types
from tfx.components.statistics_gen import executor as statistics_gen_executor
from tfx.components.statistics_gen import stats_artifact_utils
from tfx.types import artifact_utils

from components.class_skew.counts import LabelCounts, label_counts
from components.class_skew.errors import ClassSkewInputError
from components.class_skew.spans import artifact_span


def _load_split_statistics(
    artifact: types.Artifact, split: str, source: str
) -> statistics_pb2.DatasetFeatureStatisticsList:
    split_uri = artifact_utils.get_split_uri([artifact], split)
    try:
        return stats_artifact_utils.load_statistics(artifact, split).proto()
    except (message.DecodeError, tf.errors.OpError, OSError) as error:
        raise ClassSkewInputError(
            f"{source}: cannot read the statistics of split {split!r} in {split_uri} "
            f"(expected {stats_artifact_utils.BINARY_PB_BASENAME} as StatisticsGen writes it): {error}"
        ) from error


def _sample_rates(artifact: types.Artifact) -> Dict[str, float]:
    """StatisticsGen's `sample_rate_by_split` custom property (a JSON string), {} when absent."""
    if not artifact.has_custom_property(statistics_gen_executor.SAMPLE_RATE_BY_SPLIT_PROPERTY_NAME):
        return {}
    value = artifact.get_json_value_custom_property(statistics_gen_executor.SAMPLE_RATE_BY_SPLIT_PROPERTY_NAME)
    rates = json.loads(value) if isinstance(value, str) else value
    return {str(split): float(rate) for split, rate in dict(rates or {}).items() if rate is not None}


def read_split_counts(artifact: types.Artifact, label_key: str, source: str) -> Dict[str, LabelCounts]:
    """The label's class counts per split of an ExampleStatistics artifact."""
    splits = artifact_utils.decode_split_names(artifact.split_names) if artifact.split_names else []
    if not splits:
        raise ClassSkewInputError(f"{source}: the ExampleStatistics artifact at {artifact.uri} names no splits")
    sample_rates = _sample_rates(artifact)
    return {
        split: dataclasses.replace(
            label_counts(_load_split_statistics(artifact, split, source), label_key, split, source),
            sample_rate=float(sample_rates.get(split, 1.0)),
        )
        for split in splits
    }


def _latest(artifacts: List[types.Artifact], what: str) -> types.Artifact:
    """The artifact of the highest span (then the newest), if a resolver hands over several."""
    chosen = max(artifacts, key=lambda a: (artifact_span(a), a.id))
    if len(artifacts) > 1:
        logging.warning(
            "ClassSkew: %d %s artifacts given; using span %d at %s",
            len(artifacts),
            what,
            artifact_span(chosen),
            chosen.uri,
        )
    return chosen


def data_span(statistics: types.Artifact, examples: Optional[List[types.Artifact]]) -> int:
    """The span of the data: the Examples' (which ExampleGen records), else what the statistics say."""
    if examples:
        return artifact_span(_latest(examples, "examples"))
    return artifact_span(statistics)


def read_previous_counts(
    statistics: Optional[List[types.Artifact]], examples: Optional[List[types.Artifact]], label_key: str
) -> Tuple[Optional[Dict[str, LabelCounts]], Optional[int]]:
    """The previous span's counts per split and that span's number; (None, None) without previous statistics."""
    if not statistics:
        return None, None
    previous = _latest(statistics, "previous statistics")
    span = data_span(previous, examples)
    source = f"previous_statistics (span {span}, {previous.uri})"
    try:
        return read_split_counts(previous, label_key, source), span
    except ClassSkewInputError as error:
        raise ClassSkewInputError(
            f"malformed previous-span statistics: {error}. Drift cannot be measured; pass the ExampleStatistics "
            "that StatisticsGen made for the previous span, or leave previous_statistics unset"
        ) from error
