"""Scores a pushed model on the eval split ImportExampleGen wrote and prints scikit-learn's exact metrics.

A check of the Evaluator's figures from outside TFMA: the served SavedModel's `probability` on every
raw eval tf.Example, then scikit-learn's ROC-AUC and average precision, the Evaluator's
`LogOddsAUC` arithmetic on the same scores, and how many scores fall below 1e-4 (where TFMA's
evenly spaced buckets tie them), and the best recall any threshold reaches on the eval split at a
minimum precision (an oracle); with `--compare`, how far a second model's probabilities are
from the first's on the same rows. For a binary data set whose label the description names:

    .venv/bin/python scripts/served_model_auc.py --output outputs --label Class
    .venv/bin/python scripts/served_model_auc.py --output outputs --label Class --compare OTHER/serving_model/ID
"""

from __future__ import annotations

import argparse
import pathlib

# Importing the package sets TF_USE_LEGACY_KERAS before TensorFlow loads (components/__init__.py).
from components.blessing_gate import log_odds_auc
from components.trainer import threshold


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--output", required=True, help="local_runner.py's --output folder")
    parser.add_argument("--label", required=True, help="the label column (0/1 class index in the Examples)")
    parser.add_argument("--model", help="a SavedModel folder (default: the newest under OUTPUT/serving_model)")
    parser.add_argument("--min-precision", type=float, default=0.5, help="for the oracle recall line (default 0.5)")
    parser.add_argument("--compare", help="a second SavedModel folder: also print how far its probabilities are")
    args = parser.parse_args()

    import numpy as np
    import tensorflow as tf
    from sklearn import metrics

    output = pathlib.Path(args.output)
    model_dir = pathlib.Path(args.model) if args.model else max((output / "serving_model").iterdir())
    # The newest Examples: artifact folders are named by their ML Metadata id (a number, not a date).
    examples_root = output / "pipeline_root" / "ImportExampleGen" / "examples"
    examples = max(examples_root.iterdir(), key=lambda path: int(path.name))
    files = sorted(str(path) for path in (examples / "Split-eval").iterdir())
    models = [model_dir] + ([pathlib.Path(args.compare)] if args.compare else [])
    serving = [tf.saved_model.load(str(path)).signatures["serving_default"] for path in models]
    labels, probabilities = [], [[] for _ in models]
    for batch in tf.data.TFRecordDataset(files, compression_type="GZIP").batch(4096):
        for serve, scores in zip(serving, probabilities, strict=True):
            scores.append(serve(examples=batch)["probability"].numpy().ravel())
        parsed = tf.io.parse_example(batch, {args.label: tf.io.FixedLenFeature([], tf.int64)})
        labels.append(parsed[args.label].numpy())
    y, p = np.concatenate(labels), np.concatenate(probabilities[0])
    print(f"model {model_dir}; eval split {examples / 'Split-eval'}")
    bucketed = log_odds_auc.auc_from_counts(log_odds_auc.add_scores({}, y, p, np.ones_like(p)))
    print(
        f"rows {y.size}, positives {int(y.sum())}; scikit-learn ROC-AUC {metrics.roc_auc_score(y, p):.4f}, "
        f"LogOddsAUC {bucketed:.4f}, average precision {metrics.average_precision_score(y, p):.4f}; "
        f"share of scores below 1e-4 {np.mean(p < 1e-4):.3f}"
    )
    # The served rule itself, tuned on eval instead of valid: the same definition the Trainer uses.
    oracle = threshold.choose_threshold(y, p, "max_recall_at_precision", min_precision=args.min_precision)
    if not oracle.satisfied:
        print(f"no threshold reaches precision {args.min_precision} on this split: {oracle.message}")
    print(
        f"best recall at precision >= {args.min_precision} over every threshold on this split (an oracle: no rule "
        f"that picks the threshold elsewhere can do better): {oracle.recall:.3f} at threshold {oracle.threshold:.4g}, "
        f"precision {oracle.precision:.3f}"
    )
    if args.compare:
        other = np.concatenate(probabilities[1])
        print(
            f"against {args.compare}: identical {np.array_equal(p, other)}, largest absolute difference "
            f"{np.abs(p - other).max():.3g}, ROC-AUC {metrics.roc_auc_score(y, other):.4f}, "
            f"average precision {metrics.average_precision_score(y, other):.4f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
