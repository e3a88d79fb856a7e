"""The multiclass (k >= 3) path of `run_fn`: count the classes, train, tune the decision rule, export.

It follows the binary path (`model.py`, `training.py`) step for step, with a softmax head
(`multiclass.py`) and, instead of a threshold, per-class weights tuned on `valid`
(`decision_rule.py`) and served with the probabilities (`serving.py`). Three ways to train, as
for binary, each deriving the bias and the loss weights from the class mix it trains on:

- one model on the training split's own mix (after Rebalance);
- balanced batches: each of the k classes an equal share (1/k) of every batch, drawn from one
  stream per class (`balanced_batches.py`); every class but the largest is cached in memory;
- an ensemble (balanced bagging over k classes): each member keeps its own seeded
  `ensemble_majority_fraction` of the largest class's rows and every row of the other classes,
  as the binary ensemble does with the negatives (the row-hash filter of `ensemble.py`, so the
  choice depends on the row alone); the members' probabilities are averaged. Cutting only the
  majority keeps a class that is rare but not protected from being cut to a handful of rows.
  At fraction 1.0 every member sees every row (seed bagging).

`trainer.model=gbt` trains gradient-boosted trees instead (`trees.py`: TF-DF's multinomial
boosting, k trees per iteration, with the same `gbt_*` settings as binary and balanced example
weights n / (k * count_c)); `mlp_gbt` trains both, the MLP as above, and averages their
probabilities. Every family goes through the same decision rule, export and training report.

The binary-only settings (`trainer.loss=pos_weight` or `auc`, mixed-recipe ensembles, topped-up
batches) are refused by `spec.TrainerRunConfig`. The binary
`threshold_*` settings do not apply, except `threshold_min_precision`, the decision rule's
precision floor (every protected class and every class it serves); `decision_max_recall_loss`
bounds the recall it may take from each unprotected class.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
import tensorflow as tf
import tensorflow_transform as tft
from absl import logging
from tfx import v1 as tfx

from components.trainer import balanced_batches, decision_rule, ensemble, inputs, multiclass, trees
from components.trainer.fitting import fit_with_early_stopping, train_bagged_members
from components.trainer.inputs import shuffle_buffer_rows, shuffled_batches, unstack_features
from components.trainer.multiclass import ClassMix
from components.trainer.network import ModelInputs
from components.trainer.serving import export_multiclass_serving_model, write_training_report
from components.trainer.spec import TrainerParameters, TrainerRunConfig

# As `training.py`: the rows each balanced-batch stream shuffles within.
_BALANCED_SHUFFLE_ROWS = 10_000


@dataclasses.dataclass(frozen=True)
class _Fitter:
    """What every model of a run shares: inputs, settings, protected classes and the validation batches."""

    features: ModelInputs
    parameters: TrainerParameters
    protected_classes: Tuple[int, ...]
    valid: tf.data.Dataset

    def fit(
        self, batches: tf.data.Dataset, mix: ClassMix, seed: int, steps_per_epoch: Optional[int], log_dir: str
    ) -> Tuple[tf.keras.Model, Dict[str, List[float]]]:
        """A softmax model for `mix`, fitted with early stopping on the protected classes' validation PR-AUC."""
        parameters = self.parameters
        model = multiclass.compile_model(
            multiclass.build_model(self.features, parameters, mix, seed), parameters, mix, self.protected_classes
        )
        return fit_with_early_stopping(model, batches, self.valid, parameters, steps_per_epoch, log_dir)


def majority_class(counts: Sequence[int]) -> int:
    """The largest class (the first of equals): the one class an ensemble member subsamples."""
    return max(range(len(counts)), key=lambda c: (counts[c], -c))


def member_mix(counts: Sequence[int], fraction: float) -> ClassMix:
    """An ensemble member's expected rows: the largest class times `fraction`, every other class whole."""
    majority = majority_class(counts)
    return ClassMix(tuple(n * fraction if c == majority else float(n) for c, n in enumerate(counts)))


