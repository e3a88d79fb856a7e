"""Scores a pushed model on the eval split ImportExampleGen wrote and prints scikit-learn's exact metrics.

A check of the Evaluator's figures from outside TFMA: the served SavedModel's `probability` on every
raw eval tf.Example, then scikit-learn's ROC-AUC and average precision, the Evaluator's
`LogOddsAUC` arithmetic on the same scores, and how many scores fall below 1e-4 (where TFMA's
evenly spaced buckets tie them). For a binary data set whose label the
description names:

    .venv/bin/python scripts/served_model_auc.py --output outputs --label Class
"""

from __future__ import annotations

import argparse
import pathlib

# Importing the package sets TF_USE_LEGACY_KERAS before TensorFlow loads (components/__init__.py).
from components.blessing_gate import log_odds_auc


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--output", required=True, help="local_runner.py's --output folder")
    parser.add_argument("--label", required=True, help="the label column (0/1 class index in the Examples)")
    parser.add_argument("--model", help="a SavedModel folder (default: the newest under OUTPUT/serving_model)")
    args = parser.parse_args()

    import numpy as np
    import tensorflow as tf
    from sklearn import metrics

    output = pathlib.Path(args.output)
    model_dir = pathlib.Path(args.model) if args.model else max((output / "serving_model").iterdir())
    examples = sorted((output / "pipeline_root" / "ImportExampleGen" / "examples").iterdir())[-1]
    files = sorted(str(path) for path in (examples / "Split-eval").iterdir())
    serve = tf.saved_model.load(str(model_dir)).signatures["serving_default"]
    labels, probabilities = [], []
    for batch in tf.data.TFRecordDataset(files, compression_type="GZIP").batch(4096):
        probabilities.append(serve(examples=batch)["probability"].numpy().ravel())
        parsed = tf.io.parse_example(batch, {args.label: tf.io.FixedLenFeature([], tf.int64)})
        labels.append(parsed[args.label].numpy())
    y, p = np.concatenate(labels), np.concatenate(probabilities)
    print(f"model {model_dir}; eval split {examples / 'Split-eval'}")
    bucketed = log_odds_auc.auc_from_counts(log_odds_auc.add_scores({}, y, p, np.ones_like(p)))
    print(
        f"rows {y.size}, positives {int(y.sum())}; scikit-learn ROC-AUC {metrics.roc_auc_score(y, p):.4f}, "
        f"LogOddsAUC {bucketed:.4f}, average precision {metrics.average_precision_score(y, p):.4f}; "
        f"share of scores below 1e-4 {np.mean(p < 1e-4):.3f}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
