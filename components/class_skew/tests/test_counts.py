"""Reading the label's class counts out of TFDV statistics and the schema."""

from __future__ import annotations

import pandas as pd
import pytest
import tensorflow_data_validation as tfdv

from components.class_skew import counts
from components.class_skew.errors import ClassSkewInputError
from components.class_skew.tests import fixtures


def test_declared_classes_from_the_project_schema():
    assert counts.declared_classes(fixtures.project_schema(), "Class") == ["0", "1"]
    assert counts.declared_classes(fixtures.parse_schema(fixtures.STRING_SCHEMA), "animal") == ["cat", "dog", "eel"]


def test_float_label_in_schema_is_rejected():
    schema = fixtures.parse_schema('feature { name: "Class" type: FLOAT }')
    with pytest.raises(ClassSkewInputError, match=r"type FLOAT.*must be INT"):
        counts.declared_classes(schema, "Class")


def test_label_counts_with_missing_labels_are_recorded():
    schema = fixtures.parse_schema(fixtures.STRING_SCHEMA)
    stats = fixtures.statistics(["cat", "cat", "dog", None, None], schema, "animal")
    label_counts = counts.label_counts(stats, "animal", "train")
    assert label_counts.class_counts == {"cat": 2, "dog": 1}
    assert label_counts.num_examples == 5 and label_counts.missing_label_count == 2
    assert label_counts.labeled_count == 3


def test_truncated_rank_histogram_is_rejected():
    schema = fixtures.parse_schema(fixtures.STRING_SCHEMA)
    frame = pd.DataFrame({"animal": fixtures.label_column({"cat": 3, "dog": 2, "eel": 1})})
    options = tfdv.StatsOptions(schema=schema, num_rank_histogram_buckets=2)
    stats = tfdv.generate_statistics_from_dataframe(frame, stats_options=options)
    with pytest.raises(ClassSkewInputError, match=r"3 distinct values.*only 2.*num_rank_histogram_buckets"):
        counts.label_counts(stats, "animal", "train")
