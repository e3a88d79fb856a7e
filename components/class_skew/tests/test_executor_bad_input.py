"""ClassSkew's executor on bad input: one clear error naming the fix, and nothing written."""

from __future__ import annotations

import os

import pytest
from tfx.dsl.io import fileio

from components.class_skew.errors import ClassSkewError, ClassSkewInputError
from components.class_skew.report import LabelDistributionReport
from components.class_skew.spec import REPORT_KEY
from components.class_skew.tests import fixtures
from components.class_skew.tests.fixtures import BINARY, assert_nothing_written


def test_label_missing_from_statistics(tmp_path, stats):
    with pytest.raises(ClassSkewInputError, match=r"split 'train'.*label 'Class' is not in the statistics"):
        fixtures.run(str(tmp_path), {"train": stats["no_label"], "eval": stats["balanced_eval"]}, BINARY)
    assert_nothing_written(str(tmp_path))


def test_statistics_without_counts_say_how_to_fix_the_schema(tmp_path, stats):
    with pytest.raises(ClassSkewInputError, match=r"no per-class counts .*num_stats.*is_categorical: true"):
        fixtures.run(str(tmp_path), {"train": stats["no_counts"], "eval": stats["balanced_eval"]}, BINARY)


def test_schema_with_non_categorical_int_label_takes_the_classes_from_the_statistics(tmp_path, stats):
    """SchemaGen's inferred schema declares no label domain; statistics computed with the label categorical count it."""
    schema = fixtures.parse_schema(fixtures.NOT_CATEGORICAL_SCHEMA)
    outputs = fixtures.run(str(tmp_path), {"train": stats["balanced_train"], "eval": stats["balanced_eval"]}, schema)
    report = LabelDistributionReport.load(outputs[REPORT_KEY][0].uri)
    assert report.classes == ("0", "1")
    with pytest.raises(ClassSkewInputError, match=r"no per-class counts .*is_categorical: true"):
        fixtures.run(str(tmp_path / "again"), {"train": stats["no_counts"], "eval": stats["balanced_eval"]}, schema)


def test_class_in_eval_but_not_in_train(tmp_path):
    schema = fixtures.parse_schema(fixtures.STRING_SCHEMA)
    train = fixtures.statistics(fixtures.label_column({"cat": 5, "dog": 5}), schema, "animal")
    eval_ = fixtures.statistics(fixtures.label_column({"cat": 2, "dog": 2, "eel": 1}), schema, "animal")
    message = r"split 'eval' has class\(es\) \['eel'\].*never occur in the 'train'"
    with pytest.raises(ClassSkewInputError, match=message):
        fixtures.run(str(tmp_path), {"train": train, "eval": eval_}, schema, label_key="animal")
    assert_nothing_written(str(tmp_path))


def test_zero_row_train_split_fails(tmp_path, stats):
    with pytest.raises(ClassSkewError, match=r"empty_split.*train: no labelled rows \(0 rows\)"):
        fixtures.run(str(tmp_path), {"train": stats["empty"], "eval": stats["balanced_eval"]}, BINARY)


def test_malformed_previous_statistics_file(tmp_path, stats):
    previous = fixtures.statistics_artifact(str(tmp_path), "previous", {"train": stats["balanced_train"]}, span=1)
    stats_path = os.path.join(previous.uri, "Split-train", "FeatureStats.pb")
    with fileio.open(stats_path, "wb") as handle:
        handle.write(b"\x0a\xff\xff not a statistics proto")
    with pytest.raises(ClassSkewInputError, match=r"malformed previous-span statistics.*span 1.*Split-train"):
        fixtures.run(
            str(tmp_path), {"train": stats["balanced_train"], "eval": stats["balanced_eval"]}, BINARY, previous=previous
        )
    assert_nothing_written(str(tmp_path))


def test_previous_statistics_without_the_label(tmp_path, stats):
    previous = fixtures.statistics_artifact(str(tmp_path), "previous", {"train": stats["no_label"]}, span=1)
    with pytest.raises(ClassSkewInputError, match=r"malformed previous-span statistics.*label 'Class' is not in"):
        fixtures.run(
            str(tmp_path), {"train": stats["balanced_train"], "eval": stats["balanced_eval"]}, BINARY, previous=previous
        )


def test_previous_statistics_with_no_common_split(tmp_path, stats):
    previous = fixtures.statistics_artifact(str(tmp_path), "previous", {"other": stats["balanced_train"]}, span=1)
    with pytest.raises(ClassSkewInputError, match=r"share no comparable split"):
        fixtures.run(
            str(tmp_path), {"train": stats["balanced_train"], "eval": stats["balanced_eval"]}, BINARY, previous=previous
        )


def test_statistics_without_the_eval_split(tmp_path, stats):
    with pytest.raises(ClassSkewInputError, match=r"no 'eval' split \(splits: \['train'\]\)"):
        fixtures.run(str(tmp_path), {"train": stats["balanced_train"]}, BINARY)


def test_label_missing_from_schema(tmp_path, stats):
    with pytest.raises(ClassSkewInputError, match=r"label 'Klass' is not a feature of the schema"):
        fixtures.run(
            str(tmp_path), {"train": stats["balanced_train"], "eval": stats["balanced_eval"]}, BINARY, label_key="Klass"
        )
