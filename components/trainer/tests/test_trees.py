"""Tree families (`trainer.model=gbt`, `rf`) and the MLP + trees averages (`mlp_gbt`, `mlp_rf`) in the Trainer.

Few, shallow trees: the checks are that the trees train on the Transform's output, that the
exported SavedModel serves raw examples with the threshold tuned on valid, that it loads and
serves in a process that never imported TF-DF (the stock Evaluator's case), that `mlp_gbt` and
`mlp_rf` serve the mean of the two families' probabilities, and that the rewrite of each forest
into plain TensorFlow ops reproduces TF-DF's own predictions (boosted and random, binary and
k-class), categories never seen and NaN included. The k-class Trainer runs are in
`test_multiclass_trees.py`.
"""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
from scipy import special

from components.trainer import forest, serving, trees
from components.trainer.spec import FAMILY_BLENDS
from components.trainer.tests import fixtures

QUICK_TREES = {"gbt_num_trees": 20, "gbt_max_depth": 4, "rf_num_trees": 20, "rf_max_depth": 6}


@pytest.fixture(scope="module")
def trained(transformed, tmp_path_factory):
    """(serving folder, training report) of the same seed as mlp, gbt, mlp_gbt, rf and mlp_rf."""
    runs = {}
    for family in ("gbt", "mlp", "mlp_gbt", "rf", "mlp_rf"):
        workdir = tmp_path_factory.mktemp(family)
        runs[family] = fixtures.run_trainer(*transformed, fixtures.run_config(model=family, **QUICK_TREES), workdir)
    runs["mlp_rf_logit"] = fixtures.run_trainer(
        *transformed,
        fixtures.run_config(model="mlp_rf", family_blend="logit", **QUICK_TREES),
        tmp_path_factory.mktemp("mlp_rf_logit"),
    )
    return runs


def _served_with_tuned_threshold(examples, trained, family):
    """(eval probabilities, training report) of `family`, after checking the served threshold and decisions."""
    serving_dir, report = trained[family]
    outputs = fixtures.serve(serving_dir, fixtures.eval_records(examples), flatten=True)
    probability, decision = outputs[serving.PROBABILITY_OUTPUT], outputs[serving.DECISION_OUTPUT]
    assert np.allclose(outputs[serving.THRESHOLD_OUTPUT], report["decision_threshold"], rtol=0, atol=1e-7)
    assert np.array_equal(decision, (probability >= np.float32(report["decision_threshold"])).astype(np.float32))
    assert np.all((probability > 0) & (probability < 1)) and 0 < decision.sum() < decision.size
    return probability, report


def test_gbt_serves_raw_examples_with_the_threshold_tuned_on_valid(examples, trained):
    _, report = _served_with_tuned_threshold(examples, trained, "gbt")
    assert report["model"] == "gbt" and report["loss"] == "binomial_log_likelihood"
    assert 1 <= report["gbt_trees"] <= QUICK_TREES["gbt_num_trees"]
    assert report["gbt_depth"] <= QUICK_TREES["gbt_max_depth"] - 1, "max_depth counts the root as level 1"
    assert report["gbt_example_weights"] == "balanced", "the default"
    assert report["gbt_class_weights"] == pytest.approx({"0": 1800 / (2 * 1710), "1": 1800 / (2 * 90)})
    assert (report["train_rows"], report["train_positives"]) == (1800, 90)
    assert report["epochs_run"] == f"n/a ({report['gbt_trees']} trees)"


def test_the_random_forest_serves_raw_examples_with_the_threshold_tuned_on_valid(examples, trained):
    probability, report = _served_with_tuned_threshold(examples, trained, "rf")
    assert report["model"] == "rf" and report["loss"].startswith("none (random forest")
    assert report["rf_trees"] == QUICK_TREES["rf_num_trees"], "a forest grows every tree it is asked for"
    assert 1 <= report["rf_depth"] <= QUICK_TREES["rf_max_depth"] - 1, "max_depth counts the root as level 1"
    assert not any(key.startswith("gbt_") for key in report), "no boosting figures for a forest"
    assert report["epochs_run"] == f"n/a ({report['rf_trees']} trees)"
    # Unweighted: the forest's mean score stays near the 5% base rate of the rows it trained on.
    assert probability.mean() < 0.2


