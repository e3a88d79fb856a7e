"""The TFX Trainer's `run_fn`: a small MLP for imbalanced binary labels.

What it does, in order:
1. one streaming pass over the training split for feature means/variances and
   class counts (the counts after Rebalance, which are what the loss must weigh);
2. builds an MLP whose output bias starts at log(pos/neg), so training does not
   spend its first epochs learning the base rate;
3. trains with the configured loss and early stopping on validation PR-AUC;
4. picks the decision threshold on the `valid` split (never on `eval`);
5. exports a SavedModel whose serving signature parses tf.Examples and returns the
   probability, the decision at that threshold and the threshold itself.

Settings arrive in `fn_args.custom_config` (built from `TrainerConfig` by
`pipeline.pipeline`), class statistics from ClassSkew through
`fn_args.hyperparameters`.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import shutil
import tempfile
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np
import tensorflow as tf
from absl import logging
from tensorflow_metadata.proto.v0 import schema_pb2
from tfx import v1 as tfx
from tfx.dsl.io import fileio
from tfx_bsl.public import tfxio

from components.trainer import balanced_batches, ensemble, losses, threshold

PROBABILITY_OUTPUT = "probability"
DECISION_OUTPUT = "decision"
THRESHOLD_OUTPUT = "threshold"
SERVING_INPUT = "examples"
# Written next to the SavedModel's assets so the run summary and the Evaluator gate can read it.
TRAINING_REPORT_FILE = "training_report.json"
# Memory the per-epoch shuffle buffer may hold. The decoded rows are cached on local disk; the buffer
# holds min(rows, budget / bytes per row) of them: a split of up to ~350k rows of 30 features is
# shuffled completely every epoch, a larger one within a window that size, so that batches mix the
# whole split as far as memory allows. (On the credit-card data a 50k-row window and the whole
# split, each after its own ExampleGen run, both scored eval ROC-AUC 0.962 with plain BCE: no
# measured gain; two ExampleGen runs alone moved it by 0.005, see benchmarks/RESULTS.md.)
SHUFFLE_BUFFER_BYTES = 128 * 1024 * 1024
# A row in the buffer: float32 features and label, plus tf.data's per-tensor overhead (measured order).
_ROW_OVERHEAD_BYTES = 256
_STATISTICS_BATCH_ROWS = 8192


class TrainingDataError(ValueError):
    """The training data cannot train a classifier (for example, it has no positives)."""


@dataclasses.dataclass(frozen=True)
class TrainerSettings:
    """The subset of `pipeline.config.TrainerConfig` plus names that `run_fn` needs."""

    label_key: str
    feature_keys: Tuple[str, ...]
    loss: str
    pos_weight: Optional[float]
    focal_alpha: float
    focal_gamma: float
    initial_bias: bool
    hidden_units: Tuple[int, ...]
    dropout: float
    learning_rate: float
    batch_size: int
    max_epochs: int
    early_stopping_patience: int
    threshold_rule: str
    threshold_min_recall: float
    threshold_min_precision: float
    threshold_fallback: str
    balanced_batches: bool
    batch_positive_share: float
    ensemble_members: int
    ensemble_majority_fraction: float
    steps_per_epoch: Optional[int]
    seed: int

    @classmethod
    def from_custom_config(cls, custom_config: Mapping[str, Any]) -> TrainerSettings:
        fields = {field.name for field in dataclasses.fields(cls)}
        missing = sorted(fields - set(custom_config))
        if missing:
            raise ValueError(f"Trainer custom_config is missing {missing}; build it with pipeline.pipeline")
        values = {name: custom_config[name] for name in fields}
        values["feature_keys"] = tuple(values["feature_keys"])
        values["hidden_units"] = tuple(values["hidden_units"])
        return cls(**values)


@dataclasses.dataclass(frozen=True)
class TrainingStatistics:
    """Streaming statistics of the training split."""

    rows: int
    positives: int
    mean: np.ndarray
    variance: np.ndarray

    @property
    def negatives(self) -> int:
        return self.rows - self.positives


def _model_schema(schema: schema_pb2.Schema, keep: Sequence[str]) -> schema_pb2.Schema:
    """The schema restricted to the model's inputs and label, so TFXIO decodes nothing else."""
    wanted = set(keep)
    found = {feature.name for feature in schema.feature}
    missing = sorted(wanted - found)
    if missing:
        raise ValueError(f"schema lacks features {missing}; found {sorted(found)}")
    narrowed = schema_pb2.Schema()
    narrowed.CopyFrom(schema)
    del narrowed.feature[:]
    narrowed.feature.extend(feature for feature in schema.feature if feature.name in wanted)
    return narrowed