def _loss_figures(parameters: TrainerParameters, mix: ClassMix) -> Dict[str, Any]:
    """The bias and the loss's class weights or alpha, as the training report states them."""
    figures: Dict[str, Any] = {"initial_bias": list(multiclass.initial_output_bias(parameters, mix))}
    if parameters.loss == "weighted_bce":
        figures["loss_class_weights"] = [weight for _, weight in sorted(mix.balanced_class_weights().items())]
    if parameters.loss == "focal":
        figures["focal_alpha_classes"] = list(multiclass.focal_alpha(parameters, mix))
    return figures


def _train_ensemble(
    fitter: _Fitter, counts: Sequence[int], train_rows: tf.data.Dataset, log_dir: str, cache_dir: str
) -> Tuple[tf.keras.Model, Dict[str, Any]]:
    parameters, keys = fitter.parameters, fitter.features.keys
    fraction = parameters.ensemble_majority_fraction
    mix = member_mix(counts, fraction)
    majority = majority_class(counts)
    kept_whole = tuple(float(c) for c in range(len(counts)) if c != majority)
    averaged, figures = train_bagged_members(
        lambda batches, seed, member_log_dir: fitter.fit(batches, mix, seed, None, member_log_dir),
        parameters,
        keys,
        ensemble.member_filters(parameters.seed, parameters.ensemble_members, fraction, minority_label=kept_whole),
        train_rows,
        buffer_rows=shuffle_buffer_rows(mix.rows, len(keys)),
        log_dir=log_dir,
        cache_dir=cache_dir,
        rows_seen=f"about {[round(count) for count in mix.counts]} rows per class",
    )
    return averaged, {
        **figures,
        **_loss_figures(parameters, mix),
    }


def _balanced_batches(
    keys: Tuple[str, ...], parameters: TrainerParameters, counts: Sequence[int], train_rows: tf.data.Dataset
) -> Tuple[tf.data.Dataset, ClassMix, int]:
    """Endless batches with each class an equal share, their mix, and the steps of one epoch."""
    k, rows = len(counts), sum(counts)
    labels = [float(c) for c in range(k)]
    largest = labels[int(np.argmax(counts))]
    batches = balanced_batches.balanced_dataset(
        balanced_batches.split_by_class(unstack_features(train_rows, keys), None, labels),
        {label: 1.0 / k for label in labels},
        parameters.batch_size,
        parameters.seed,
        shuffle_buffer=min(_BALANCED_SHUFFLE_ROWS, max(counts)),
        cache_classes=[label for label in labels if label != largest],
    )
    steps = parameters.steps_per_epoch or max(1, math.ceil(rows / parameters.batch_size))
    return batches, ClassMix((rows / k,) * k), steps


def train_model(
    features: ModelInputs,
    parameters: TrainerParameters,
    protected_classes: Sequence[int],
    counts: Sequence[int],
    train_rows: tf.data.Dataset,
    valid: tf.data.Dataset,
    log_dir: str,
    cache_dir: str,
) -> Tuple[tf.keras.Model, Dict[str, Any]]:
    """The family `trainer.model` names (MLP, trees, or both averaged); the model outputs k logits.

    `train_rows` are unbatched (feature vector, label) rows in `features.keys` order and `counts`
    their rows per class; MLP members that see a share of the rows cache them under `cache_dir`.
    """
    fitter = _Fitter(features, parameters, tuple(protected_classes), valid)
    return trees.train_family(
        parameters.model,
        lambda: _train_mlp(fitter, counts, train_rows, log_dir, cache_dir),
        lambda: trees.train_trees(features, parameters, counts, train_rows, valid),
        parameters.family_blend,
    )


