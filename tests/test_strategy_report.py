"""The strategy report end to end on the small credit-card fixture, checked against scikit-learn.

One real run of the command (data prep, ExampleGen, the Rebalance executor in Beam, the stock Trainer,
the SavedModel's serving signature), 1 epoch per strategy; then the figures in report.json are
recomputed with scikit-learn from the saved eval predictions.
"""

import base64
import dataclasses
import json
import math
import re
import shutil

import numpy as np
import pytest
import yaml
from sklearn import metrics as skm
from tfx.types import artifact_utils
from tfx.types.artifact import Artifact

from benchmarks.strategy_report import choice, cli, inputs, metrics, render, runs
from pipeline import harness
from pipeline.config import PipelineConfig
from tests import tables
from tests.script_runs import read_report, run_strategy_report, saved_predictions

STRATEGIES = ("class_weights", "undersample", "ensemble", "seed_bagging", "gbt")
FAST_ARGS = (
    "--data",
    str(tables.CREDITCARD_SMALL),
    "--max-epochs",
    "1",
    "--batch-size",
    "256",
    "--hidden-units",
    "16",
    "--ensemble-members",
    "2",
    "--set",
    "trainer.gbt_num_trees=30",
    # The runner's own model is then the gbt row, which the advice compares the best on valid with.
    "--set",
    "trainer.model=gbt",
    "--set",
    "trainer.gbt_example_weights=none",
    "--beam-arg=--direct_running_mode=in_memory",
)


def _run_command(output, strategies):
    return run_strategy_report("--output", str(output), "--strategies", ",".join(strategies), *FAST_ARGS, timeout=1500)


@pytest.fixture(scope="module")
def report_dir(tmp_path_factory):
    output = tmp_path_factory.mktemp("report")
    _run_command(output, STRATEGIES)
    return output


@pytest.fixture(scope="module")
def report(report_dir):
    return read_report(report_dir)


def test_report_has_every_requested_strategy_with_finite_metrics(report_dir, report):
    assert (report_dir / cli.REPORT_HTML).is_file()
    assert report["strategy_order"] == list(STRATEGIES) and set(report["strategies"]) == set(STRATEGIES)
    for name, result in report["strategies"].items():
        overall = result["overall"]
        for key in ("pr_auc", "roc_auc", "precision", "recall", "f1", "max_recall_at_precision_0.5"):
            value = overall[key]
            assert value is not None and math.isfinite(value) and 0.0 <= value <= 1.0, (name, key, value)
        assert 0.0 < result["threshold"] < 1.0
        assert result["seconds"]["training"] > 0
        assert set(result["slices"]) == {"hour_band", "amount_bucket"}
        assert result["curves"]["pr"]["recall"][0] == 0.0 and result["curves"]["roc"]["tpr"][-1] == 1.0
    assert report["best_by_pr_auc"] == max(STRATEGIES, key=lambda n: report["strategies"][n]["overall"]["pr_auc"])
    assert report["strategies"]["undersample"]["seconds"]["rebalance"] > 0
    # The tree family through the same Trainer, threshold and serving path; its loss is its own.
    trees = report["strategies"]["gbt"]
    assert trees["model"] == "gbt" and trees["loss"] == "binomial_log_likelihood"
    assert 1 <= trees["training_report"]["gbt_trees"] <= 30
    assert {report["strategies"][name]["model"] for name in STRATEGIES[:-1]} == {"mlp"}


def test_valid_figures_are_the_served_models_on_the_split_that_tuned_them(report_dir, report):
    """Valid PR-AUC ranks the strategies without eval: it must be the valid split, scored by the served model."""
    for name, result in report["strategies"].items():
        with np.load(report_dir / "strategies" / name / runs.VALID_PREDICTIONS_FILE) as saved:
            labels, probabilities = saved["labels"], saved["probabilities"]
        assert result["valid"]["pr_auc"] == pytest.approx(skm.average_precision_score(labels, probabilities), abs=1e-9)
        assert result["valid"]["roc_auc"] == pytest.approx(skm.roc_auc_score(labels, probabilities), abs=1e-9)
        # The Trainer tuned its threshold on these very rows, so the served model's own float32
        # probabilities at the served threshold give exactly the recorded valid recall.
        decisions = probabilities >= np.float32(result["threshold"])
        recall = float(decisions[labels == 1].mean())
        assert recall == pytest.approx(result["training_report"]["valid_recall"], abs=1e-6), name
    best = max(STRATEGIES, key=lambda n: report["strategies"][n]["valid"]["pr_auc"])
    assert report["best_on_valid"] == best
    assert (
        f"best on valid PR-AUC, the choice to make without looking at eval: <b>{best}</b>"
        in (report_dir / cli.REPORT_HTML).read_text()
    )


