"""Trees on a k = 4 label (`trainer.model=gbt`, `mlp_gbt`, `mlp_rf`) through the stock Trainer.

Few, shallow trees, as the binary tree tests: the checks are that TF-DF's multinomial boosting
trains on the Transform's output, that the SavedModel serves raw examples with the multiclass
signature (probabilities summing to 1, the class the argmax of the decision scores, the class
weights the decision rule tuned on `valid`), and that `mlp_gbt` and `mlp_rf` serve the mean of
the two families' probabilities. The rewrite of a k-class forest into plain TensorFlow ops is checked
against TF-DF's own class probabilities in `test_trees.py`.
"""

import os

import numpy as np
import pytest
import tensorflow as tf

from components.trainer import decision_rule, multiclass_training, serving
from components.trainer.tests import fixtures

QUICK_TREES = {"gbt_num_trees": 12, "gbt_max_depth": 4, "rf_num_trees": 12, "rf_max_depth": 6}
COUNTS = fixtures.MULTICLASS_SPLIT_COUNTS[fixtures.TRAIN_SPLIT]
K = len(fixtures.CLASS_NAMES)


def _valid_split(examples):
    """The raw valid split's serialized records and their labels, as the decision rule saw them."""
    pattern = os.path.join(examples.uri, f"Split-{fixtures.VALID_SPLIT}", "*.gz")
    records = [r.numpy() for r in tf.data.TFRecordDataset(tf.io.gfile.glob(pattern), compression_type="GZIP")]
    labels = [tf.train.Example.FromString(r).features.feature[fixtures.LABEL_KEY].int64_list.value[0] for r in records]
    return records, np.asarray(labels, dtype=np.int64)


@pytest.fixture(scope="module")
def trained(multiclass_transformed, tmp_path_factory):
    """(serving folder, training report) of the same seed as gbt, mlp, mlp_gbt, rf and mlp_rf on the k = 4 fixture."""
    return {
        family: fixtures.run_trainer(
            *multiclass_transformed,
            fixtures.multiclass_run_config(model=family, **QUICK_TREES),
            tmp_path_factory.mktemp(f"multiclass_{family}"),
        )
        for family in ("gbt", "mlp", "mlp_gbt", "rf", "mlp_rf")
    }


def test_the_trees_train_k_per_iteration_with_balanced_weights_and_report_it(trained):
    _, report = trained["gbt"]
    assert report["model"] == "gbt" and report["loss"] == "multinomial_log_likelihood"
    assert report["num_classes"] == K and report["protected_classes"] == list(fixtures.PROTECTED_CLASSES)
    # One tree per class and iteration; max_depth counts the root as level 1.
    assert report["gbt_trees"] == K * QUICK_TREES["gbt_num_trees"], "no early stopping by default"
    assert report["gbt_depth"] <= QUICK_TREES["gbt_max_depth"] - 1
    rows = sum(COUNTS.values())
    assert report["gbt_example_weights"] == "balanced", "the default"
    assert report["gbt_class_weights"] == pytest.approx({str(c): rows / (K * n) for c, n in COUNTS.items()})
    assert report["train_class_counts"] == dict(zip(fixtures.CLASS_NAMES, COUNTS.values(), strict=True))
    assert report["epochs_run"] == f"n/a ({report['gbt_trees']} trees)"
    assert report["decision_rule"]["rule_requested"] == decision_rule.RULE
    assert "decision_threshold" not in report, "a multiclass model has no threshold"


def test_the_trees_serve_raw_examples_with_the_multiclass_signature(trained, multiclass_examples):
    serving_dir, report = trained["gbt"]
    records = fixtures.eval_records(multiclass_examples)
    outputs = fixtures.serve(serving_dir, records)
    probabilities = outputs[serving.PROBABILITIES_OUTPUT]
    scores = outputs[serving.DECISION_SCORES_OUTPUT]
    weights = np.float32(report["decision_rule"]["class_weights"])
    assert probabilities.shape == scores.shape == (len(records), K)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
    assert np.all(probabilities > 0)
    np.testing.assert_array_equal(outputs[serving.CLASS_WEIGHTS_OUTPUT], np.tile(weights, (len(records), 1)))
    np.testing.assert_allclose(scores, decision_rule.decision_scores(probabilities, weights), rtol=1e-5, atol=1e-7)
    np.testing.assert_array_equal(outputs[serving.CLASS_OUTPUT], np.argmax(scores, axis=1))
    assert len(set(outputs[serving.CLASS_OUTPUT].tolist())) >= 3, "the trees tell the classes apart"


def test_the_served_class_weights_are_the_decision_rule_on_valid(trained, multiclass_examples):
    """The served weights are what the Trainer's `tune_class_weights` picks on the valid split's probabilities."""
    serving_dir, report = trained["gbt"]
    records, labels = _valid_split(multiclass_examples)
    probabilities = fixtures.serve(serving_dir, records)[serving.PROBABILITIES_OUTPUT]
    parameters = fixtures.multiclass_run_config().parameters
    choice = multiclass_training.tune_class_weights(labels, probabilities, fixtures.PROTECTED_CLASSES, parameters)
    assert list(choice.class_weights) == report["decision_rule"]["class_weights"]


def test_mlp_gbt_serves_the_mean_of_the_two_families_probabilities(trained, multiclass_examples):
    records = fixtures.eval_records(multiclass_examples, limit=200)
    both = fixtures.check_mlp_and_trees_serve_the_mean(trained, records, serving.PROBABILITIES_OUTPUT)
    np.testing.assert_array_equal(both[serving.CLASS_OUTPUT], np.argmax(both[serving.DECISION_SCORES_OUTPUT], axis=1))
    report = trained["mlp_gbt"][1]
    assert report["model"] == "mlp_gbt" and report["loss"] == "bce", "the MLP's loss"
    assert report["epochs_run"] == trained["mlp"][1]["epochs_run"]
    assert report["gbt_trees"] == trained["gbt"][1]["gbt_trees"]
    np.testing.assert_allclose(report["initial_bias"], trained["mlp"][1]["initial_bias"])


def test_mlp_rf_serves_the_mean_of_the_mlp_and_the_forests_class_shares(trained, multiclass_examples):
    records = fixtures.eval_records(multiclass_examples, limit=200)
    both = fixtures.check_mlp_and_trees_serve_the_mean(trained, records, serving.PROBABILITIES_OUTPUT, trees="rf")
    np.testing.assert_allclose(both[serving.PROBABILITIES_OUTPUT].sum(axis=1), 1.0, rtol=0, atol=1e-5)
    forest_report = trained["rf"][1]
    assert forest_report["rf_trees"] == QUICK_TREES["rf_num_trees"], "one tree per iteration, whatever k"
    assert forest_report["loss"].startswith("none (random forest") and forest_report["num_classes"] == K
    assert trained["mlp_rf"][1]["loss"] == "bce", "the MLP's loss"