def _dataset(
    file_pattern: List[str],
    data_accessor: tfx.components.DataAccessor,
    schema: schema_pb2.Schema,
    settings: TrainerSettings,
    shuffle: bool,
) -> tf.data.Dataset:
    options = tfxio.TensorFlowDatasetOptions(
        batch_size=settings.batch_size,
        label_key=settings.label_key,
        num_epochs=1,
        shuffle=shuffle,
        shuffle_seed=settings.seed,
        sloppy_ordering=False,
    )
    dataset = data_accessor.tf_dataset_factory(file_pattern, options, schema)
    keys = settings.feature_keys
    return dataset.map(
        lambda features, label: (
            {key: tf.cast(features[key], tf.float32) for key in keys},
            tf.cast(label, tf.float32),
        )
    )


def _stack_features(batches: tf.data.Dataset, feature_keys: Sequence[str]) -> tf.data.Dataset:
    """Feature dicts -> one [batch, features] matrix: a row is then two tensors, cheap to unbatch and cache."""
    return batches.map(lambda features, label: (tf.concat([features[key] for key in feature_keys], axis=1), label))


def _unstack_features(dataset: tf.data.Dataset, feature_keys: Sequence[str]) -> tf.data.Dataset:
    """Stacked features -> a dict of one column per feature; for batches ([batch, features]) and rows alike."""
    return dataset.map(
        lambda stacked, label: ({key: stacked[..., index : index + 1] for index, key in enumerate(feature_keys)}, label)
    )


def disk_cached_rows(batches: tf.data.Dataset, feature_keys: Sequence[str], cache_path: str) -> tf.data.Dataset:
    """Rows (feature matrix row, label) of a split, decoded once and cached in a file on disk.

    Parsing gzip-compressed tf.Examples was ~90% of an epoch's time; reading the decoded cache
    costs a fraction of that. The cache is on disk, so memory stays one shuffle buffer whatever
    the split's size. The first full pass (the statistics pass) writes it.
    """
    return _stack_features(batches, feature_keys).unbatch().cache(cache_path)


