"""The strategy report on a multiclass label (the k = 4 fixture), checked against scikit-learn.

One real run of the command on `tables.failure_types` (data prep, ExampleGen, Rebalance SMOTE with
per-class targets, the stock Trainer's softmax path, the SavedModel's multiclass serving signature),
two strategies for 2 epochs; then every per-class figure in report.json is recomputed with
scikit-learn from the saved eval predictions, overall and per slice.
"""

import base64
import math
import re

import numpy as np
import pytest
from sklearn import metrics as skm

from benchmarks.strategy_report import cli, runs, strategies
from tests import tables
from tests.script_runs import read_report, run_strategy_report, saved_predictions

STRATEGIES = ("class_weights", "smote")
# The runner's own model is then the class_weights row: one MLP with balanced class weights.
FAST_ARGS = ("--max-epochs", "2", "--batch-size", "64", "--hidden-units", "16", "--set", "trainer.model=mlp")
FAST_ARGS += ("--set", "trainer.loss=weighted_bce")
NAMES = tables.FAILURE_CLASSES
PROTECTED = tuple(NAMES.index(name) for name in tables.PROTECTED_FAILURES)


@pytest.fixture(scope="module")
def report_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("multiclass_report")
    description = tables.failure_types(root / "machines")
    output = root / "report"
    completed = run_strategy_report(
        *("--dataset", str(description), "--output", str(output), "--strategies", ",".join(STRATEGIES)),
        *FAST_ARGS,
        timeout=900,
    )
    assert "power* recall" in completed.stdout and "best by mean PR-AUC of the protected classes" in completed.stdout
    return output


@pytest.fixture(scope="module")
def report(report_dir):
    return read_report(report_dir)


def _check_class_figures(figures, labels, probabilities, served, where):
    """Every class's figures on these rows against scikit-learn (zero_division=0 as the report)."""
    indices = list(range(len(NAMES)))
    recall = skm.recall_score(labels, served, labels=indices, average=None, zero_division=0)
    precision = skm.precision_score(labels, served, labels=indices, average=None, zero_division=0)
    f1 = skm.f1_score(labels, served, labels=indices, average=None, zero_division=0)
    for index, name in enumerate(NAMES):
        entry = figures["classes"][name]
        actual = labels == index
        assert entry["rows"] == int(actual.sum()) and entry["served"] == int(np.sum(served == index)), where
        assert entry["protected"] == (index in PROTECTED)
        assert entry["recall"] == pytest.approx(recall[index]), (where, name)
        assert entry["precision"] == pytest.approx(precision[index]), (where, name)
        assert entry["f1"] == pytest.approx(f1[index]), (where, name)
        if 0 < actual.sum() < actual.size:
            assert entry["pr_auc"] == pytest.approx(
                skm.average_precision_score(actual, probabilities[:, index]), abs=1e-9
            ), (where, name)
            assert entry["roc_auc"] == pytest.approx(skm.roc_auc_score(actual, probabilities[:, index]), abs=1e-9)
        else:
            assert entry["roc_auc"] is None
    assert figures["rows"] == labels.size
    assert figures["accuracy"] == pytest.approx(skm.accuracy_score(labels, served))
    assert figures["confusion_matrix"] == skm.confusion_matrix(labels, served, labels=indices).tolist()
    present = [recall[c] for c in PROTECTED if np.any(labels == c)]
    assert figures["protected"]["min_recall"] == (pytest.approx(min(present)) if present else None)


def test_report_ranks_strategies_by_the_protected_classes(report_dir, report):
    assert (report_dir / cli.REPORT_HTML).is_file()
    assert report["strategy_order"] == list(STRATEGIES) and report["skipped_strategies"] == []
    assert report["class_names"] == list(NAMES) and report["protected_classes"] == list(tables.PROTECTED_FAILURES)
    assert sum(report["eval_split"]["class_rows"].values()) == report["eval_split"]["rows"]
    results = report["strategies"]
    assert (
        report["best"]
        == report["ranking"][0]
        == max(STRATEGIES, key=lambda name: results[name]["overall"]["protected"]["mean_pr_auc"])
    )
    for name, result in results.items():
        assert set(result["class_weights"]) == set(NAMES) and result["class_weights"]["none"] == 1.0
        assert set(result["slices"]) == {"line"}
        for class_name in NAMES:
            curve = result["curves"][class_name]
            assert curve["pr"]["recall"][0] == 0.0 and curve["roc"]["tpr"][-1] == 1.0, (name, class_name)
        for key in ("pr_auc", "roc_auc", "recall", "precision", "f1"):
            assert math.isfinite(result["overall"]["macro"][key]), (name, key)