def test_the_advice_weighs_the_best_on_valid_against_the_runners_own_row(report_dir, report):
    advice = report["choice"]
    assert advice["current"] == "gbt" and advice["best_on_valid"] == report["best_on_valid"]
    assert (advice["resamples"], advice["confidence"], advice["seed"]) == (1000, 0.95, 42)
    assert f"Model to train: {advice['message']}" in (report_dir / cli.REPORT_HTML).read_text().replace("&#x27;", "'")
    if advice["best_on_valid"] == "gbt":
        assert advice["decision"] == "keep" and advice["message"] == "keep gbt: best on valid"
        return
    valid = {name: runs.load_valid_predictions(report_dir, name) for name in ("gbt", advice["best_on_valid"])}
    lead = choice.paired_lead(
        valid["gbt"]["labels"],
        valid[advice["best_on_valid"]]["probabilities"],
        valid["gbt"]["probabilities"],
        choice.ranking_score(None),
        choice.ChoiceParameters(),
    )
    assert advice["share_ahead"] == lead.share_ahead and advice["lead"] == pytest.approx(lead.lead)
    assert advice["required_share"] == pytest.approx(1.0 - 0.05 / (len(STRATEGIES) - 1))
    assert advice["decision"] == ("switch" if lead.share_ahead >= advice["required_share"] else "keep")


def test_html_is_self_contained_with_embedded_images(report_dir):
    text = (report_dir / cli.REPORT_HTML).read_text()
    sources = re.findall(r'<img[^>]*\bsrc="([^"]*)"', text)
    assert len(sources) == 2, "one PR plot and one ROC plot"
    for source in sources:
        prefix = "data:image/png;base64,"
        assert source.startswith(prefix)
        assert base64.b64decode(source[len(prefix) :]).startswith(b"\x89PNG\r\n\x1a\n")
    assert not re.search(r'\b(?:src|href)="(?!data:)', text), "no external references"
    assert "<script" not in text and "<link" not in text
    for name in STRATEGIES:
        assert f"<td>{name}</td>" in text


def test_metrics_match_scikit_learn_on_the_saved_predictions(report_dir, report):
    for name, result in report["strategies"].items():
        saved = saved_predictions(report_dir, result)
        labels, probabilities = saved["labels"], saved["probabilities"]
        assert labels.size == report["eval_split"]["rows"] == result["overall"]["rows"]
        assert float(saved["threshold"]) == pytest.approx(result["threshold"], abs=1e-7)
        # The served decision is the tuned threshold applied to the served probability.
        decisions = (probabilities >= np.float32(result["threshold"])).astype(np.int8)
        assert np.array_equal(saved["decisions"], decisions), name
        overall = result["overall"]
        assert overall["pr_auc"] == pytest.approx(skm.average_precision_score(labels, probabilities), abs=1e-9)
        assert overall["roc_auc"] == pytest.approx(skm.roc_auc_score(labels, probabilities), abs=1e-9)
        assert overall["precision"] == pytest.approx(skm.precision_score(labels, decisions, zero_division=0))
        assert overall["recall"] == pytest.approx(skm.recall_score(labels, decisions, zero_division=0))
        assert overall["f1"] == pytest.approx(skm.f1_score(labels, decisions, zero_division=0))
        for key, values in result["slices"].items():
            slice_values = saved[f"slice_{key}"]
            assert sum(figures["rows"] for figures in values.values()) == labels.size
            for value, figures in values.items():
                mask = slice_values == value
                assert figures["rows"] == int(mask.sum()) and figures["positives"] == int(labels[mask].sum())
                assert figures["recall"] == pytest.approx(
                    skm.recall_score(labels[mask], decisions[mask], zero_division=0)
                )
                if 0 < figures["positives"] < figures["rows"]:
                    expected = skm.average_precision_score(labels[mask], probabilities[mask])
                    assert figures["pr_auc"] == pytest.approx(expected, abs=1e-9), (name, key, value)
                    expected = skm.roc_auc_score(labels[mask], probabilities[mask])
                    assert figures["roc_auc"] == pytest.approx(expected, abs=1e-9), (name, key, value)


