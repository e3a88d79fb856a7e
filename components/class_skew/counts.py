"""The label's class counts, read from TFDV statistics and the schema (protos in, plain values out).

The per-class counts come from the `rank_histogram` that TFDV writes for categorical
features (string labels, or int labels declared `int_domain { is_categorical: true }` in
the schema): reading them costs nothing, no pass over the data. Every way the statistics
or schema can fail to give exact counts raises ClassSkewInputError saying how to fix it.
"""

from __future__ import annotations

import dataclasses
from typing import Dict, List, Optional

from tensorflow_metadata.proto.v0 import schema_pb2, statistics_pb2

from components.class_skew.errors import ClassSkewInputError

# More classes than this in an int_domain range are not treated as an enumeration of classes.
_MAX_DECLARED_INT_CLASSES = 1000
# StatisticsGen names the unsliced dataset so when it also computes slices.
_UNSLICED_DATASET_NAMES = ("All Examples", "")


@dataclasses.dataclass(frozen=True)
class LabelCounts:
    """The label's class counts in one split, read from its statistics."""

    split: str
    num_examples: int
    # Class name (as TFDV writes it: str of the int, or the decoded string) -> count.
    class_counts: Dict[str, int]
    missing_label_count: int
    # StatisticsGen's sample rate for the split: below 1 the counts are of a sample, not exact.
    sample_rate: float = 1.0

    @property
    def labeled_count(self) -> int:
        return sum(self.class_counts.values())


def _find_schema_feature(schema: schema_pb2.Schema, label_key: str) -> Optional[schema_pb2.Feature]:
    return next((feature for feature in schema.feature if feature.name == label_key), None)


def _int_classes(schema: schema_pb2.Schema, feature: schema_pb2.Feature, label_key: str) -> List[str]:
    if feature.WhichOneof("domain_info") == "domain":
        # SchemaGen's form of a categorical integer: a string domain of its values.
        return _string_classes(schema, feature)
    if not (feature.HasField("int_domain") and feature.int_domain.is_categorical):
        # Inferred schemas (SchemaGen on a data set's first run) declare no domain; the classes then come
        # from the statistics, which hold counts only if StatisticsGen was told the label is categorical
        # (`_label_statistics` says how to fix it when it was not).
        return []
    domain = feature.int_domain
    bounded = domain.HasField("min") and domain.HasField("max")
    if bounded and 0 <= domain.max - domain.min < _MAX_DECLARED_INT_CLASSES:
        return [str(value) for value in range(domain.min, domain.max + 1)]
    return []


def _string_classes(schema: schema_pb2.Schema, feature: schema_pb2.Feature) -> List[str]:
    if feature.HasField("string_domain"):
        return list(feature.string_domain.value)
    if feature.HasField("domain"):
        for domain in schema.string_domain:
            if domain.name == feature.domain:
                return list(domain.value)
    return []


def declared_classes(schema: schema_pb2.Schema, label_key: str) -> List[str]:
    """Classes the schema enumerates for the label; checks the label will carry counts.

    Raises ClassSkewInputError when the schema lacks the label or declares it in a way
    that makes TFDV compute numeric (count-free) statistics for it.
    """
    feature = _find_schema_feature(schema, label_key)
    if feature is None:
        names = sorted(f.name for f in schema.feature)
        raise ClassSkewInputError(
            f"label {label_key!r} is not a feature of the schema (features: {names}); set label_key to the label "
            "column or add the label to the schema"
        )
    if feature.type == schema_pb2.FLOAT:
        raise ClassSkewInputError(
            f"label {label_key!r} has type FLOAT in the schema; a class label must be INT (with int_domain "
            "{ is_categorical: true }) or BYTES so the statistics record per-class counts"
        )
    if feature.type == schema_pb2.INT:
        return _int_classes(schema, feature, label_key)
    if feature.type == schema_pb2.BYTES:
        return _string_classes(schema, feature)
    raise ClassSkewInputError(
        f"label {label_key!r} has schema type {schema_pb2.FeatureType.Name(feature.type)}; it must be INT or BYTES"
    )


