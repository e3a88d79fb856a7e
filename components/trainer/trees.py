"""Tree families (TensorFlow Decision Forests) on the Transform's output: `trainer.model=gbt|mlp_gbt|rf|mlp_rf`.

The trees train on the very rows the MLP trains on: the decoded-rows cache of `inputs.py` (the
rows Rebalance kept, after the Transform), batched back into one column per feature. Numeric
inputs (standardised numbers, missing-value indicators) are numerical features; a categorical
input's vocabulary id is a CATEGORICAL feature (integer ids, so no vocabulary is rebuilt); the
label is the int class index (0/1 for a binary label). Imbalance is handled either by the decision
rule tuned on `valid` alone (`gbt_example_weights=none`: the threshold, or for k >= 3 classes the
per-class weights of `decision_rule.py`) or also by balanced example weights n / (k * count_c)
(`balanced`; k = 2 for a binary label).

A binary label trains one tree per iteration on the binomial log-likelihood (one logit); k >= 3
classes train k trees per iteration on the multinomial log-likelihood (k logits, softmax), TF-DF's
native multiclass boosting. Both go through `fit_trees`; `train_family` serves `trainer.model`
(MLP, trees, or both with their probabilities averaged) for either label.

The random forest (`rf`, `mlp_rf`; either label) grows `rf_num_trees` unpruned trees, each on a
bootstrap sample with a random subset of the inputs at every split, unweighted: its score is the
mean of the leaves' class shares and the decision rule tuned on valid absorbs the imbalance. It
grows in seconds where boosting takes minutes (each tree is independent; benchmarks/RESULTS.md),
and its errors differ from the MLP's, which is what averaging the two needs.

Memory: TF-DF reads the whole training split into memory before it grows the first tree, so the
Trainer holds train rows x (features + label + weight) x 4 bytes (credit card: 170k rows x 31
columns, about 25 MB) plus the learner's own sorted copies; the `valid` split (its loss is logged,
and stops the growth with `gbt_early_stopping`) likewise. Fine for tables of this size, not for
billions of rows. Time: about 2.5 CPU seconds a tree on credit card (benchmarks/RESULTS.md).

The trained forest is rewritten as plain TensorFlow ops (`forest.py`), so the exported SavedModel
loads without TF-DF: it goes through the same serving path as the MLP (`serving.py`), and the
Evaluator, the gate and the Pusher see no difference.
"""

from __future__ import annotations

import time
from typing import Any, Callable, Dict, Mapping, Optional, Sequence, Tuple

import numpy as np
import tensorflow as tf
from absl import logging

from components.trainer import ensemble, forest
from components.trainer.inputs import unstack_features
from components.trainer.multiclass import ClassMix
from components.trainer.network import ModelInputs
from components.trainer.spec import MLP_MODELS, TrainerParameters

# Rows per batch fed to TF-DF; it concatenates them all, so this only bounds tf.data's step size.
FEED_BATCH_ROWS = 8192
# Trees TF-DF keeps growing after the valid loss last improved before it stops (its default).
EARLY_STOPPING_LOOK_AHEAD_TREES = 30


def _tfdf_columns(features: ModelInputs, weights: Optional[Mapping[int, float]]) -> Any:
    """A map from (feature dict of float32 [batch, 1], float label) to TF-DF's dtypes, with weights if given.

    `weights` maps every class index to its example weight; a row takes its class's.
    """
    categorical = {key for key, _ in features.categorical_ids}
    by_class = None if weights is None else tf.constant([weights[c] for c in range(len(weights))], tf.float32)

    def convert(columns, label):
        converted = {key: tf.cast(value, tf.int64) if key in categorical else value for key, value in columns.items()}
        label = tf.cast(tf.reshape(label, [-1]), tf.int64)
        if by_class is None:
            return converted, label
        return converted, label, tf.gather(by_class, label)

    return convert


