"""The Trainer's ways to train: one model, one model on balanced batches, or an ensemble.

Each path fits with early stopping on validation PR-AUC and derives the loss weights and the
initial bias from the class mix it trains on: the training split's counts as the Trainer reads
it (after Rebalance); for balanced batches, the batch mix; for an ensemble member, every
positive and its expected share of the negatives. Mixed-strategy ensembles (`ensemble_recipes`)
train in `mixed_ensemble.py`; batches topped up with positives (`min_batch_positives`) come
from `positive_batches.py`.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Dict, List, Optional, Tuple

import tensorflow as tf

from components.trainer import balanced_batches, ensemble, mixed_ensemble, positive_batches
from components.trainer.fitting import fit_with_early_stopping, train_bagged_members
from components.trainer.inputs import TrainingStatistics, shuffle_buffer_rows, unstack_features
from components.trainer.network import ClassBalance, ModelInputs, build_model, compile_model, initial_output_bias
from components.trainer.spec import TrainerParameters

# Negatives each balanced-batch class stream shuffles within.
_BALANCED_SHUFFLE_ROWS = 10_000


@dataclasses.dataclass(frozen=True)
class Fitter:
    """What every model a run trains shares: its inputs, its settings and the validation batches."""

    features: ModelInputs
    parameters: TrainerParameters
    valid: tf.data.Dataset

    def fit(
        self, batches: tf.data.Dataset, balance: ClassBalance, seed: int, steps_per_epoch: Optional[int], log_dir: str
    ) -> Tuple[tf.keras.Model, Dict[str, List[float]]]:
        """Builds a model for `balance` and fits it with early stopping on validation PR-AUC (best epoch's weights)."""
        parameters = self.parameters
        model = compile_model(build_model(self.features, parameters, balance, seed), parameters, balance)
        return fit_with_early_stopping(model, batches, self.valid, parameters, steps_per_epoch, log_dir)


def _bias_figure(parameters: TrainerParameters, balance: ClassBalance) -> float:
    return initial_output_bias(balance) if parameters.initial_bias else 0.0


def _train_ensemble(
    fitter: Fitter, stats: TrainingStatistics, train_rows: tf.data.Dataset, log_dir: str, cache_dir: Optional[str]
) -> Tuple[tf.keras.Model, Dict[str, Any]]:
    """Members on every positive and a seeded share of the negatives, averaged into one logit model."""
    parameters = fitter.parameters
    buffer_rows = shuffle_buffer_rows(stats.rows, len(fitter.features.keys))
    fraction = parameters.ensemble_majority_fraction
    member_balance = ClassBalance(stats.positives, stats.negatives * fraction)
    averaged, figures = train_bagged_members(
        lambda batches, seed, member_log_dir: fitter.fit(batches, member_balance, seed, None, member_log_dir),
        parameters,
        fitter.features.keys,
        ensemble.member_filters(parameters.seed, parameters.ensemble_members, fraction),
        train_rows,
        buffer_rows=buffer_rows,
        log_dir=log_dir,
        cache_dir=cache_dir,
        rows_seen=f"{stats.positives} positive and about {round(member_balance.negatives)} negative rows",
    )
    return averaged, {
        **figures,
        "initial_bias": _bias_figure(parameters, member_balance),
    }


def _balanced_batches(
    feature_keys: Tuple[str, ...], parameters: TrainerParameters, stats: TrainingStatistics, train_rows: tf.data.Dataset
) -> Tuple[tf.data.Dataset, ClassBalance, int]:
    """Endless batches with `batch_positive_share` positives, their class mix, and the steps of one epoch."""
    share = parameters.batch_positive_share
    per_class = balanced_batches.split_by_class(unstack_features(train_rows, feature_keys), None, [0.0, 1.0])
    batches = balanced_batches.balanced_dataset(
        per_class,
        {1.0: share, 0.0: 1.0 - share},
        parameters.batch_size,
        parameters.seed,
        shuffle_buffer=min(_BALANCED_SHUFFLE_ROWS, max(1, stats.negatives)),
        cache_classes=[1.0],
    )
    balance = ClassBalance(stats.rows * share, stats.rows * (1.0 - share))
    steps = parameters.steps_per_epoch or max(1, math.ceil(stats.rows / parameters.batch_size))
    return batches, balance, steps


def train_model(
    features: ModelInputs,
    parameters: TrainerParameters,
    stats: TrainingStatistics,
    train_rows: tf.data.Dataset,
    valid: tf.data.Dataset,
    log_dir: str,
    cache_dir: Optional[str] = None,
) -> Tuple[tf.keras.Model, Dict[str, Any]]:
    """Trains one model, balanced-batch model or ensemble, as the parameters say.

    `train_rows` are unbatched (feature vector, label) rows in `features.keys` order (see
    `inputs.disk_cached_rows`) and `stats` their class counts. Returns a Keras model that outputs a
    logit, and figures for the training report. Ensemble members that see a share of the
    negatives cache their rows under `cache_dir` (default: `log_dir`).
    """
    return train_with(Fitter(features, parameters, valid), stats, train_rows, log_dir, cache_dir)


def train_with(
    fitter: Fitter, stats: TrainingStatistics, train_rows: tf.data.Dataset, log_dir: str, cache_dir: Optional[str]
) -> Tuple[tf.keras.Model, Dict[str, Any]]:
    """`train_model` given the run's `Fitter` (its inputs, settings and validation batches)."""
    features, parameters = fitter.features, fitter.parameters
    if parameters.ensemble_recipes or (parameters.ensemble_members > 1 and parameters.min_batch_positives):
        # Mixed recipes, or the classic ensemble as recipes when its batches are topped up with positives.
        return mixed_ensemble.train_mixed_ensemble(fitter, stats, train_rows, log_dir, cache_dir or log_dir)
    if parameters.ensemble_members > 1:
        return _train_ensemble(fitter, stats, train_rows, log_dir, cache_dir)
    feature_keys = features.keys
    steps: Optional[int]
    if parameters.balanced_batches:
        batches, balance, steps = _balanced_batches(feature_keys, parameters, stats, train_rows)
    else:
        # Reshuffled every epoch; topped up to min_batch_positives positives a batch when that is set.
        batches, balance = positive_batches.batches_for(train_rows, feature_keys, stats, parameters, parameters.seed)
        steps = None
    model, history = fitter.fit(batches, balance, parameters.seed, steps, log_dir)
    return model, {
        "epochs_run": len(history["loss"]),
        "best_val_pr_auc": float(max(history["val_pr_auc"])),
        "val_pr_auc_history": [[float(value) for value in history["val_pr_auc"]]],
        "initial_bias": _bias_figure(parameters, balance),
        "balanced_batches": parameters.balanced_batches,
        "min_batch_positives": parameters.min_batch_positives,
    }