def _train_mlp(
    fitter: _Fitter, counts: Sequence[int], train_rows: tf.data.Dataset, log_dir: str, cache_dir: str
) -> Tuple[tf.keras.Model, Dict[str, Any]]:
    """One softmax model, one on balanced batches, or an ensemble, as the parameters say."""
    features, parameters = fitter.features, fitter.parameters
    if parameters.ensemble_members > 1:
        return _train_ensemble(fitter, counts, train_rows, log_dir, cache_dir)
    steps: Optional[int] = None
    if parameters.balanced_batches:
        batches, mix, steps = _balanced_batches(features.keys, parameters, counts, train_rows)
    else:
        buffer_rows = shuffle_buffer_rows(sum(counts), len(features.keys))
        batches = shuffled_batches(train_rows, features.keys, parameters.batch_size, parameters.seed, buffer_rows)
        mix = ClassMix(tuple(float(n) for n in counts))
    model, history = fitter.fit(batches, mix, parameters.seed, steps, log_dir)
    return model, {
        "epochs_run": len(history["loss"]),
        "best_val_pr_auc": float(max(history["val_pr_auc"])),
        "val_pr_auc_history": [[float(value) for value in history["val_pr_auc"]]],
        "balanced_batches": parameters.balanced_batches,
        **_loss_figures(parameters, mix),
    }


def predict_probabilities(model: tf.keras.Model, dataset: tf.data.Dataset) -> Tuple[np.ndarray, np.ndarray]:
    """Labels and softmax probabilities [rows, k] of a split, batch by batch (the valid split fits in memory)."""
    labels, probabilities = [], []
    for features, label in dataset:
        probabilities.append(tf.nn.softmax(model(features, training=False), axis=-1).numpy())
        labels.append(label.numpy().reshape(-1))
    return np.concatenate(labels).astype(np.int64), np.concatenate(probabilities).astype(np.float32)


def tune_class_weights(
    labels: np.ndarray, probabilities: np.ndarray, protected_classes: Sequence[int], parameters: TrainerParameters
) -> decision_rule.DecisionRuleChoice:
    """The served class weights: `decision_rule` on the valid split, under the run's precision and recall bounds."""
    return decision_rule.choose_class_weights(
        labels,
        probabilities,
        protected_classes,
        min_precision=parameters.threshold_min_precision,
        max_recall_loss=parameters.decision_max_recall_loss,
    )


def train_and_export(
    fn_args: tfx.components.FnArgs,
    run: TrainerRunConfig,
    features: ModelInputs,
    transform_output: tft.TFTransformOutput,
    train_rows: tf.data.Dataset,
    valid: tf.data.Dataset,
    cache_dir: str,
) -> None:
    """Counts the classes, trains, tunes the class weights on `valid`, exports and writes the training report."""
    parameters, names = run.parameters, run.class_names
    # The counting pass reads the whole split once and so writes the cache that every epoch reads.
    counts = multiclass.count_classes(train_rows.batch(inputs.STATISTICS_BATCH_ROWS), len(names))
    multiclass.require_every_class(counts, names, run.label_key)
    logging.info("Training rows (after Rebalance) per class: %s", dict(zip(names, counts, strict=True)))

    model, figures = train_model(
        features, parameters, run.protected_classes, counts, train_rows, valid, fn_args.model_run_dir, cache_dir
    )
    labels, probabilities = predict_probabilities(model, valid)
    choice = tune_class_weights(labels, probabilities, run.protected_classes, parameters)
    logging.info(
        "Decision rule: class weights %s; %s", dict(zip(names, choice.class_weights, strict=True)), choice.message
    )
    export_multiclass_serving_model(
        model,
        features.keys,
        choice.class_weights,
        fn_args.serving_model_dir,
        transform_output=transform_output,
        label_key=run.label_key,
    )
    report: Dict[str, Any] = {
        **figures,
        "num_classes": len(names),
        "class_names": list(names),
        "protected_classes": list(run.protected_classes),
        "decision_rule": choice.to_report(names),
        "train_rows": sum(counts),
        "train_class_counts": dict(zip(names, counts, strict=True)),
        "model": parameters.model,
        # The trees minimise the multinomial log-likelihood; `trainer.loss` is the MLP's.
        "loss": parameters.loss if parameters.trains_mlp else trees.loss_name(parameters.model, multiclass=True),
    }
    write_training_report(fn_args.serving_model_dir, report)