def _default_dataset(
    stats: statistics_pb2.DatasetFeatureStatisticsList, where: str
) -> statistics_pb2.DatasetFeatureStatistics:
    """The unsliced dataset of a statistics list (StatisticsGen writes it first, named 'All Examples' if sliced)."""
    if not stats.datasets:
        raise ClassSkewInputError(f"{where}: the statistics hold no dataset; re-run StatisticsGen")
    if len(stats.datasets) == 1:
        return stats.datasets[0]
    for dataset in stats.datasets:
        if dataset.name in _UNSLICED_DATASET_NAMES:
            return dataset
    names = [dataset.name for dataset in stats.datasets]
    raise ClassSkewInputError(f"{where}: sliced statistics without an 'All Examples' dataset (slices: {names})")


def _feature_name(feature: statistics_pb2.FeatureNameStatistics) -> str:
    if feature.HasField("path"):
        return ".".join(feature.path.step)
    return feature.name


def _label_statistics(
    dataset: statistics_pb2.DatasetFeatureStatistics, label_key: str, where: str
) -> statistics_pb2.StringStatistics:
    """The label's string statistics, the only kind that holds per-class counts."""
    label_stats = next((f for f in dataset.features if _feature_name(f) == label_key), None)
    if label_stats is None:
        names = sorted(_feature_name(f) for f in dataset.features)
        raise ClassSkewInputError(
            f"{where}: label {label_key!r} is not in the statistics (features: {names}); check label_key and "
            "that ExampleGen reads the label column"
        )
    kind = label_stats.WhichOneof("stats")
    if kind != "string_stats":
        raise ClassSkewInputError(
            f"{where}: the statistics of label {label_key!r} have no per-class counts (TFDV computed {kind}); "
            "declare the label categorical in the schema (`int_domain { is_categorical: true }` for an INT "
            "label) and pass that schema to StatisticsGen"
        )
    return label_stats.string_stats


def _exact_class_counts(string_stats: statistics_pb2.StringStatistics, label_key: str, where: str) -> Dict[str, int]:
    """{class: count} from the rank histogram; raises when the histogram is cut short or the counts are partial."""
    counts: Dict[str, int] = {}
    for bucket in string_stats.rank_histogram.buckets:
        counts[bucket.label] = counts.get(bucket.label, 0) + int(round(bucket.sample_count))
    if string_stats.unique > len(counts):
        raise ClassSkewInputError(
            f"{where}: label {label_key!r} has {string_stats.unique} distinct values but the statistics hold "
            f"counts for only {len(counts)}; raise StatsOptions.num_rank_histogram_buckets (and keep "
            "frequency_threshold at 1) in StatisticsGen's stats_options"
        )
    common = string_stats.common_stats
    total_values = int(common.tot_num_values)
    if total_values and sum(counts.values()) != total_values:
        raise ClassSkewInputError(
            f"{where}: the class counts of label {label_key!r} sum to {sum(counts.values())} but the statistics "
            f"count {total_values} label values; the statistics were sampled or filtered (check StatsOptions "
            "sample_rate / frequency_threshold)"
        )
    if common.max_num_values > 1:
        raise ClassSkewInputError(
            f"{where}: label {label_key!r} has up to {common.max_num_values} values per example; a class label "
            "must be single-valued"
        )
    return counts


def label_counts(
    stats: statistics_pb2.DatasetFeatureStatisticsList, label_key: str, split: str, source: str = ""
) -> LabelCounts:
    """The label's per-class counts in one split's statistics.

    `source` names where the statistics came from (artifact URI, previous span) for error messages.
    """
    where = f"{source} split {split!r}" if source else f"split {split!r}"
    dataset = _default_dataset(stats, where)
    num_examples = int(dataset.num_examples)
    if num_examples == 0:
        return LabelCounts(split=split, num_examples=0, class_counts={}, missing_label_count=0)
    string_stats = _label_statistics(dataset, label_key, where)
    counts = _exact_class_counts(string_stats, label_key, where)
    common = string_stats.common_stats
    missing = int(common.num_missing) if common.num_missing else max(num_examples - int(common.num_non_missing), 0)
    return LabelCounts(split=split, num_examples=num_examples, class_counts=counts, missing_label_count=missing)
