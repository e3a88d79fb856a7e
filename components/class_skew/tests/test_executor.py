"""ClassSkew's executor on real ExampleStatistics/Schema artifacts holding TFDV statistics of tiny fixtures."""

from __future__ import annotations

import json
import math
import os

import pytest
from tfx.dsl.io import fileio
from tfx.utils import io_utils

from components.class_skew.errors import ClassSkewError
from components.class_skew.report import LabelDistributionReport
from components.class_skew.tests import fixtures
from components.class_skew.tests.fixtures import BINARY, assert_nothing_written


def read_hyperparameters_like_trainer(uri):
    """Exactly how TFX's Trainer executor reads its hyperparameters input."""
    with fileio.open(io_utils.get_only_uri_in_dir(uri), "r") as handle:
        return json.loads(handle.read())


def test_balanced_split_records_exact_counts_and_trainer_hyperparameters(tmp_path, stats):
    out = fixtures.run(
        str(tmp_path), {"train": stats["balanced_train"], "eval": stats["balanced_eval"]}, fixtures.project_schema()
    )
    report_artifact = out["class_skew"][0]
    report = LabelDistributionReport.load(report_artifact.uri)
    assert report.splits["train"].class_counts == {"0": 30, "1": 30}
    assert report.splits["eval"].class_counts == {"0": 10, "1": 10}
    assert report.splits["train"].severity == "balanced"
    assert report.splits["train"].imbalance_ratio == 1.0
    assert report.findings == ()
    assert report.skew["eval"].linf == 0.0 and report.skew["eval"].js == 0.0
    assert report.drift is None

    hyperparameters = read_hyperparameters_like_trainer(out["hyperparameters"][0].uri)
    assert hyperparameters == {
        "label_key": "Class",
        "classes": ["0", "1"],
        "class_counts": {"0": 30, "1": 30},
        "class_weights": {"0": 1.0, "1": 1.0},
        "initial_bias": 0.0,
        "positive_class": "1",
    }
    assert report_artifact.get_string_custom_property("train_severity") == "balanced"
    assert report_artifact.get_int_custom_property("train_num_examples") == 60
    assert report_artifact.get_int_custom_property("findings_count") == 0
    assert report_artifact.get_float_custom_property("skew_js") == 0.0
    with fileio.open(os.path.join(report_artifact.uri, "summary.txt"), "r") as handle:
        assert handle.read().splitlines() == [
            "train: 50.00% positive (1:1.0, balanced)",
            "eval: 50.00% positive (1:1.0, balanced)",
        ]


def test_imbalanced_split_is_noted_with_weights_and_bias(tmp_path, stats):
    out = fixtures.run(str(tmp_path), {"train": stats["imbalanced_train"], "eval": stats["imbalanced_eval"]}, BINARY)
    report = LabelDistributionReport.load(out["class_skew"][0].uri)
    train = report.splits["train"]
    assert train.class_counts == {"0": 80, "1": 20}
    assert train.severity == "imbalanced" and train.imbalance_ratio == 4.0
    assert train.minority_class == "1" and train.minority_share == pytest.approx(0.2)
    kinds = {(f.split, f.kind, f.action) for f in report.findings}
    assert kinds == {("train", "imbalanced", "note"), ("eval", "imbalanced", "note")}
    # n / (k * count): 100 / (2 * 80), 100 / (2 * 20).
    assert report.class_weights == {"0": pytest.approx(0.625), "1": pytest.approx(2.5)}
    assert report.initial_bias == pytest.approx(math.log(20 / 80))
    assert out["class_skew"][0].get_float_custom_property("train_imbalance_ratio") == 4.0


def test_severe_imbalance_warns_and_summary_reads_like_the_issue(tmp_path, stats):
    out = fixtures.run(str(tmp_path), {"train": stats["severe_train"], "eval": stats["severe_eval"]}, BINARY)
    report = LabelDistributionReport.load(out["class_skew"][0].uri)
    assert report.splits["train"].severity == "severe"
    assert report.splits["train"].class_counts == {"0": 1155, "1": 2}
    severe = [f for f in report.findings if f.kind == "severe_imbalance"]
    assert {f.split for f in severe} == {"train", "eval"}
    assert all(f.action == "warn" for f in severe)
    assert severe[0].numbers["imbalance_ratio"] == pytest.approx(577.5)
    assert report.summary[0] == "train: 0.17% positive (1:578, severe)"
    assert report.summary[1] == "eval: 0.17% positive (1:577, severe)"


def test_severe_imbalance_fails_when_configured(tmp_path, stats):
    with pytest.raises(ClassSkewError, match=r"severe_imbalance.*train: majority/minority ratio 577.5"):
        fixtures.run(
            str(tmp_path),
            {"train": stats["severe_train"], "eval": stats["severe_eval"]},
            BINARY,
            on_severe_imbalance="fail",
        )
    assert_nothing_written(str(tmp_path))