@pytest.mark.parametrize("family", ["gbt", "rf"])
def test_the_exported_trees_load_and_serve_without_tf_df(examples, trained, tmp_path, family):
    """The stock Evaluator loads the model in a process that never imported TF-DF: no custom op may remain."""
    serving_dir, _ = trained[family]
    records = fixtures.eval_records(examples, limit=32)
    (tmp_path / "records.json").write_text(json.dumps([record.hex() for record in records]))
    script = (
        "import json, sys, tensorflow as tf\n"
        f"records = [bytes.fromhex(r) for r in json.load(open({str(tmp_path / 'records.json')!r}))]\n"
        f"serve = tf.saved_model.load({serving_dir!r}).signatures['serving_default']\n"
        "out = serve(examples=tf.constant(records))\n"
        "assert 'tensorflow_decision_forests' not in sys.modules\n"
        "print(json.dumps(out['probability'].numpy().reshape(-1).tolist()))\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    served = np.asarray(json.loads(completed.stdout.strip().splitlines()[-1]))
    expected = fixtures.serve(serving_dir, records, flatten=True)[serving.PROBABILITY_OUTPUT]
    np.testing.assert_allclose(served, expected, rtol=0, atol=1e-7)


def test_mlp_gbt_serves_the_mean_of_the_two_families_probabilities(examples, trained):
    records = fixtures.eval_records(examples, limit=200)
    both = fixtures.check_mlp_and_trees_serve_the_mean(trained, records, serving.PROBABILITY_OUTPUT)
    threshold = trained["mlp_gbt"][1]["decision_threshold"]
    assert np.array_equal(
        both[serving.DECISION_OUTPUT], (both[serving.PROBABILITY_OUTPUT] >= np.float32(threshold)).astype(np.float32)
    )
    report = trained["mlp_gbt"][1]
    assert report["model"] == "mlp_gbt" and report["loss"] == "bce"
    assert (
        report["epochs_run"] == trained["mlp"][1]["epochs_run"]
        and report["gbt_trees"] == trained["gbt"][1]["gbt_trees"]
    )


def test_mlp_rf_serves_the_mean_of_the_mlp_and_the_forest(examples, trained):
    records = fixtures.eval_records(examples, limit=200)
    fixtures.check_mlp_and_trees_serve_the_mean(trained, records, serving.PROBABILITY_OUTPUT, trees="rf")
    report = trained["mlp_rf"][1]
    assert report["model"] == "mlp_rf" and report["loss"] == "bce"
    assert report["epochs_run"] == trained["mlp"][1]["epochs_run"]
    assert report["rf_trees"] == trained["rf"][1]["rf_trees"]


def test_mlp_rf_with_the_logit_blend_serves_the_mean_of_the_two_logits(examples, trained):
    records = fixtures.eval_records(examples, limit=200)
    served = {name: fixtures.serve(trained[name][0], records) for name in ("mlp", "rf", "mlp_rf_logit")}
    logit = {name: special.logit(served[name][serving.PROBABILITY_OUTPUT].astype(np.float64)) for name in ("mlp", "rf")}
    expected = tf.sigmoid((logit["mlp"] + logit["rf"]) / 2).numpy()
    np.testing.assert_allclose(served["mlp_rf_logit"][serving.PROBABILITY_OUTPUT], expected, rtol=0, atol=1e-5)
    # The threshold is tuned on valid for the blend it serves, not copied from the probability mean.
    assert trained["mlp_rf_logit"][1]["decision_threshold"] != trained["mlp_rf"][1]["decision_threshold"]
    assert (
        trained["mlp_rf_logit"][1]["family_blend"] == "logit" and trained["mlp_rf"][1]["family_blend"] == "probability"
    )


def test_unweighted_trees_with_early_stopping_stay_near_the_base_rate(examples, transformed, trained, tmp_path):
    serving_dir, report = fixtures.run_trainer(
        *transformed,
        fixtures.run_config(model="gbt", gbt_example_weights="none", gbt_early_stopping=True, **QUICK_TREES),
        tmp_path,
    )
    assert report["gbt_example_weights"] == "none" and report["gbt_class_weights"] == {}
    assert 1 <= report["gbt_trees"] <= QUICK_TREES["gbt_num_trees"]
    records = fixtures.eval_records(examples, limit=200)
    unweighted = fixtures.serve(serving_dir, records, flatten=True)[serving.PROBABILITY_OUTPUT]
    balanced = fixtures.serve(trained["gbt"][0], records, flatten=True)[serving.PROBABILITY_OUTPUT]
    # Unweighted, the mean probability stays near the 5% base rate; weighted to a 50/50 mix, far above it.
    assert unweighted.mean() < 0.15 and balanced.mean() > 0.2


def _tiny_forest(rng, classes=2, family="gbt", category_semantic=True):
    """A TF-DF forest on two numbers and one category (ids 0..4), trained in this process.

    `category_semantic=False` gives TF-DF the ids as a third number, so no node tests a category set.

    Two classes: a binary forest (one tree per iteration); more: TF-DF's multinomial boosting
    (one tree per class and iteration), the label the score's integer part capped to the classes.
    `family="rf"`: a random forest of 15 trees that averages its leaves' class shares.
    """
    import tensorflow_decision_forests as tfdf

    rows = 3000
    numbers = rng.normal(size=(rows, 2)).astype(np.float32)
    ids = rng.integers(0, 5, size=rows)
    score = numbers[:, 0] + 0.6 * ids + rng.normal(scale=0.5, size=rows)
    label = (score > 1.5 if classes == 2 else np.clip(np.floor(score), 0, classes - 1)).astype(np.int64)
    numbers[rng.random(rows) < 0.1, 1] = np.nan  # TF-DF learns where a missing number goes
    columns = {"a": numbers[:, :1], "b": numbers[:, 1:], "c": ids.reshape(-1, 1)}
    learner_class, settings = (
        (tfdf.keras.RandomForestModel, {"winner_take_all": False, "max_depth": 6})
        if family == "rf"
        else (tfdf.keras.GradientBoostedTreesModel, {"max_depth": 4})
    )
    learner = learner_class(
        num_trees=15,
        **settings,
        features=[
            tfdf.keras.FeatureUsage("a", semantic=tfdf.keras.FeatureSemantic.NUMERICAL),
            tfdf.keras.FeatureUsage("b", semantic=tfdf.keras.FeatureSemantic.NUMERICAL),
            tfdf.keras.FeatureUsage(
                "c",
                semantic=tfdf.keras.FeatureSemantic.CATEGORICAL
                if category_semantic
                else tfdf.keras.FeatureSemantic.NUMERICAL,
            ),
        ],
        exclude_non_specified_features=True,
        random_seed=7,
        verbose=0,
    )
    if not category_semantic:
        columns["c"] = columns["c"].astype(np.float32)
    learner.fit(tf.data.Dataset.from_tensor_slices((columns, label)).batch(512), verbose=0)
    return learner


@pytest.mark.parametrize("classes,family", [(2, "gbt"), (4, "gbt"), (2, "rf"), (4, "rf")])
def test_the_rewritten_forest_reproduces_tf_df_for_unseen_categories_and_missing_numbers(classes, family):
    rng = np.random.default_rng(5)
    learner = _tiny_forest(rng, classes, family)
    flat = forest.flatten_forest(learner.make_inspector(), ("a", "b", "c"), ("c",))
    outputs = 1 if classes == 2 else classes
    # Boosting grows one tree per output and iteration; a random forest one tree per iteration.
    assert flat.outputs == outputs and flat.trees == 15 * (outputs if family == "gbt" else 1)
    assert flat.combine == (forest.MEAN_OF_PROBABILITIES if family == "rf" else forest.SUM_OF_LOGITS)
    assert flat.masks.any(), "the trees split on the category"
    model = forest.forest_model(flat, ("a", "b", "c"))
    rows = 400
    a = rng.normal(size=(rows, 1)).astype(np.float32)
    b = rng.normal(size=(rows, 1)).astype(np.float32)
    b[::7] = np.nan
    # Ids 5..9 were never seen in training and -1 is not an id: TF-DF takes both as out-of-dictionary.
    c = rng.integers(-1, 10, size=(rows, 1))
    expected = learner.predict({"a": a, "b": b, "c": c}, verbose=0)
    logits = model({"a": a, "b": b, "c": c.astype(np.float32)}, training=False)
    # Binary: the sigmoid of one logit is TF-DF's [rows, 1] probability; k classes: the softmax of k logits.
    served = tf.sigmoid(logits) if classes == 2 else tf.nn.softmax(logits, axis=-1)
    assert served.shape == expected.shape == (rows, outputs)
    np.testing.assert_allclose(served.numpy(), expected, rtol=0, atol=1e-5)


def test_a_condition_the_graph_cannot_evaluate_is_an_error_naming_the_feature():
    learner = _tiny_forest(np.random.default_rng(6))
    with pytest.raises(forest.ForestError, match="tests feature 'c', which is not a model input"):
        forest.flatten_forest(learner.make_inspector(), ("a", "b"), ())


@pytest.mark.parametrize("family", ["gbt", "rf"])
def test_a_forest_of_numerical_conditions_only_reproduces_tf_df(family):
    rng = np.random.default_rng(8)
    learner = _tiny_forest(rng, 2, family, category_semantic=False)
    flat = forest.flatten_forest(learner.make_inspector(), ("a", "b", "c"), ())
    # The walk then leaves out the category-set test (`ForestLogit`): this checks that shorter path.
    assert not flat.categorical.any()
    rows = 400
    columns = {key: rng.normal(size=(rows, 1)).astype(np.float32) for key in ("a", "b", "c")}
    columns["b"][::5] = np.nan
    expected = learner.predict(columns, verbose=0)
    served = tf.sigmoid(forest.forest_model(flat, ("a", "b", "c"))(columns, training=False))
    np.testing.assert_allclose(served.numpy(), expected, rtol=0, atol=1e-5)


def test_every_family_blend_has_an_ensemble_output_that_serves_it():
    assert sorted(trees._BLEND_OUTPUTS) == sorted(FAMILY_BLENDS)


@pytest.mark.parametrize("family,expected", [("gbt", {"l2_regularization": 0.5, "shrinkage": 0.05}), ("rf", {})])
def test_the_tree_settings_reach_tf_dfs_learner(family, expected):
    from components.trainer.network import ModelInputs
    from components.trainer.spec import TrainerParameters

    parameters = TrainerParameters(model=family, gbt_l2_regularization=0.5, gbt_shrinkage=0.05, rf_max_depth=9)
    learner = trees._learner(ModelInputs(numeric_keys=("a",), categorical_ids=()), parameters)
    settings = learner.learner_params
    for name, value in expected.items():
        assert settings[name] == value, name
    if family == "rf":
        assert settings["max_depth"] == 9 and "l2_regularization" not in settings