def test_valid_macro_pr_auc_ranks_the_strategies_without_eval(report_dir, report):
    for name, result in report["strategies"].items():
        with np.load(report_dir / "strategies" / name / runs.VALID_PREDICTIONS_FILE) as saved:
            labels, probabilities = saved["labels"].astype(int), saved["probabilities"]
        assert probabilities.shape == (labels.size, len(NAMES)) and labels.size > 0
        per_class = [skm.average_precision_score(labels == c, probabilities[:, c]) for c in range(len(NAMES))]
        assert result["valid"]["macro_pr_auc"] == pytest.approx(np.mean(per_class), abs=1e-9), name
        guarded = np.mean([per_class[c] for c in PROTECTED])
        assert result["valid"]["protected_mean_pr_auc"] == pytest.approx(guarded, abs=1e-9), name
    results = report["strategies"]
    # Ranked on valid by the report's own ranking metric, the protected classes' mean PR-AUC.
    assert report["best_on_valid"] == max(STRATEGIES, key=lambda name: results[name]["valid"]["protected_mean_pr_auc"])
    advice = report["choice"]
    assert advice["current"] == "class_weights" and advice["metric"] == "protected_mean_pr_auc"
    assert advice["required_share"] == pytest.approx(0.95), "one row besides the current one"
    if report["best_on_valid"] == "class_weights":
        assert advice["decision"] == "keep"
    else:
        assert advice["decision"] == ("switch" if advice["share_ahead"] >= advice["required_share"] else "keep")
    if advice["decision"] == "switch":
        # SMOTE's per-class targets come with it: the runner would otherwise grow no class.
        assert advice["settings"]["trainer"] == {"loss": "bce"}
        rebalance = advice["settings"]["rebalance"]
        assert rebalance["strategy"] == "smote" and rebalance["target_counts"]


def test_per_class_figures_match_scikit_learn_on_the_saved_predictions(report_dir, report):
    for name, result in report["strategies"].items():
        saved = saved_predictions(report_dir, result)
        labels, probabilities, served = saved["labels"].astype(int), saved["probabilities"], saved["decisions"]
        assert probabilities.shape == (report["eval_split"]["rows"], len(NAMES))
        weights = np.array([result["class_weights"][n] for n in NAMES], dtype=np.float32)
        np.testing.assert_array_equal(saved["class_weights"], weights)
        # The served class is the argmax of the probabilities times the tuned weights, renormalised.
        weighted = probabilities * weights
        np.testing.assert_allclose(saved["decision_scores"], weighted / weighted.sum(axis=1, keepdims=True), atol=1e-6)
        np.testing.assert_array_equal(served, np.argmax(saved["decision_scores"], axis=1))
        overall = result["overall"]
        _check_class_figures(overall, labels, probabilities, served, (name, "overall"))
        assert overall["macro"]["recall"] == pytest.approx(skm.recall_score(labels, served, average="macro"))
        expected = np.mean([skm.average_precision_score(labels == c, probabilities[:, c]) for c in range(len(NAMES))])
        assert overall["macro"]["pr_auc"] == pytest.approx(expected, abs=1e-9)
        guarded = [skm.average_precision_score(labels == c, probabilities[:, c]) for c in PROTECTED]
        assert overall["protected"]["mean_pr_auc"] == pytest.approx(np.mean(guarded), abs=1e-9)
        values = saved["slice_line"]
        assert sum(figures["rows"] for figures in result["slices"]["line"].values()) == labels.size
        for value, figures in result["slices"]["line"].items():
            mask = values == value
            _check_class_figures(figures, labels[mask], probabilities[mask], served[mask], (name, "line", value))


def test_resampling_gets_per_class_targets_from_target_ratio(report):
    smote = report["strategies"]["smote"]["class_counts"]
    before = {int(k): v for k, v in smote["before"].items()}
    assert report["strategies"]["class_weights"]["class_counts"]["before"] == smote["before"]
    floor = math.ceil(report["rebalance_config"]["target_ratio"] * max(before.values()))
    for label, count in before.items():
        assert smote["after"][str(label)] == max(count, floor), label
    assert report["strategies"]["smote"]["training_report"]["train_rows"] == sum(smote["after"].values())


def test_html_has_one_pr_and_one_roc_image_of_every_class(report_dir):
    text = (report_dir / cli.REPORT_HTML).read_text()
    sources = re.findall(r'<img[^>]*\bsrc="([^"]*)"', text)
    assert len(sources) == 2
    for source in sources:
        assert base64.b64decode(source.split(",", 1)[1]).startswith(b"\x89PNG\r\n\x1a\n")
    assert not re.search(r'\b(?:src|href)="(?!data:)', text) and "<script" not in text
    for name in NAMES:
        assert f"served {name}" in text and f"<td>{name}</td>" in text


def test_target_counts_and_binary_only_strategies():
    counts = {0: 379, 1: 62, 2: 23, 3: 17}
    assert strategies.multiclass_target_counts(counts, "smote", 0.1) == (("2", 38), ("3", 38))
    assert strategies.multiclass_target_counts(counts, "undersample", 0.1) == (("0", 170),)
    assert strategies.multiclass_target_counts(counts, "oversample", 0.01) == ()
    chosen, skipped = strategies.selected_strategies(None, multiclass=True)
    binary_only = {"pos_weight", "auc_loss", "mixed_ensemble"}
    assert {strategy.name for strategy in chosen} == set(strategies.STRATEGY_NAMES) - binary_only
    assert len(skipped) == len(binary_only) and all("binary only" in line for line in skipped)
    assert strategies.selected_strategies(None)[0] == list(strategies.STRATEGIES)


def test_naming_a_binary_only_strategy_for_a_multiclass_label_is_refused(tmp_path, capsys):
    description = tables.failure_types(tmp_path / "machines")
    output = tmp_path / "never"
    argv = ["--dataset", str(description), "--output", str(output), "--strategies", "none,auc_loss,gbt,pos_weight"]
    assert cli.main(argv) == 2
    error = capsys.readouterr().err
    assert "binary-only strategies for a multiclass label" in error and "auc_loss" in error and "pos_weight" in error
    assert "gbt" not in error, "the trees apply to a multiclass label"
    assert not output.exists()