def test_class_counts_before_and_after_resampling(report):
    results = report["strategies"]
    before = results["class_weights"]["class_counts"]["before"]
    assert results["class_weights"]["class_counts"]["after"] == before
    undersample = results["undersample"]["class_counts"]
    assert undersample["before"] == before
    assert undersample["after"]["1"] == before["1"]
    target_ratio = report["rebalance_config"]["target_ratio"]
    assert undersample["after"]["1"] / undersample["after"]["0"] == pytest.approx(target_ratio, rel=0.02)
    # The Trainer saw what Rebalance wrote.
    assert results["undersample"]["training_report"]["train_rows"] == sum(undersample["after"].values())
    assert results["ensemble"]["training_report"]["ensemble_members"] == 2
    # Balanced bagging keeps ~10% of the negatives per member; seed bagging keeps every row.
    assert results["ensemble"]["class_counts"]["after"]["0"] == round(before["0"] * 0.1)
    assert results["seed_bagging"]["class_counts"]["after"] == before
    assert results["seed_bagging"]["training_report"]["ensemble_members"] == 2


def test_rerun_reuses_finished_strategies_and_retrains_identically(report_dir, report):
    """Seeds come from the config: a retrained strategy, in another order, gives the same model outputs."""
    first = report["strategies"]["class_weights"]
    first_probabilities = saved_predictions(report_dir, first)["probabilities"]
    shutil.rmtree(report_dir / "strategies" / "class_weights")
    completed = _run_command(report_dir, ("ensemble", "class_weights"))
    assert "examples: reusing" in completed.stdout
    assert "[ensemble] reusing the finished run" in completed.stdout
    assert "[class_weights] reusing" not in completed.stdout
    again = json.loads((report_dir / cli.REPORT_JSON).read_text())
    assert again["strategy_order"] == ["ensemble", "class_weights"]
    assert again["strategies"]["ensemble"] == report["strategies"]["ensemble"]
    retrained = again["strategies"]["class_weights"]
    np.testing.assert_array_equal(saved_predictions(report_dir, retrained)["probabilities"], first_probabilities)
    assert retrained["overall"] == first["overall"] and retrained["threshold"] == first["threshold"]


def test_harness_runs_rebalance_as_the_pipeline_builds_it(report_dir, report, tmp_path):
    """SMOTE needs features to interpolate: the pipeline's Rebalance node gives it every numeric model input."""
    examples = Artifact.from_json_dict(json.loads((report_dir / inputs.EXAMPLES_DONE_FILE).read_text())["artifact"])
    config = PipelineConfig(
        "t",
        str(tmp_path),
        "/d",
        "/s",
        None,
        label_key=inputs.description(None, None).label.column,
        numeric_feature_keys=tuple(report["columns"]["numeric"]),
        beam_pipeline_args=cli.DEFAULT_BEAM_ARGS,
    )
    config = dataclasses.replace(config, rebalance=dataclasses.replace(config.rebalance, strategy="smote"))
    output, summary = harness.run_rebalance(examples, config, tmp_path)
    train = summary["splits"]["train"]
    assert train["after"]["0"] == train["before"]["0"] and train["after"]["1"] > train["before"]["1"]
    assert artifact_utils.decode_split_names(output.split_names) == ["train", "valid", "eval"]