def _learner(features: ModelInputs, parameters: TrainerParameters) -> Any:
    """TF-DF's learner of `parameters.tree_family`, on the model's inputs only."""
    import tensorflow_decision_forests as tfdf

    usages = [
        tfdf.keras.FeatureUsage(key, semantic=tfdf.keras.FeatureSemantic.CATEGORICAL)
        for key, _ in features.categorical_ids
    ]
    usages += [
        tfdf.keras.FeatureUsage(key, semantic=tfdf.keras.FeatureSemantic.NUMERICAL) for key in features.numeric_keys
    ]
    common = dict(
        task=tfdf.keras.Task.CLASSIFICATION,
        features=usages,
        exclude_non_specified_features=True,
        random_seed=parameters.seed,
        # No temp_directory: TF-DF's working copy of the model goes to a local temporary folder it
        # removes itself, not into the ModelRun artifact (the exported graph is all that is kept).
        verbose=1,
    )
    if parameters.tree_family == "rf":
        return tfdf.keras.RandomForestModel(
            num_trees=parameters.rf_num_trees,
            max_depth=parameters.rf_max_depth,
            min_examples=parameters.rf_min_examples,
            winner_take_all=False,
            **common,
        )
    return tfdf.keras.GradientBoostedTreesModel(
        num_trees=parameters.gbt_num_trees,
        max_depth=parameters.gbt_max_depth,
        shrinkage=parameters.gbt_shrinkage,
        min_examples=parameters.gbt_min_examples,
        l2_regularization=parameters.gbt_l2_regularization,
        early_stopping="LOSS_INCREASE" if parameters.gbt_early_stopping else "NONE",
        early_stopping_num_trees_look_ahead=EARLY_STOPPING_LOOK_AHEAD_TREES,
        **common,
    )


Trained = Tuple[tf.keras.Model, Dict[str, Any]]


def train_trees(
    features: ModelInputs,
    parameters: TrainerParameters,
    counts: Sequence[int],
    train_rows: tf.data.Dataset,
    valid: tf.data.Dataset,
) -> Trained:
    """The forest of `parameters.tree_family` (`fit_trees`); boosted trees weighted n / (k * count_c) when `balanced`.

    `counts` are the training rows of each class, in class-index order (every class present): for
    a binary label (negatives, positives), k = 2, and the model outputs one logit; else k logits.
    The random forest is unweighted.
    """
    weights = (
        ClassMix(tuple(float(count) for count in counts)).balanced_class_weights()
        if parameters.tree_family == "gbt" and parameters.gbt_example_weights == "balanced"
        else None
    )
    return fit_trees(features, parameters, weights, train_rows, valid)


def fit_trees(
    features: ModelInputs,
    parameters: TrainerParameters,
    weights: Optional[Mapping[int, float]],
    train_rows: tf.data.Dataset,
    valid: tf.data.Dataset,
) -> Trained:
    """Trains the forest on `train_rows` (boosting: early-stopping on `valid`); a model that outputs the logit(s).

    `train_rows` are unbatched (feature vector, label) rows in `features.keys` order (the
    decoded-rows cache, `inputs.disk_cached_rows`); `valid` yields batches of one float32 column
    per feature and the label (`inputs.read_split`); `weights` maps each class index to its
    example weight (None: unweighted). The labels decide binary or multiclass: TF-DF infers the
    classes. The returned model takes the MLP's inputs, so the decision rule, averaging with the
    MLP and serving are shared. Figures for the training report too.
    """
    train = unstack_features(train_rows.batch(FEED_BATCH_ROWS), features.keys).map(_tfdf_columns(features, weights))
    # The valid loss that stops the growth is weighted like the training loss, so both measure one objective.
    validation = valid.map(_tfdf_columns(features, weights))
    learner = _learner(features, parameters)
    family = parameters.tree_family
    started = time.monotonic()
    if family == "gbt":
        # Always given: without it TF-DF would hold out 10% of the training rows for its validation loss.
        learner.fit(train, validation_data=validation, verbose=0)
    else:
        # A random forest holds nothing out and stops at its tree count: no validation data.
        learner.fit(train, verbose=0)
    seconds = time.monotonic() - started
    inspector = learner.make_inspector()
    flat = forest.flatten_forest(inspector, features.keys, [key for key, _ in features.categorical_ids])
    model = forest.forest_model(flat, features.keys)
    figures: Dict[str, Any] = {
        f"{family}_trees": flat.trees,
        f"{family}_depth": flat.depth,
        f"{family}_nodes": int(flat.feature.size),
    }
    if family == "gbt":
        logs = inspector.training_logs()
        last = logs[-1].evaluation if logs else None
        figures.update(
            {
                "gbt_trees_requested": parameters.gbt_num_trees,
                "gbt_example_weights": parameters.gbt_example_weights,
                "gbt_class_weights": {str(label): weight for label, weight in (weights or {}).items()},
                "gbt_validation_loss": float(last.loss) if last is not None and last.loss is not None else None,
            }
        )
    # The fit's seconds go to the log only: the training report is part of the model, the same bytes on every run.
    logging.info("Trees (%s), fit in %.1f s: %s", family, seconds, figures)
    _check_forest_matches_learner(learner, model, validation)
    return model, figures