def shuffle_buffer_rows(rows: float, feature_count: int) -> int:
    """Rows the shuffle buffer holds: all of them, or as many as SHUFFLE_BUFFER_BYTES allows."""
    per_row = 4 * (feature_count + 1) + _ROW_OVERHEAD_BYTES
    return int(max(1, min(math.ceil(rows), SHUFFLE_BUFFER_BYTES // per_row)))


def shuffled_batches(
    rows: tf.data.Dataset, feature_keys: Sequence[str], batch_size: int, seed: int, buffer_rows: int
) -> tf.data.Dataset:
    """Batches of cached rows, reshuffled every epoch from a seed (same seed, same batches)."""
    shuffled = rows.shuffle(buffer_rows, seed=seed, reshuffle_each_iteration=True)
    return _unstack_features(shuffled.batch(batch_size), feature_keys)


def compute_training_statistics(dataset: tf.data.Dataset, feature_keys: Sequence[str]) -> TrainingStatistics:
    """Means, variances and class counts in one pass; memory is one batch."""
    width = len(feature_keys)

    def accumulate(state, batch):
        count, positives, total, total_sq = state
        features, label = batch
        matrix = tf.cast(tf.concat([features[key] for key in feature_keys], axis=1), tf.float64)
        return (
            count + tf.cast(tf.shape(matrix)[0], tf.int64),
            positives + tf.cast(tf.reduce_sum(tf.cast(label > 0.5, tf.int64)), tf.int64),
            total + tf.reduce_sum(matrix, axis=0),
            total_sq + tf.reduce_sum(tf.square(matrix), axis=0),
        )

    initial = (
        tf.constant(0, tf.int64),
        tf.constant(0, tf.int64),
        tf.zeros([width], tf.float64),
        tf.zeros([width], tf.float64),
    )
    count, positives, total, total_sq = (value.numpy() for value in dataset.reduce(initial, accumulate))
    if count == 0:
        raise TrainingDataError("the training split is empty")
    mean = total / count
    variance = np.maximum(total_sq / count - np.square(mean), 0.0)
    return TrainingStatistics(rows=int(count), positives=int(positives), mean=mean, variance=variance)


@dataclasses.dataclass(frozen=True)
class ClassBalance:
    """Expected positives and negatives the model sees per epoch: what the loss weights and bias follow.

    Equal to the split's counts, except where the input pipeline changes the mix
    (balanced batches, an ensemble member's share of negatives).
    """

    positives: float
    negatives: float

    @property
    def rows(self) -> float:
        return self.positives + self.negatives


def class_weights(balance: ClassBalance) -> Dict[int, float]:
    """Balanced weights n / (k * count_c), as scikit-learn's `class_weight='balanced'`."""
    return {
        0: balance.rows / (2.0 * balance.negatives),
        1: balance.rows / (2.0 * balance.positives),
    }


def initial_output_bias(balance: ClassBalance) -> float:
    """log(pos/neg): the logit of the base rate, so an untrained model predicts the base rate."""
    return math.log(balance.positives / balance.negatives)


def build_model(
    settings: TrainerSettings, stats: TrainingStatistics, balance: ClassBalance, seed: int
) -> tf.keras.Model:
    """MLP on the numeric features, normalised with the training split's moments; outputs a logit."""
    inputs = {key: tf.keras.layers.Input(shape=(1,), name=key, dtype=tf.float32) for key in settings.feature_keys}
    stacked = tf.keras.layers.Concatenate(name="stack_features")([inputs[key] for key in settings.feature_keys])
    hidden = tf.keras.layers.Normalization(
        mean=stats.mean.astype(np.float32), variance=stats.variance.astype(np.float32), name="normalize"
    )(stacked)
    initializer_seed = seed
    for index, units in enumerate(settings.hidden_units):
        hidden = tf.keras.layers.Dense(
            units,
            activation="relu",
            kernel_initializer=tf.keras.initializers.GlorotUniform(seed=initializer_seed + index),
            name=f"hidden_{index}",
        )(hidden)
        if settings.dropout > 0:
            hidden = tf.keras.layers.Dropout(settings.dropout, seed=initializer_seed + 100 + index)(hidden)
    bias = initial_output_bias(balance) if settings.initial_bias else 0.0
    logit = tf.keras.layers.Dense(
        1,
        kernel_initializer=tf.keras.initializers.GlorotUniform(seed=initializer_seed + 1000),
        bias_initializer=tf.keras.initializers.Constant(bias),
        name="logit",
    )(hidden)
    return tf.keras.Model(inputs=inputs, outputs=logit)


def make_loss_for(settings: TrainerSettings, balance: ClassBalance) -> tf.keras.losses.Loss:
    pos_weight = settings.pos_weight
    if settings.loss == "pos_weight" and pos_weight is None:
        pos_weight = balance.negatives / balance.positives
    return losses.make_loss(
        settings.loss,
        pos_weight=pos_weight,
        class_weights=class_weights(balance),
        focal_alpha=settings.focal_alpha,
        focal_gamma=settings.focal_gamma,
    )


def _predict_probabilities(model: tf.keras.Model, dataset: tf.data.Dataset) -> Tuple[np.ndarray, np.ndarray]:
    """Labels and probabilities of a split, batch by batch (the valid split fits in memory)."""
    labels, scores = [], []
    for features, label in dataset:
        logits = model(features, training=False)
        scores.append(tf.sigmoid(logits).numpy().reshape(-1))
        labels.append(label.numpy().reshape(-1))
    return np.concatenate(labels).astype(np.int64), np.concatenate(scores).astype(np.float64)


class _ServingModule(tf.Module):
    """Holds the model and the threshold so the SavedModel tracks both."""

    def __init__(self, model: tf.keras.Model, feature_keys: Sequence[str], decision_threshold: float):
        super().__init__()
        self.model = model
        self.decision_threshold = tf.Variable(decision_threshold, dtype=tf.float32, trainable=False, name="threshold")
        self._feature_spec = {key: tf.io.FixedLenFeature([1], tf.float32) for key in feature_keys}

    @tf.function(input_signature=[tf.TensorSpec(shape=[None], dtype=tf.string, name=SERVING_INPUT)])
    def serve(self, serialized_examples):
        parsed = tf.io.parse_example(serialized_examples, self._feature_spec)
        probability = tf.sigmoid(self.model(parsed, training=False))
        decision = tf.cast(probability >= self.decision_threshold, tf.float32)
        threshold_column = tf.fill(tf.shape(probability), self.decision_threshold)
        return {PROBABILITY_OUTPUT: probability, DECISION_OUTPUT: decision, THRESHOLD_OUTPUT: threshold_column}


def export_serving_model(
    model: tf.keras.Model, feature_keys: Sequence[str], decision_threshold: float, export_dir: str
) -> None:
    """SavedModel with `serving_default`: serialized tf.Example -> probability, decision, threshold."""
    module = _ServingModule(model, feature_keys, decision_threshold)
    tf.saved_model.save(module, export_dir, signatures={"serving_default": module.serve})


def _compile(model: tf.keras.Model, settings: TrainerSettings, balance: ClassBalance) -> tf.keras.Model:
    model.compile(
        optimizer=tf.keras.optimizers.Adam(settings.learning_rate),
        loss=make_loss_for(settings, balance),
        metrics=[
            tf.keras.metrics.AUC(curve="PR", from_logits=True, name="pr_auc"),
            tf.keras.metrics.AUC(curve="ROC", from_logits=True, name="roc_auc"),
        ],
    )
    return model


def _fit(
    model: tf.keras.Model,
    settings: TrainerSettings,
    train: tf.data.Dataset,
    valid: tf.data.Dataset,
    steps_per_epoch: Optional[int],
    log_dir: str,
) -> Dict[str, List[float]]:
    """Fits with early stopping on validation PR-AUC, keeping the best epoch's weights."""
    early_stopping = tf.keras.callbacks.EarlyStopping(
        monitor="val_pr_auc", mode="max", patience=settings.early_stopping_patience, restore_best_weights=True
    )
    history = model.fit(
        train,
        validation_data=valid,
        epochs=settings.max_epochs,
        steps_per_epoch=steps_per_epoch,
        callbacks=[early_stopping, tf.keras.callbacks.TensorBoard(log_dir=log_dir)],
        verbose=2,
    )
    return history.history


def _epoch_steps(settings: TrainerSettings, rows: float) -> int:
    return settings.steps_per_epoch or max(1, math.ceil(rows / settings.batch_size))


def train_model(
    settings: TrainerSettings,
    stats: TrainingStatistics,
    train_rows: tf.data.Dataset,
    valid: tf.data.Dataset,
    log_dir: str,
    cache_dir: Optional[str] = None,
) -> Tuple[tf.keras.Model, Dict[str, Any]]:
    """Trains one model, balanced-batch model or ensemble, as the settings say.

    `train_rows` are unbatched (feature vector, label) rows in `settings.feature_keys` order (see
    `disk_cached_rows`). Returns a Keras model that outputs a logit, and figures for the training
    report. Ensemble members that see a share of the negatives cache their rows under `cache_dir`
    (default: `log_dir`).
    """
    keys = settings.feature_keys
    data_balance = ClassBalance(stats.positives, stats.negatives)
    buffer_rows = shuffle_buffer_rows(stats.rows, len(keys))
    if settings.ensemble_members > 1:
        members, histories = [], []
        member_balance = ClassBalance(stats.positives, stats.negatives * settings.ensemble_majority_fraction)
        for member, keep in enumerate(
            ensemble.member_filters(settings.seed, settings.ensemble_members, settings.ensemble_majority_fraction)
        ):
            logging.info("Ensemble member %d/%d: %s", member + 1, settings.ensemble_members, member_balance)
            member_seed = settings.seed + 7919 * (member + 1)
            member_log_dir = os.path.join(log_dir, f"member_{member}")
            fileio.makedirs(member_log_dir)
            if settings.ensemble_majority_fraction >= 1.0:
                # Every member sees every row (seed bagging): members differ by initial weights and order.
                member_train = shuffled_batches(train_rows, keys, settings.batch_size, member_seed, buffer_rows)
            else:
                # The member's rows (every positive, its share of negatives) are selected in one pass
                # over the split and cached on disk; later epochs read the cache, not the whole split.
                member_rows = (
                    _unstack_features(train_rows, keys)
                    .filter(keep)
                    .cache(os.path.join(cache_dir or member_log_dir, f"member_{member}"))
                )
                member_train = member_rows.shuffle(buffer_rows, seed=member_seed, reshuffle_each_iteration=True).batch(
                    settings.batch_size
                )
            model = _compile(build_model(settings, stats, member_balance, member_seed), settings, member_balance)
            histories.append(_fit(model, settings, member_train, valid, None, member_log_dir))
            members.append(model)
        averaged = ensemble.average_members(members, output="logit")
        return averaged, {
            "ensemble_members": settings.ensemble_members,
            "epochs_run": [len(h["loss"]) for h in histories],
            "best_val_pr_auc": [float(max(h["val_pr_auc"])) for h in histories],
            "initial_bias": initial_output_bias(member_balance) if settings.initial_bias else 0.0,
        }
    if settings.balanced_batches:
        share = settings.batch_positive_share
        per_class = balanced_batches.split_by_class(_unstack_features(train_rows, keys), None, [0.0, 1.0])
        batches = balanced_batches.balanced_dataset(
            per_class,
            {1.0: share, 0.0: 1.0 - share},
            settings.batch_size,
            settings.seed,
            shuffle_buffer=min(10_000, max(1, stats.negatives)),
            cache_classes=[1.0],
        )
        balance = ClassBalance(stats.rows * share, stats.rows * (1.0 - share))
        steps = _epoch_steps(settings, stats.rows)
    else:
        batches = shuffled_batches(train_rows, keys, settings.batch_size, settings.seed, buffer_rows)
        balance, steps = data_balance, None
    model = _compile(build_model(settings, stats, balance, settings.seed), settings, balance)
    history = _fit(model, settings, batches, valid, steps, log_dir)
    return model, {
        "epochs_run": len(history["loss"]),
        "best_val_pr_auc": float(max(history["val_pr_auc"])),
        "initial_bias": initial_output_bias(balance) if settings.initial_bias else 0.0,
        "balanced_batches": settings.balanced_batches,
    }


def run_fn(fn_args: tfx.components.FnArgs) -> None:
    """Trains, tunes the threshold and exports; called by the stock TFX Trainer."""
    settings = TrainerSettings.from_custom_config(fn_args.custom_config or {})
    tf.keras.utils.set_random_seed(settings.seed)
    tf.config.experimental.enable_op_determinism()

    schema = tfx.utils.parse_pbtxt_file(fn_args.schema_path, schema_pb2.Schema())
    schema = _model_schema(schema, (*settings.feature_keys, settings.label_key))
    # Decoded rows are cached on this machine's disk for the length of the run, then deleted.
    cache_dir = tempfile.mkdtemp(prefix="trainer-cache-")
    try:
        _train_and_export(fn_args, settings, schema, cache_dir)
    finally:
        shutil.rmtree(cache_dir, ignore_errors=True)


def _train_and_export(
    fn_args: tfx.components.FnArgs, settings: TrainerSettings, schema: schema_pb2.Schema, cache_dir: str
) -> None:
    keys = settings.feature_keys
    train_rows = disk_cached_rows(
        _dataset(fn_args.train_files, fn_args.data_accessor, schema, settings, shuffle=False),
        keys,
        os.path.join(cache_dir, "train"),
    )
    # The statistics pass reads the whole split once and so writes the cache that every epoch reads.
    stats = compute_training_statistics(_unstack_features(train_rows.batch(_STATISTICS_BATCH_ROWS), keys), keys)
    valid = _dataset(fn_args.eval_files, fn_args.data_accessor, schema, settings, shuffle=False).cache(
        os.path.join(cache_dir, "valid")
    )
    if stats.positives == 0 or stats.negatives == 0:
        raise TrainingDataError(
            f"training split has {stats.positives} positive and {stats.negatives} negative rows of "
            f"{settings.label_key!r}; a classifier needs both. Check the split and the Rebalance settings"
        )
    class_skew_hints = fn_args.hyperparameters or {}
    logging.info(
        "Training rows: %d (%d positive); ClassSkew's counts before any rebalancing: %s",
        stats.rows,
        stats.positives,
        class_skew_hints.get("class_counts"),
    )

    model, figures = train_model(settings, stats, train_rows, valid, fn_args.model_run_dir, cache_dir)

    labels, scores = _predict_probabilities(model, valid)
    choice = threshold.choose_threshold(
        labels,
        scores,
        settings.threshold_rule,
        min_recall=settings.threshold_min_recall,
        min_precision=settings.threshold_min_precision,
        fallback=settings.threshold_fallback,
    )
    logging.info("Decision threshold: %s", choice)
    export_serving_model(model, settings.feature_keys, choice.threshold, fn_args.serving_model_dir)

    report = {
        **figures,
        "decision_threshold": choice.threshold,
        "threshold_rule": choice.rule_applied,
        "threshold_rule_requested": settings.threshold_rule,
        "threshold_rule_satisfied": choice.satisfied,
        "threshold_message": choice.message,
        "valid_precision": choice.precision,
        "valid_recall": choice.recall,
        "valid_f1": choice.f1,
        "train_rows": stats.rows,
        "train_positives": stats.positives,
        "loss": settings.loss,
    }
    write_training_report(fn_args.serving_model_dir, report)


def write_training_report(serving_model_dir: str, report: Mapping[str, Any]) -> None:
    extra_dir = os.path.join(serving_model_dir, "assets.extra")
    fileio.makedirs(extra_dir)
    with fileio.open(os.path.join(extra_dir, TRAINING_REPORT_FILE), "w") as out:
        out.write(json.dumps(report, indent=2, sort_keys=True))


def read_training_report(serving_model_dir: str) -> Dict[str, Any]:
    """The threshold and training figures that `run_fn` saved beside a SavedModel."""
    with fileio.open(os.path.join(serving_model_dir, "assets.extra", TRAINING_REPORT_FILE), "r") as handle:
        return json.loads(handle.read())
