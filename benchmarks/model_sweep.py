"""Hyperparameter sweep of the Trainer's MLP on the strategy report's splits, fast and in memory.

Research harness, not a pipeline part: it loads the train/valid/eval splits of an Examples folder
into numpy (the credit-card splits are 285k x 30 floats, ~34 MB) and trains plain Keras models, so
one setting costs seconds instead of a Trainer run. What it finds must then be confirmed through
the real Trainer, which `benchmarks.strategy_report` does. Each run: an MLP like
`components.trainer.network.build_model` (here with its own normalisation layer, as the Transform's
z-scores do in the pipeline; ReLU layers, dropout, output bias at
log(pos/neg)), BCE or weighted BCE, Adam, early stopping on validation PR-AUC; with several seeds
the members' probabilities are averaged (seed bagging). Thresholds are tuned on `valid` and
applied to `eval`.

    .venv/bin/python -m benchmarks.model_sweep --examples /tmp/sr/examples \\
        '{"name": "u128_ens5", "units": [128, 64], "seeds": [42, 1, 2, 3, 4]}'

Keys of a run: name, units, dropout, lr, batch_size, epochs, patience, pos_weight, seeds.
Prints one JSON line per run: eval PR-AUC and ROC-AUC, and (threshold, eval precision, eval
recall) for max_f1 and for max recall with valid precision >= 0.5 / 0.6 / 0.7.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import time
from typing import Any, Dict, Mapping, Optional, Sequence, Tuple

import numpy as np

# Sets TF_USE_LEGACY_KERAS (see components/__init__.py); TensorFlow is imported after it, in the functions.
from pipeline.dataset import load_description
from pipeline.schema_review import columns_from_schema, read_schema

SPLITS = ("train", "valid", "eval")
CREDITCARD = load_description(pathlib.Path(__file__).resolve().parents[1] / "schema" / "creditcard" / "dataset.yaml")
NUMERIC_KEYS = columns_from_schema(read_schema(CREDITCARD.schema_path), CREDITCARD).numeric
LABEL_KEY = CREDITCARD.label.column


def load_splits(examples_dir: pathlib.Path, cache: Optional[pathlib.Path]) -> Dict[str, np.ndarray]:
    """{x_<split>, y_<split>} from an Examples folder's gzip TFRecords (cached as .npz if asked)."""
    if cache is not None and cache.exists():
        with np.load(cache) as stored:
            return {name: stored[name] for name in stored.files}
    import tensorflow as tf

    spec = {key: tf.io.FixedLenFeature([1], tf.float32) for key in NUMERIC_KEYS}
    spec[LABEL_KEY] = tf.io.FixedLenFeature([1], tf.int64)
    arrays = {}
    for split in SPLITS:
        files = sorted(tf.io.gfile.glob(str(examples_dir / f"Split-{split}" / "*.gz")))
        if not files:
            raise FileNotFoundError(f"no Split-{split}/*.gz under {examples_dir}; pass the strategy report's examples")
        batches = tf.data.TFRecordDataset(files, compression_type="GZIP").batch(8192)
        xs, ys = [], []
        for parsed in batches.map(lambda serialized: tf.io.parse_example(serialized, spec)):
            xs.append(np.concatenate([parsed[key].numpy() for key in NUMERIC_KEYS], axis=1))
            ys.append(parsed[LABEL_KEY].numpy().reshape(-1))
        arrays[f"x_{split}"], arrays[f"y_{split}"] = np.concatenate(xs), np.concatenate(ys)
    if cache is not None:
        np.savez(cache, **arrays)
    return arrays


def tuned_threshold(labels: np.ndarray, scores: np.ndarray, min_precision: Optional[float]) -> float:
    """max_f1 (min_precision None) or the highest recall with precision >= min_precision."""
    order = np.argsort(-scores, kind="stable")
    ranked_labels, ranked_scores = labels[order], scores[order]
    true_positives = np.cumsum(ranked_labels)
    precision = true_positives / np.arange(1, len(labels) + 1)
    recall = true_positives / ranked_labels.sum()
    if min_precision is None:
        index = int(np.argmax(2 * precision * recall / np.maximum(precision + recall, 1e-12)))
    else:
        allowed = np.flatnonzero(precision >= min_precision)
        index = int(allowed[np.argmax(recall[allowed])]) if allowed.size else int(np.argmax(precision))
    return float(ranked_scores[index])