def loss_name(family: str, multiclass: bool) -> str:
    """What a model of trees alone minimises, for the training report (`trainer.loss` is the MLP's)."""
    if family == "rf":
        return "none (random forest: each tree's information gain)"
    return "multinomial_log_likelihood" if multiclass else "binomial_log_likelihood"


# `trainer.family_blend` -> the `ensemble.average_members` output that serves it (one per FAMILY_BLENDS).
_BLEND_OUTPUTS = {"probability": "logit", "logit": "mean_logit"}


def train_family(
    model: str, train_mlp: Callable[[], Trained], train_trees: Callable[[], Trained], blend: str
) -> Trained:
    """The MLP (ensemble), the trees, or both averaged, per `trainer.model`: a logit model and its figures.

    Shared by the binary and the multiclass path, which differ only in how each family trains.
    `mlp_gbt` and `mlp_rf` average the two models (`ensemble.average_members`) as `trainer.family_blend`
    says: blend "probability" outputs the logit of the mean probability, so the serving signature's
    sigmoid (softmax for k classes) gives that mean exactly; "logit" outputs the mean of the logits.
    """
    mlp: Optional[tf.keras.Model] = None
    figures: Dict[str, Any] = {}
    if model in MLP_MODELS:
        mlp, figures = train_mlp()
        if model == "mlp":
            return mlp, figures
    trees, tree_figures = train_trees()
    figures.update(tree_figures)
    if mlp is None:
        # The run summary prints epochs; trees have none.
        figures["epochs_run"] = f"n/a ({tree_figures[f'{model}_trees']} trees)"
        return trees, figures
    # In the training report beside `model`, so a served blend can be told from the other.
    figures["family_blend"] = blend
    return ensemble.average_members([mlp, trees], output=_BLEND_OUTPUTS[blend]), figures


def _check_forest_matches_learner(learner: Any, model: tf.keras.Model, validation: tf.data.Dataset) -> None:
    """The exported graph must give TF-DF's own probabilities on `valid`; a mismatch stops the Trainer.

    Run once per training on the first valid batch: a cheap guard that the tree rewrite and the
    learner agree (conditions, category shift, initial prediction) on real rows.
    """
    for columns, *_ in validation.take(1):
        # Binary: [batch, 1] probability of class 1 against the sigmoid; k classes: [batch, k] against the softmax.
        expected = np.asarray(learner(columns, training=False)).reshape(-1)
        as_floats = {key: tf.cast(value, tf.float32) for key, value in columns.items()}
        logits = model(as_floats, training=False)
        served = (tf.sigmoid(logits) if logits.shape[-1] == 1 else tf.nn.softmax(logits, axis=-1)).numpy().reshape(-1)
        gap = float(np.max(np.abs(expected - served))) if expected.size else 0.0
        if gap > 1e-4:
            raise forest.ForestError(
                f"the rewritten forest differs from TF-DF's prediction by up to {gap:.3g} on the valid split"
            )
