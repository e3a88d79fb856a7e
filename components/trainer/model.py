"""The TFX Trainer's `run_fn` (the module file the pipeline names): an MLP, gradient-boosted trees, or both.

It trains on the Transform's output: the rows Rebalance kept, standardised, with missing-value
indicators and vocabulary ids (`components/transform`). What it does, in order:
1. one streaming pass over the transformed training split for its class counts, which also
   caches the decoded rows on local disk (`inputs.py`);
2. builds an MLP on the numeric features and the one-hot or embedded categorical ids, whose
   output bias starts at log(pos/neg) of the rows it trains on, so training does not spend its
   first epochs learning the base rate (`network.py`);
3. trains with the configured loss and early stopping on validation PR-AUC: one model, one on
   balanced batches, or an ensemble whose members each see every positive and a share of the
   negatives (`training.py`); with `trainer.model=gbt` gradient-boosted trees instead
   or a random forest (`rf`; `trees.py`), with `mlp_gbt` or `mlp_rf` both, their probabilities averaged;
4. picks the decision threshold on the `valid` split, never on `eval` (`threshold.py`);
5. exports a SavedModel whose serving signature takes raw tf.Examples, applies the transform
   graph, and returns the probability, the decision at that threshold and the threshold itself
   (`serving.py`).

A multiclass label (k >= 3 `class_names`) takes `multiclass_training.py` from step 1 on: class
counts, a softmax head whose bias starts at the log class priors, and per-class weights tuned on
`valid` in place of the threshold (`decision_rule.py`).

Its settings arrive in `fn_args.custom_config` (`spec.TrainerRunConfig`). The class counts that
size the loss weights and the initial bias are counted here, from the rows being trained on;
the Trainer takes no class statistics from an upstream component, since the counts before
Rebalance or before an ensemble member's subsampling are not the mix the model sees.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from typing import Any, Dict, List, Tuple

import tensorflow as tf
import tensorflow_transform as tft
from absl import logging
from tensorflow_metadata.proto.v0 import schema_pb2
from tfx import v1 as tfx

from components.trainer import inputs, multiclass_training, training, trees
from components.trainer.inputs import TrainingStatistics
from components.trainer.network import ModelInputs
from components.trainer.serving import (
    DECISION_OUTPUT,
    PROBABILITY_OUTPUT,
    SERVING_INPUT,
    THRESHOLD_OUTPUT,
    export_serving_model,
    read_training_report,
    write_training_report,
)
from components.trainer.spec import TrainerRunConfig
from components.trainer.valid_threshold import tune_threshold

# The serving contract, also importable from here; `serving.py` is its home.
__all__ = [
    "DECISION_OUTPUT",
    "PROBABILITY_OUTPUT",
    "SERVING_INPUT",
    "THRESHOLD_OUTPUT",
    "export_serving_model",
    "read_training_report",
    "run_fn",
]


def run_fn(fn_args: tfx.components.FnArgs) -> None:
    """Trains, tunes the threshold and exports; called by the stock TFX Trainer."""
    run = TrainerRunConfig.from_custom_config(fn_args.custom_config or {})
    tf.keras.utils.set_random_seed(run.parameters.seed)
    tf.config.experimental.enable_op_determinism()

    if not fn_args.transform_output:
        raise ValueError("the Trainer needs the Transform's transform_graph: it trains on transformed examples")
    transform_output = tft.TFTransformOutput(fn_args.transform_output)
    features = model_inputs(run, transform_output)
    schema = inputs.model_schema(transform_output.transformed_metadata.schema, (*features.keys, run.label_key))
    cache_dir = decoded_rows_cache_dir(fn_args.model_run_dir)
    try:
        _train_and_export(fn_args, run, features, transform_output, schema, cache_dir)
    finally:
        shutil.rmtree(cache_dir, ignore_errors=True)


# The folder, inside the execution's ModelRun artifact, that holds the decoded-rows cache while it trains.
DECODED_ROWS_CACHE = "decoded_rows_cache"


def decoded_rows_cache_dir(model_run_dir: str) -> str:
    """Where the decoded rows are cached for the length of the run; deleted when training ends or fails.

    On local disk the cache lives inside the execution's own ModelRun folder, so it belongs to the
    output folder: if the process is killed, the next run finds the execution left RUNNING and
    removes its folders, cache included. A remote ModelRun (gs://, s3://) would make every epoch
    read over the network, so there the cache goes to this machine's temporary folder.
    """
    if "://" in model_run_dir:
        return tempfile.mkdtemp(prefix="trainer-cache-")
    path = os.path.join(model_run_dir, DECODED_ROWS_CACHE)
    os.makedirs(path, exist_ok=True)
    return path


def model_inputs(run: TrainerRunConfig, transform_output: tft.TFTransformOutput) -> ModelInputs:
    """The model's inputs, checked against what the Transform writes; each categorical with its id range."""
    spec = transform_output.transformed_feature_spec()
    expected: List[Tuple[str, Tuple[Any, ...]]] = [(key, (tf.float32,)) for key in run.numeric_feature_keys]
    expected += [(key, (tf.int64,)) for key in run.categorical_feature_keys]
    expected.append((run.label_key, (tf.int64, tf.float32)))
    problems = [
        f"{key!r} is not among its outputs" if key not in spec else f"{key!r} is {spec[key].dtype.name}"
        for key, dtypes in expected
        if key not in spec or spec[key].dtype not in dtypes
    ]
    if problems:
        raise ValueError(
            f"the Trainer's inputs do not match the Transform's outputs {sorted(spec)}: {'; '.join(problems)} "
            "(numeric inputs must be float32, categorical ones int64 vocabulary ids, the label int64)"
        )
    return ModelInputs(
        numeric_keys=run.numeric_feature_keys,
        categorical_ids=tuple(
            (key, int(transform_output.num_buckets_for_transformed_feature(key)))
            for key in run.categorical_feature_keys
        ),
    )


def _train_family(
    fitter: training.Fitter, stats: TrainingStatistics, train_rows: tf.data.Dataset, log_dir: str, cache_dir: str
) -> Tuple[tf.keras.Model, Dict[str, Any]]:
    """The MLP (ensemble), the trees, or both averaged, per `trainer.model` (`trees.train_family`)."""
    return trees.train_family(
        fitter.parameters.model,
        lambda: training.train_with(fitter, stats, train_rows, log_dir, cache_dir),
        lambda: trees.train_trees(
            fitter.features, fitter.parameters, (stats.negatives, stats.positives), train_rows, fitter.valid
        ),
        fitter.parameters.family_blend,
    )


def _train_and_export(
    fn_args: tfx.components.FnArgs,
    run: TrainerRunConfig,
    features: ModelInputs,
    transform_output: tft.TFTransformOutput,
    schema: schema_pb2.Schema,
    cache_dir: str,
) -> None:
    keys, parameters = features.keys, run.parameters

    def read(files):
        return inputs.read_split(files, fn_args.data_accessor, schema, run.label_key, keys, parameters.batch_size)

    train_rows = inputs.in_content_order(
        inputs.disk_cached_rows(read(fn_args.train_files), keys, os.path.join(cache_dir, "train")), len(keys)
    )
    if run.is_multiclass:
        # k >= 3 classes: a softmax model and per-class weights tuned on valid instead of a threshold.
        valid_rows = read(fn_args.eval_files).cache(os.path.join(cache_dir, "valid"))
        multiclass_training.train_and_export(
            fn_args, run, features, transform_output, train_rows, valid_rows, cache_dir
        )
        return
    # The first full read (sorting, or counting for a split too large to sort) writes the cache every epoch reads.
    stats = inputs.compute_training_statistics(train_rows.batch(inputs.STATISTICS_BATCH_ROWS))
    valid = read(fn_args.eval_files).cache(os.path.join(cache_dir, "valid"))
    if stats.positives == 0 or stats.negatives == 0:
        raise inputs.TrainingDataError(
            f"training split has {stats.positives} positive and {stats.negatives} negative rows of "
            f"{run.label_key!r}; a classifier needs both. Check the split and the Rebalance settings"
        )
    logging.info("Training rows (after Rebalance): %d (%d positive)", stats.rows, stats.positives)

    fitter = training.Fitter(features, parameters, valid)
    model, figures = _train_family(fitter, stats, train_rows, fn_args.model_run_dir, cache_dir)

    choice = tune_threshold(model, valid, parameters)
    logging.info("Decision threshold: %s", choice)
    export_serving_model(
        model,
        keys,
        choice.threshold,
        fn_args.serving_model_dir,
        transform_output=transform_output,
        label_key=run.label_key,
    )

    report: Dict[str, Any] = {
        **figures,
        "decision_threshold": choice.threshold,
        "threshold_rule": choice.rule_applied,
        "threshold_rule_requested": parameters.threshold_rule,
        "threshold_rule_satisfied": choice.satisfied,
        "threshold_message": choice.message,
        "valid_precision": choice.precision,
        "valid_recall": choice.recall,
        "valid_f1": choice.f1,
        "train_rows": stats.rows,
        "train_positives": stats.positives,
        "model": parameters.model,
        # Boosting minimises the binomial log-likelihood, a forest none; `trainer.loss` is the MLP's.
        "loss": parameters.loss if parameters.trains_mlp else trees.loss_name(parameters.model, multiclass=False),
    }
    write_training_report(fn_args.serving_model_dir, report)