def precision_recall_at(labels: np.ndarray, scores: np.ndarray, threshold: float) -> Tuple[float, float]:
    decided = scores >= threshold
    true_positives = int((decided & (labels == 1)).sum())
    return true_positives / max(int(decided.sum()), 1), true_positives / int(labels.sum())


def train_one(data: Mapping[str, np.ndarray], run: Mapping[str, Any], seed: int):
    import tensorflow as tf

    tf.keras.utils.set_random_seed(seed)
    x_train, y_train = data["x_train"], data["y_train"].astype(np.float32)
    normalize = tf.keras.layers.Normalization()
    normalize.adapt(x_train)
    positives = float(y_train.sum())
    layers = [tf.keras.Input((x_train.shape[1],)), normalize]
    for units in run.get("units", (128, 64)):
        layers.append(tf.keras.layers.Dense(units, activation="relu"))
        if run.get("dropout", 0.1):
            layers.append(tf.keras.layers.Dropout(run.get("dropout", 0.1)))
    bias = np.log(positives / (len(y_train) - positives))
    layers.append(tf.keras.layers.Dense(1, bias_initializer=tf.keras.initializers.Constant(bias)))
    model = tf.keras.Sequential(layers)
    pos_weight = run.get("pos_weight")
    if pos_weight:

        def loss(labels, logits):
            return tf.reduce_mean(tf.nn.weighted_cross_entropy_with_logits(labels, logits, pos_weight))

    else:
        loss = tf.keras.losses.BinaryCrossentropy(from_logits=True)
    model.compile(
        tf.keras.optimizers.Adam(run.get("lr", 1e-3)),
        loss,
        metrics=[tf.keras.metrics.AUC(curve="PR", from_logits=True, name="pr_auc")],
    )
    stop = tf.keras.callbacks.EarlyStopping(
        monitor="val_pr_auc", mode="max", patience=run.get("patience", 4), restore_best_weights=True
    )
    history = model.fit(
        x_train,
        y_train[:, None],
        batch_size=run.get("batch_size", 1024),
        epochs=run.get("epochs", 30),
        validation_data=(data["x_valid"], data["y_valid"].astype(np.float32)[:, None]),
        callbacks=[stop],
        verbose=0,
    )
    return model, len(history.history["loss"])


def sweep_run(data: Mapping[str, np.ndarray], run: Mapping[str, Any]) -> Dict[str, Any]:
    import tensorflow as tf
    from sklearn.metrics import average_precision_score, roc_auc_score

    start = time.perf_counter()
    seeds = tuple(run.get("seeds", (42,)))
    valid_scores, eval_scores, epochs = 0.0, 0.0, []
    for seed in seeds:
        model, epochs_run = train_one(data, run, seed)
        epochs.append(epochs_run)
        for split in ("valid", "eval"):
            probabilities = tf.sigmoid(model.predict(data[f"x_{split}"], batch_size=8192, verbose=0)).numpy().ravel()
            if split == "valid":
                valid_scores = valid_scores + probabilities / len(seeds)
            else:
                eval_scores = eval_scores + probabilities / len(seeds)
    y_valid, y_eval = data["y_valid"], data["y_eval"]
    result = {
        "name": run.get("name", "run"),
        "settings": {key: value for key, value in run.items() if key != "name"},
        "epochs": epochs,
        "seconds": round(time.perf_counter() - start),
        "eval_pr_auc": round(float(average_precision_score(y_eval, eval_scores)), 4),
        "eval_roc_auc": round(float(roc_auc_score(y_eval, eval_scores)), 4),
    }
    for label, min_precision in (("max_f1", None), ("p>=0.5", 0.5), ("p>=0.6", 0.6), ("p>=0.7", 0.7)):
        threshold = tuned_threshold(y_valid, valid_scores, min_precision)
        precision, recall = precision_recall_at(y_eval, eval_scores, threshold)
        result[label] = [round(threshold, 4), round(precision, 3), round(recall, 3)]
    return result


def main(argv: Optional[Sequence[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--examples", type=pathlib.Path, required=True, help="Examples folder with Split-train etc.")
    parser.add_argument("--cache", type=pathlib.Path, help="optional .npz to keep the decoded splits in")
    parser.add_argument("runs", nargs="+", help="one JSON object per run (see the module docstring)")
    args = parser.parse_args(argv)
    data = load_splits(args.examples, args.cache)
    for text in args.runs:
        print(json.dumps(sweep_run(data, json.loads(text))), flush=True)


if __name__ == "__main__":
    main()