@pytest.mark.parametrize(
    "train, eval_, message",
    [
        ("single_train", "balanced_eval", r"single_class.*train: every labelled row has class '0' \(25 rows\)"),
        ("balanced_train", "empty", r"empty_split.*eval: no labelled rows \(0 rows\)"),
    ],
)
def test_single_class_train_split_and_empty_split_fail_by_default_and_write_nothing(
    tmp_path, stats, train, eval_, message
):
    with pytest.raises(ClassSkewError, match=message):
        fixtures.run(str(tmp_path), {"train": stats[train], "eval": stats[eval_]}, BINARY)
    assert_nothing_written(str(tmp_path))


def test_single_class_train_split_can_warn(tmp_path, stats):
    out = fixtures.run(
        str(tmp_path), {"train": stats["single_train"], "eval": stats["balanced_eval"]}, BINARY, on_single_class="warn"
    )
    report = LabelDistributionReport.load(out["class_skew"][0].uri)
    assert report.splits["train"].severity == "single-class"
    assert report.splits["train"].absent_classes == ("1",)
    assert report.initial_bias is None
    assert report.class_weights == {"0": 1.0, "1": None}
    hyperparameters = read_hyperparameters_like_trainer(out["hyperparameters"][0].uri)
    assert hyperparameters["class_counts"] == {"0": 25, "1": 0}


def test_empty_split_can_warn(tmp_path, stats):
    out = fixtures.run(
        str(tmp_path), {"train": stats["balanced_train"], "eval": stats["empty"]}, BINARY, on_empty_split="warn"
    )
    report = LabelDistributionReport.load(out["class_skew"][0].uri)
    assert report.splits["eval"].severity == "empty"
    assert report.splits["eval"].class_counts == {"0": 0, "1": 0}
    assert "eval" not in report.skew
    assert [f.kind for f in report.findings] == ["empty_split"]


def test_skew_over_threshold_warns_with_distances(tmp_path, stats):
    out = fixtures.run(str(tmp_path), {"train": stats["balanced_train"], "eval": stats["skewed_eval"]}, BINARY)
    report = LabelDistributionReport.load(out["class_skew"][0].uri)
    skew = report.skew["eval"]
    assert skew.linf == pytest.approx(0.3)
    # JS(0.5/0.5 || 0.8/0.2) in bits.
    mix = [0.65, 0.35]
    expected_js = 0.5 * sum(p * math.log2(p / m) for p, m in zip([0.5, 0.5], mix, strict=True)) + 0.5 * sum(
        q * math.log2(q / m) for q, m in zip([0.8, 0.2], mix, strict=True)
    )
    assert skew.js == pytest.approx(expected_js)
    findings = [f for f in report.findings if f.kind == "skew"]
    assert len(findings) == 1 and findings[0].split == "eval" and findings[0].action == "warn"
    assert out["class_skew"][0].get_float_custom_property("skew_linf") == pytest.approx(0.3)
    assert any(line.startswith("eval vs train: label distribution skew L-inf 0.3000") for line in report.summary)


def test_skew_below_threshold_is_no_finding(tmp_path, stats):
    out = fixtures.run(
        str(tmp_path),
        {"train": stats["balanced_train"], "eval": stats["skewed_eval"]},
        BINARY,
        skew_linf_threshold=0.5,
        skew_js_threshold=0.5,
    )
    report = LabelDistributionReport.load(out["class_skew"][0].uri)
    assert report.skew["eval"].over_threshold is False
    assert [f.kind for f in report.findings] == ["imbalanced"]


def test_skew_fails_when_configured(tmp_path, stats):
    with pytest.raises(ClassSkewError, match=r"\[skew\] eval vs train"):
        fixtures.run(
            str(tmp_path), {"train": stats["balanced_train"], "eval": stats["skewed_eval"]}, BINARY, on_skew="fail"
        )


def test_drift_against_previous_span(tmp_path, stats):
    previous = fixtures.statistics_artifact(
        str(tmp_path), "previous", {"train": stats["drift_previous_train"], "eval": stats["balanced_eval"]}, span=1
    )
    out = fixtures.run(
        str(tmp_path), {"train": stats["imbalanced_train"], "eval": stats["imbalanced_eval"]}, BINARY, previous=previous
    )
    report = LabelDistributionReport.load(out["class_skew"][0].uri)
    drift = report.drift
    assert drift.previous_span == 1
    assert drift.splits["train"].previous_class_counts == {"0": 90, "1": 10}
    assert drift.splits["train"].linf == pytest.approx(0.1)
    assert drift.splits["eval"].linf == pytest.approx(0.3)
    drift_findings = {f.split: f for f in report.findings if f.kind == "drift"}
    assert set(drift_findings) == {"train", "eval"}
    assert drift_findings["train"].numbers["previous_span"] == 1
    artifact = out["class_skew"][0]
    assert artifact.get_float_custom_property("drift_linf") == pytest.approx(0.1)
    assert artifact.get_float_custom_property("drift_js") == pytest.approx(drift.splits["train"].js)
    assert artifact.get_int_custom_property("previous_span") == 1