def test_metric_functions_match_scikit_learn_with_ties():
    rng = np.random.default_rng(3)
    labels = (rng.random(500) < 0.1).astype(np.int8)
    scores = np.round(rng.random(500) * 0.5 + labels * 0.3, 2)  # rounded: many tied scores
    assert metrics.average_precision(labels, scores) == pytest.approx(
        skm.average_precision_score(labels, scores), abs=1e-12
    )
    assert metrics.roc_auc(labels, scores) == pytest.approx(skm.roc_auc_score(labels, scores), abs=1e-12)
    precision, recall, _ = skm.precision_recall_curve(labels, scores)
    expected = recall[precision >= 0.5].max()
    assert metrics.max_recall_at_precision(labels, scores, 0.5) == pytest.approx(expected)
    assert metrics.roc_auc(np.zeros(5), np.arange(5)) is None
    assert metrics.average_precision(np.zeros(5), np.arange(5)) is None
    no_alerts = metrics.metrics_at_threshold(np.array([1, 0, 1]), np.zeros(3))
    assert no_alerts["precision"] == 0.0 and no_alerts["recall"] == 0.0 and no_alerts["fn"] == 2
    with pytest.raises(ValueError, match="NaN or infinite"):
        metrics.average_precision(np.array([0, 1]), np.array([0.1, np.nan]))


def test_bad_arguments_fail_before_anything_is_written(tmp_path, capsys):
    output = tmp_path / "never"
    assert cli.main(["--output", str(output), "--strategies", "none,bogus"]) == 2
    assert "unknown ['bogus']" in capsys.readouterr().err
    assert cli.main(["--output", str(output), "--set", "trainer.focal_gamma=-1"]) == 2
    assert "focal_gamma must be >= 0" in capsys.readouterr().err
    assert cli.main(["--output", str(output), "--ensemble-members", "1"]) == 2
    assert cli.main(["--output", str(output), "--choice-confidence", "1"]) == 2
    assert "--choice-confidence must be in [0.5, 1), got 1.0" in capsys.readouterr().err
    missing = tmp_path / "missing.csv"
    assert cli.main(["--output", str(output), "--data", str(missing)]) == 2
    assert str(missing) in capsys.readouterr().err
    assert not output.exists()


def test_synthesis_without_a_complete_numeric_column_is_refused_before_training(tmp_path, capsys):
    """SMOTE, augment_noise and mixup need a numeric input that is never missing; refused right after data prep."""
    description = tables.text_labels(tmp_path / "loans")
    table = (tmp_path / "loans" / "loans.csv").read_text().splitlines()
    table[1] = ",".join(["", "", table[1].split(",")[2]])  # the first row's income and debt missing
    (tmp_path / "loans" / "loans.csv").write_text("\n".join(table) + "\n")
    output = tmp_path / "out"
    argv = ["--dataset", str(description), "--output", str(output), "--strategies", "none,smote,mixup"]
    assert cli.main(argv) == 2
    error = capsys.readouterr().err
    assert "--strategies smote, mixup" in error and "every numeric column here has some (income, debt)" in error
    assert not (output / "examples").exists()


def test_the_description_settings_apply_and_set_wins(tmp_path):
    description = tables.text_labels(tmp_path / "loans")
    tree = yaml.safe_load(description.read_text())
    tree["settings"] = {"trainer": {"max_epochs": 4, "learning_rate": 0.01}, "evaluator": {"min_recall": 0.6}}
    description.write_text(yaml.safe_dump(tree))
    args = cli.parse_args(
        ["--dataset", str(description), "--output", str(tmp_path / "out"), "--set", "trainer.max_epochs=2"]
    )
    config = cli.build_config(args, inputs.description(args.dataset, args.data), tmp_path / "out")
    assert (config.trainer.learning_rate, config.evaluator.min_recall) == (0.01, 0.6)
    assert config.trainer.max_epochs == 2, "--set is applied after the description"


def test_markdown_cells_are_plain_text_and_html_cells_escaped():
    loss = "none (random forest: each tree's information gain)"
    assert render.markdown_lines(["loss", "PR-AUC"], [[loss, 0.84321]])[2] == f"| {loss} | 0.8432 |"
    assert "tree&#x27;s" in render._table(["loss"], [[loss]])
