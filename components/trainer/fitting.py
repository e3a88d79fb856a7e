"""What fitting an MLP means on both label paths (binary `training.py`, k-class `multiclass_training.py`).

Every MLP the Trainer fits stops early on validation PR-AUC and keeps its best epoch's weights;
an ensemble's members get seeds `MEMBER_SEED_STRIDE` apart, one log folder each, and the same
figures in the training report. Balanced bagging (`ensemble_members` > 1) trains its members
the same way for either label; only the model, its class mix and the log line differ, so the
callers pass those in.
"""

from __future__ import annotations

import os
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple

import tensorflow as tf
from absl import logging
from tfx.dsl.io import fileio

from components.common.progress import PROGRESS_PREFIX
from components.trainer import ensemble
from components.trainer.inputs import shuffled_batches, unstack_features
from components.trainer.spec import TrainerParameters

# Spacing between ensemble members' seeds: wider than a model's layer-seed offsets, so no two members share one.
MEMBER_SEED_STRIDE = 7919

History = Dict[str, List[float]]
# (batches, seed, log folder) -> the fitted model and its history: one member's fit, its class mix bound.
FitMember = Callable[[tf.data.Dataset, int, str], Tuple[tf.keras.Model, History]]


def member_seed(seed: int, member: int) -> int:
    """Member `member`'s seed (0-based) under the run's `seed`; never the run's own seed."""
    return seed + MEMBER_SEED_STRIDE * (member + 1)


def fit_with_early_stopping(
    model: tf.keras.Model,
    batches: tf.data.Dataset,
    valid: tf.data.Dataset,
    parameters: TrainerParameters,
    steps_per_epoch: Optional[int],
    log_dir: str,
) -> Tuple[tf.keras.Model, History]:
    """Fits a compiled model with early stopping on validation PR-AUC, restoring the best epoch's weights."""
    early_stopping = tf.keras.callbacks.EarlyStopping(
        monitor="val_pr_auc", mode="max", patience=parameters.early_stopping_patience, restore_best_weights=True
    )
    history = model.fit(
        batches,
        validation_data=valid,
        epochs=parameters.max_epochs,
        steps_per_epoch=steps_per_epoch,
        callbacks=[early_stopping, tf.keras.callbacks.TensorBoard(log_dir=log_dir)],
        verbose=2,
    )
    return model, history.history


def member_figures(histories: Sequence[History]) -> Dict[str, Any]:
    """Per member: epochs run, best validation PR-AUC and, per epoch, the learning curves of the run report."""
    return {
        "epochs_run": [len(history["loss"]) for history in histories],
        "best_val_pr_auc": [float(max(history["val_pr_auc"])) for history in histories],
        "val_pr_auc_history": [[float(value) for value in history["val_pr_auc"]] for history in histories],
    }


def train_bagged_members(
    fit: FitMember,
    parameters: TrainerParameters,
    keys: Tuple[str, ...],
    filters: Iterable[Callable[..., tf.Tensor]],
    train_rows: tf.data.Dataset,
    buffer_rows: int,
    log_dir: str,
    cache_dir: Optional[str],
    rows_seen: str,
) -> Tuple[tf.keras.Model, Dict[str, Any]]:
    """Balanced bagging: one member per row filter (`ensemble.member_filters`), averaged into one logit model.

    At `ensemble_majority_fraction` 1.0 every member sees every row (seed bagging: members differ
    by initial weights and batch order). Below it, a member's rows are selected in one pass over
    the split and cached on disk (under `cache_dir`, else the member's log folder); later epochs
    read the cache, not the whole split. `rows_seen` describes a member's rows for the progress log.
    Returns the averaged model and the members' figures.
    """
    members, histories = [], []
    for member, keep in enumerate(filters):
        logging.info(
            "%sensemble member %d/%d on %s", PROGRESS_PREFIX, member + 1, parameters.ensemble_members, rows_seen
        )
        seed = member_seed(parameters.seed, member)
        member_log_dir = os.path.join(log_dir, f"member_{member}")
        fileio.makedirs(member_log_dir)
        if parameters.ensemble_majority_fraction >= 1.0:
            batches = shuffled_batches(train_rows, keys, parameters.batch_size, seed, buffer_rows)
        else:
            rows = (
                unstack_features(train_rows, keys)
                .filter(keep)
                .cache(os.path.join(cache_dir or member_log_dir, f"member_{member}"))
            )
            batches = rows.shuffle(buffer_rows, seed=seed, reshuffle_each_iteration=True).batch(parameters.batch_size)
        model, history = fit(batches, seed, member_log_dir)
        members.append(model)
        histories.append(history)
    figures = {"ensemble_members": parameters.ensemble_members, **member_figures(histories)}
    return ensemble.average_members(members, output="logit"), figures