def test_spans_come_from_the_examples_when_the_statistics_carry_none(tmp_path, stats):
    """TFX 1.16: ExampleGen records the span only as a custom property, and StatisticsGen's copy says 0."""
    previous = fixtures.statistics_artifact(
        str(tmp_path), "previous", {"train": stats["drift_previous_train"], "eval": stats["balanced_eval"]}, span=0
    )
    out = fixtures.run(
        str(tmp_path),
        {"train": stats["imbalanced_train"], "eval": stats["imbalanced_eval"]},
        BINARY,
        previous=previous,
        statistics_span=0,
        extra_inputs={
            "examples": [fixtures.examples_artifact(str(tmp_path), "examples", span=2)],
            "previous_examples": [fixtures.examples_artifact(str(tmp_path), "previous_examples", span=1)],
        },
    )
    report = LabelDistributionReport.load(out["class_skew"][0].uri)
    assert report.span == 2
    assert report.drift.previous_span == 1
    drift_messages = [f.message for f in report.findings if f.kind == "drift"]
    assert drift_messages and all("drift since span 1 " in message for message in drift_messages)
    assert out["class_skew"][0].get_int_custom_property("span") == 2
    assert out["class_skew"][0].get_int_custom_property("previous_span") == 1


def test_drift_fails_when_configured(tmp_path, stats):
    previous = fixtures.statistics_artifact(str(tmp_path), "previous", {"train": stats["drift_previous_train"]}, span=1)
    with pytest.raises(ClassSkewError, match=r"\[drift\] train: label distribution drift since span 1"):
        fixtures.run(
            str(tmp_path),
            {"train": stats["imbalanced_train"], "eval": stats["imbalanced_eval"]},
            BINARY,
            previous=previous,
            on_drift="fail",
        )
    assert_nothing_written(str(tmp_path))


def test_multiclass_string_label(tmp_path):
    schema = fixtures.parse_schema(fixtures.STRING_SCHEMA)
    train = fixtures.statistics(fixtures.label_column({"cat": 50, "dog": 30, "eel": 20}), schema, "animal")
    eval_ = fixtures.statistics(fixtures.label_column({"cat": 5, "dog": 3, "eel": 2}), schema, "animal")
    out = fixtures.run(str(tmp_path), {"train": train, "eval": eval_}, schema, label_key="animal")
    report = LabelDistributionReport.load(out["class_skew"][0].uri)
    assert report.classes == ("cat", "dog", "eel")
    assert report.splits["train"].class_counts == {"cat": 50, "dog": 30, "eel": 20}
    assert report.splits["train"].severity == "balanced"
    assert report.splits["train"].imbalance_ratio == 2.5
    assert report.positive_class is None and report.initial_bias is None
    assert report.class_weights == {
        "cat": pytest.approx(100 / 150),
        "dog": pytest.approx(100 / 90),
        "eel": pytest.approx(100 / 60),
    }
    assert report.skew["eval"].linf == pytest.approx(0.0)
    assert report.summary[0] == "train: cat 50.00%, dog 30.00%, eel 20.00% (1:2.5, balanced)"
    hyperparameters = read_hyperparameters_like_trainer(out["hyperparameters"][0].uri)
    assert hyperparameters["classes"] == ["cat", "dog", "eel"] and hyperparameters["positive_class"] is None


def test_multiclass_int_label_orders_classes_numerically(tmp_path):
    schema = fixtures.parse_schema('feature { name: "Class" type: INT int_domain { is_categorical: true } }')
    counts = {2: 30, 10: 10, 1: 60}
    train = fixtures.statistics(fixtures.label_column(counts), schema)
    out = fixtures.run(str(tmp_path), {"train": train, "eval": train}, schema)
    report = LabelDistributionReport.load(out["class_skew"][0].uri)
    assert report.classes == ("1", "2", "10")
    assert report.splits["train"].class_counts == {"1": 60, "2": 30, "10": 10}
    assert report.splits["train"].severity == "imbalanced"


def test_same_inputs_give_identical_files(tmp_path, stats):
    contents = []
    for run in ("a", "b"):
        out = fixtures.run(str(tmp_path / run), {"train": stats["severe_train"], "eval": stats["skewed_eval"]}, BINARY)
        with fileio.open(os.path.join(out["class_skew"][0].uri, "class_skew.json"), "r") as handle:
            contents.append(handle.read())
    assert contents[0] == contents[1]


def test_sampled_statistics_are_flagged(tmp_path, stats):
    out = fixtures.run(
        str(tmp_path),
        {"train": stats["balanced_train"], "eval": stats["balanced_eval"]},
        BINARY,
        sample_rate_by_split='{"train": 0.5, "eval": 1.0}',
    )
    report = LabelDistributionReport.load(out["class_skew"][0].uri)
    assert report.splits["train"].sample_rate == 0.5
    assert report.splits["eval"].sample_rate == 1.0
    sampled = [f for f in report.findings if f.kind == "sampled_statistics"]
    assert [(f.split, f.action) for f in sampled] == [("train", "warn")]
    assert "sampled 50% of the rows" in sampled[0].message
