"""The pure functions: distances, severity, weights, and reading counts out of TFDV statistics."""

from __future__ import annotations

import math
import os

import pandas as pd
import pytest
import tensorflow_data_validation as tfdv
from tfx.dsl.io import fileio

from components.class_skew import label_distribution as ld
from components.class_skew import report as report_module
from components.class_skew.tests import fixtures


def test_distances_of_identical_and_disjoint_distributions():
    p = {"a": 0.5, "b": 0.5}
    assert ld.linf_distance(p, p) == 0.0 and ld.js_divergence(p, p) == 0.0
    assert ld.linf_distance({"a": 1.0}, {"b": 1.0}) == 1.0
    assert ld.js_divergence({"a": 1.0}, {"b": 1.0}) == pytest.approx(1.0)


def test_severity_thresholds_are_inclusive():
    assert ld.severity([30, 10], 3.0, 100.0) == ("imbalanced", 3.0)
    assert ld.severity([29, 10], 3.0, 100.0) == ("balanced", 2.9)
    assert ld.severity([100, 1], 3.0, 100.0) == ("severe", 100.0)
    assert ld.severity([5, 0], 3.0, 100.0) == ("single-class", None)
    assert ld.severity([0, 0], 3.0, 100.0) == ("empty", None)


def test_balanced_class_weights_match_n_over_k_count():
    weights = ld.balanced_class_weights({"0": 90, "1": 10}, ["0", "1"])
    assert weights == {"0": pytest.approx(100 / 180), "1": pytest.approx(100 / 20)}
    # Weighted counts then sum to n: each class carries n / k.
    assert 90 * weights["0"] == pytest.approx(10 * weights["1"])


def test_positive_class_choice():
    assert ld.pick_positive_class(["0", "1"], {"0": 1, "1": 9}, None) == "1"
    assert ld.pick_positive_class(["fraud", "ok"], {"fraud": 3, "ok": 97}, None) == "fraud"
    assert ld.pick_positive_class(["fraud", "ok"], {"fraud": 3, "ok": 97}, "ok") == "ok"
    with pytest.raises(ld.ClassSkewInputError, match=r"positive_class 'x' is not a class"):
        ld.pick_positive_class(["0", "1"], {}, "x")


def test_classes_sort_numerically_when_all_ints():
    assert ld.sort_classes(["10", "2", "1", "2"]) == ["1", "2", "10"]
    assert ld.sort_classes(["b", "10", "a"]) == ["10", "a", "b"]


def test_declared_classes_from_the_project_schema():
    assert ld.declared_classes(fixtures.project_schema(), "Class") == ["0", "1"]
    assert ld.declared_classes(fixtures.parse_schema(fixtures.STRING_SCHEMA), "animal") == ["cat", "dog", "eel"]


def test_float_label_in_schema_is_rejected():
    schema = fixtures.parse_schema('feature { name: "Class" type: FLOAT }')
    with pytest.raises(ld.ClassSkewInputError, match=r"type FLOAT.*must be INT"):
        ld.declared_classes(schema, "Class")


def test_label_counts_with_missing_labels_are_recorded():
    schema = fixtures.parse_schema(fixtures.STRING_SCHEMA)
    stats = fixtures.statistics(["cat", "cat", "dog", None, None], schema, "animal")
    counts = ld.label_counts(stats, "animal", "train")
    assert counts.class_counts == {"cat": 2, "dog": 1}
    assert counts.num_examples == 5 and counts.missing_label_count == 2
    report = ld.analyze(
        {"train": counts, "eval": counts}, ld.Settings(label_key="animal"), schema_classes=["cat", "dog", "eel"]
    )
    missing = [f for f in report["findings"] if f["kind"] == "missing_labels"]
    assert [f["split"] for f in missing] == ["train", "eval"]
    assert report["splits"]["train"]["absent_classes"] == ["eel"]


def test_truncated_rank_histogram_is_rejected():
    schema = fixtures.parse_schema(fixtures.STRING_SCHEMA)
    frame_labels = fixtures.label_column({"cat": 3, "dog": 2, "eel": 1})
    frame = pd.DataFrame({"animal": frame_labels})
    options = tfdv.StatsOptions(schema=schema, num_rank_histogram_buckets=2)
    stats = tfdv.generate_statistics_from_dataframe(frame, stats_options=options)
    with pytest.raises(ld.ClassSkewInputError, match=r"3 distinct values.*only 2.*num_rank_histogram_buckets"):
        ld.label_counts(stats, "animal", "train")


def test_initial_bias_is_log_odds_of_train():
    counts = {
        "train": ld.LabelCounts("train", 1000, {"0": 990, "1": 10}, 0),
        "eval": ld.LabelCounts("eval", 100, {"0": 99, "1": 1}, 0),
    }
    report = ld.analyze(counts, ld.Settings())
    assert report["initial_bias"] == pytest.approx(math.log(10 / 990))
    assert ld.hyperparameters(report)["class_counts"] == {"0": 990, "1": 10}


def test_load_report_errors(tmp_path):
    with pytest.raises(ld.ClassSkewInputError, match=r"no class_skew.json in"):
        report_module.load_report(str(tmp_path))
    with fileio.open(os.path.join(str(tmp_path), "class_skew.json"), "w") as handle:
        handle.write("{not json")
    with pytest.raises(ld.ClassSkewInputError, match=r"is not valid JSON"):
        report_module.load_report(str(tmp_path))
