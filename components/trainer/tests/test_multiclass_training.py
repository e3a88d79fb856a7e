"""`run_fn` on the k = 4 fixture through the stock Trainer executor, and its serving signature on RAW tf.Examples.

Two rare classes are protected. Each run trains for one or two epochs: the checks are that each
option had its effect (the bias is the log priors of the rows trained on, the served class is the
argmax of the served decision scores, the weights served are the tuned ones), not quality.
"""

import dataclasses

import numpy as np
import pytest

from components.trainer import decision_rule, serving
from components.trainer.tests import fixtures

COUNTS = fixtures.MULTICLASS_SPLIT_COUNTS[fixtures.TRAIN_SPLIT]
KNOWN = {key: 0.5 for key in fixtures.FEATURE_KEYS}


def _train(multiclass_transformed, workdir, **parameters):
    return fixtures.run_trainer(*multiclass_transformed, fixtures.multiclass_run_config(**parameters), workdir)


def _log_priors(counts):
    counts = np.asarray(counts, dtype=np.float64)
    return np.log(counts / counts.sum())


@pytest.fixture(scope="module")
def trained(multiclass_transformed, tmp_path_factory):
    """One softmax model on the split's own mix, plain cross-entropy."""
    return _train(multiclass_transformed, tmp_path_factory.mktemp("multiclass"), max_epochs=2)


def test_the_report_states_the_counts_the_bias_and_the_decision_rule(trained):
    _, report = trained
    assert report["train_class_counts"] == dict(zip(fixtures.CLASS_NAMES, COUNTS.values(), strict=True))
    assert report["num_classes"] == 4 and report["protected_classes"] == [2, 3]
    np.testing.assert_allclose(report["initial_bias"], _log_priors(list(COUNTS.values())))
    rule = report["decision_rule"]
    assert rule["rule_requested"] == decision_rule.RULE and rule["protected_class_names"] == ["power", "heat"]
    assert rule["class_weights"][0] == 1.0 and len(rule["class_weights"]) == 4
    assert rule["min_precision"] == fixtures.run_config().parameters.threshold_min_precision
    assert rule["max_recall_loss"] == fixtures.run_config().parameters.decision_max_recall_loss
    assert set(rule["valid_per_class"]) == set(fixtures.CLASS_NAMES)
    assert "decision_threshold" not in report, "a multiclass model has no threshold"


def test_the_signature_serves_probabilities_weighted_scores_their_argmax_and_the_weights(trained, multiclass_examples):
    serving_dir, report = trained
    records = fixtures.eval_records(multiclass_examples, limit=200)
    outputs = fixtures.serve(serving_dir, records)
    assert set(outputs) == {
        serving.PROBABILITIES_OUTPUT,
        serving.DECISION_SCORES_OUTPUT,
        serving.CLASS_OUTPUT,
        serving.CLASS_WEIGHTS_OUTPUT,
    }
    probabilities = outputs[serving.PROBABILITIES_OUTPUT]
    scores = outputs[serving.DECISION_SCORES_OUTPUT]
    weights = np.float32(report["decision_rule"]["class_weights"])
    assert probabilities.shape == scores.shape == (len(records), 4)
    assert probabilities.dtype == scores.dtype == np.float32 and outputs[serving.CLASS_OUTPUT].dtype == np.int64
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
    np.testing.assert_array_equal(outputs[serving.CLASS_WEIGHTS_OUTPUT], np.tile(weights, (len(records), 1)))
    np.testing.assert_allclose(scores, decision_rule.decision_scores(probabilities, weights), rtol=1e-5, atol=1e-7)
    np.testing.assert_array_equal(outputs[serving.CLASS_OUTPUT], np.argmax(scores, axis=1))


def test_raw_examples_with_missing_values_unseen_categories_and_a_label_score(trained):
    serving_dir, _ = trained
    records = [
        fixtures.make_example({**KNOWN, fixtures.CATEGORICAL_KEY: "north"}, None),
        fixtures.make_example({**KNOWN, fixtures.NULLABLE_KEY: None, fixtures.CATEGORICAL_KEY: "north"}, None),
        fixtures.make_example({**KNOWN, fixtures.CATEGORICAL_KEY: "atlantis"}, None),
        fixtures.make_example({}, None),
        fixtures.make_example({**KNOWN, fixtures.CATEGORICAL_KEY: "north"}, 3),
    ]
    probabilities = fixtures.serve(serving_dir, records)[serving.PROBABILITIES_OUTPUT]
    assert np.all(np.isfinite(probabilities)) and np.all(probabilities > 0)
    assert not np.array_equal(probabilities[1], probabilities[0]), "a missing value is imputed and flagged"
    assert not np.array_equal(probabilities[2], probabilities[0]), "an unseen category is not a known one"
    np.testing.assert_array_equal(probabilities[4], probabilities[0])


def test_an_ensemble_bags_over_k_classes_cutting_only_the_largest(
    multiclass_transformed, multiclass_examples, tmp_path
):
    serving_dir, report = _train(
        multiclass_transformed,
        tmp_path,
        ensemble_members=2,
        ensemble_majority_fraction=0.3,
        max_epochs=1,
        loss="weighted_bce",
    )
    assert report["ensemble_members"] == 2 and len(report["epochs_run"]) == 2
    # Each member: the largest class (0) at 30%, the others whole.
    member = [COUNTS[0] * 0.3, COUNTS[1], COUNTS[2], COUNTS[3]]
    np.testing.assert_allclose(report["initial_bias"], _log_priors(member))
    np.testing.assert_allclose(report["loss_class_weights"], sum(member) / (4 * np.array(member)))
    outputs = fixtures.serve(serving_dir, fixtures.eval_records(multiclass_examples, limit=32))
    np.testing.assert_allclose(outputs[serving.PROBABILITIES_OUTPUT].sum(axis=1), 1.0, atol=1e-5)


def test_balanced_batches_give_each_class_an_equal_share(multiclass_transformed, tmp_path):
    _, report = _train(
        multiclass_transformed, tmp_path, balanced_batches=True, steps_per_epoch=5, max_epochs=1, loss="focal"
    )
    assert report["balanced_batches"] is True
    np.testing.assert_allclose(report["initial_bias"], [np.log(0.25)] * 4)
    np.testing.assert_allclose(report["focal_alpha_classes"], [0.25] * 4)


def test_a_label_beyond_the_class_names_fails_before_training(multiclass_transformed, tmp_path):
    three = dataclasses.replace(
        fixtures.multiclass_run_config(), class_names=fixtures.CLASS_NAMES[:3], protected_classes=(2,)
    )
    with pytest.raises(ValueError, match=r"48 training rows have a label that is not a class index 0..2"):
        fixtures.run_trainer(*multiclass_transformed, three, tmp_path)
