"""How much cross-entropy `trainer.loss=auc` mixes in: the Trainer's own training code, in memory, per BCE share.

Research harness, not a pipeline part (like `model_sweep.py`): it reads the credit-card CSV, splits
it 60/20/20 stratified (scikit-learn, `--split-seed`), standardises the columns with the train
split's mean and standard deviation (log1p(Amount) first), caches the train rows as the Trainer
does (`inputs.disk_cached_rows`) and trains one MLP per setting with
`components.trainer.training.train_model` and the config's defaults otherwise (128-64, at most
30 epochs, early stopping on valid PR-AUC with patience 4), on batches topped up to
`--min-batch-positives` positives. A share below 0 trains plain `bce` instead, the baseline the
mix is measured against (`--min-batch-positives 0`: the batches as the rows come).

    .venv/bin/python -m benchmarks.auc_loss_mix --weights 0,0.25,0.5,0.75,1,-1 --min-batch-positives 8 --seed 42

Prints one JSON line per setting: eval PR-AUC (average precision) and ROC-AUC, valid PR-AUC, and how
far the probabilities are from calibrated (eval log-loss, Brier score, mean probability / base rate).
"""

from __future__ import annotations

import argparse
import json
import pathlib
import tempfile
import time
from typing import Dict, Optional, Sequence

import numpy as np

# Sets TF_USE_LEGACY_KERAS (see components/__init__.py) before TensorFlow is imported, in `main`.
from components.trainer.spec import TrainerParameters

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO_ROOT / "data" / "raw" / "creditcard.csv"


def load_splits(path: pathlib.Path, split_seed: int) -> Dict[str, np.ndarray]:
    """{x_<split>, y_<split>} for train/valid/eval, standardised with the train split's statistics."""
    import pandas as pd
    from sklearn.model_selection import train_test_split

    frame = pd.read_csv(path)
    frame["Amount"] = np.log1p(frame["Amount"])
    labels = frame.pop("Class").to_numpy(np.float32)
    features = frame.to_numpy(np.float32)
    x_train, x_rest, y_train, y_rest = train_test_split(
        features, labels, test_size=0.4, stratify=labels, random_state=split_seed
    )
    x_valid, x_eval, y_valid, y_eval = train_test_split(
        x_rest, y_rest, test_size=0.5, stratify=y_rest, random_state=split_seed
    )
    mean, std = x_train.mean(axis=0), x_train.std(axis=0) + 1e-6
    splits = {"train": (x_train, y_train), "valid": (x_valid, y_valid), "eval": (x_eval, y_eval)}
    arrays = {}
    for name, (x, y) in splits.items():
        arrays[f"x_{name}"], arrays[f"y_{name}"] = (x - mean) / std, y
    return arrays


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.auc_loss_mix", description=__doc__.split("\n")[0])
    parser.add_argument("--weights", default="0,0.25,0.5,0.75,1,-1", help="trainer.auc_bce_weight values; < 0: bce")
    parser.add_argument("--min-batch-positives", type=int, default=8)
    parser.add_argument("--seed", type=int, default=42, help="trainer.seed")
    parser.add_argument("--split-seed", type=int, default=42)
    parser.add_argument("--max-epochs", type=int, default=TrainerParameters.max_epochs)
    parser.add_argument("--patience", type=int, default=TrainerParameters.early_stopping_patience)
    parser.add_argument("--data", default=str(DEFAULT_DATA), help="the credit-card CSV (Time, V1..V28, Amount, Class)")
    args = parser.parse_args(argv)

    import tensorflow as tf
    from sklearn import metrics

    from components.trainer import inputs, training
    from components.trainer.network import ModelInputs

    arrays = load_splits(pathlib.Path(args.data), args.split_seed)
    keys = tuple(f"f{index}" for index in range(arrays["x_train"].shape[1]))

    def batches(split: str) -> tf.data.Dataset:
        x, y = arrays[f"x_{split}"], arrays[f"y_{split}"]
        columns = {key: x[:, index : index + 1] for index, key in enumerate(keys)}
        return tf.data.Dataset.from_tensor_slices((columns, y.reshape(-1, 1))).batch(1024)

    work = tempfile.mkdtemp(prefix="auc-loss-mix-")
    train_rows = inputs.disk_cached_rows(batches("train"), keys, f"{work}/train")
    stats = inputs.compute_training_statistics(train_rows.batch(inputs.STATISTICS_BATCH_ROWS))
    valid, evaluation = batches("valid").cache(), batches("eval").cache()
    for weight in (float(text) for text in args.weights.split(",")):
        # As run_fn does: every run from the same seeds, with deterministic ops.
        tf.keras.utils.set_random_seed(args.seed)
        tf.config.experimental.enable_op_determinism()
        started = time.monotonic()
        parameters = TrainerParameters(
            loss="bce" if weight < 0 else "auc",
            auc_bce_weight=max(weight, 0.0),
            min_batch_positives=args.min_batch_positives,
            ensemble_members=1,
            max_epochs=args.max_epochs,
            early_stopping_patience=args.patience,
            seed=args.seed,
        )
        model, figures = training.train_model(
            ModelInputs(keys), parameters, stats, train_rows, valid, tempfile.mkdtemp(dir=work), f"{work}/c{weight}"
        )
        p_eval, p_valid = (
            np.concatenate([tf.sigmoid(model(x, training=False)).numpy().ravel() for x, _ in dataset])
            for dataset in (evaluation, valid)
        )
        y_eval = arrays["y_eval"]
        row = {
            "loss": parameters.loss,
            "auc_bce_weight": weight if weight >= 0 else None,
            "min_batch_positives": args.min_batch_positives,
            "seed": args.seed,
            "epochs": figures["epochs_run"],
            "eval_pr_auc": round(float(metrics.average_precision_score(y_eval, p_eval)), 4),
            "eval_roc_auc": round(float(metrics.roc_auc_score(y_eval, p_eval)), 4),
            "valid_pr_auc": round(float(metrics.average_precision_score(arrays["y_valid"], p_valid)), 4),
            "eval_log_loss": round(float(metrics.log_loss(y_eval, np.clip(p_eval, 1e-7, 1 - 1e-7))), 5),
            "eval_brier": round(float(metrics.brier_score_loss(y_eval, p_eval)), 6),
            "mean_probability_over_base_rate": round(float(p_eval.mean() / y_eval.mean()), 2),
            "seconds": round(time.monotonic() - started),
        }
        print(json.dumps(row), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
