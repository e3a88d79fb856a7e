"""What a user would do by hand, on the pipeline's own splits: scikit-learn HistGradientBoosting or ExtraTrees.

    .venv/bin/python -m benchmarks.sklearn_baseline --dataset schema/census_income/dataset.yaml \\
        --output outputs-census [--seed 42] [--model extra_trees] [--tune]

Reads the train/valid/eval files data prep wrote under OUTPUT/prepared_data (run local_runner.py, or
the strategy report `python -m benchmarks.strategy_report`, with the same --dataset and --output
first: both prepare into that folder), fits HistGradientBoostingClassifier(class_weight="balanced",
native categorical support) on train, early stopping on scikit-learn's own 10% of train (`--model extra_trees`: 300
unweighted ExtraTrees, categories as their train-vocabulary codes and a missing value as the train
median, since scikit-learn 1.5's ExtraTrees takes no NaN; `--tune`: the best on valid of a small grid of
settings, `benchmarks/sklearn_tuning.py`), picks the decision threshold on
valid by the pipeline's default rule (the highest recall with precision >= 0.5), and reports eval
ROC-AUC, PR-AUC (average precision) and precision/recall at that threshold. Beside it, the same
figures of the pipeline's last evaluated model, read from its gate report, so both lines are
measured on the same eval rows.

A multiclass description (`label.classes`) gets the same model with balanced class weights over
its k classes and, per class on eval, recall and precision of the argmax class (no tuned rule) and
one-vs-rest PR-AUC and ROC-AUC of that class's probability, their macro averages and the
confusion matrix; the protected classes are marked. The splits are loaded into memory: this is a benchmark on data
sets of a few hundred thousand rows, not part of the pipeline.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import sys
import time
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from benchmarks.sklearn_tuning import tune
from components.trainer.threshold import choose_served_threshold
from pipeline.dataset import load_description
from pipeline.prepare import SPLIT_FILENAME, read_manifest

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]
MIN_PRECISION = 0.5


def read_split(path: pathlib.Path, numeric: Sequence[str], categorical: Sequence[str], label: str):
    """(numeric matrix with NaN for missing, categorical codes as strings, labels) of one split file."""
    import tensorflow as tf

    rows_numeric: List[List[float]] = []
    rows_categorical: List[List[str]] = []
    labels: List[int] = []
    for record in tf.data.TFRecordDataset(str(path), compression_type="GZIP"):
        features = tf.train.Example.FromString(record.numpy()).features.feature
        rows_numeric.append([features[key].float_list.value[0] if key in features else float("nan") for key in numeric])
        rows_categorical.append(
            [features[key].bytes_list.value[0].decode() if key in features else "__missing__" for key in categorical]
        )
        labels.append(int(features[label].int64_list.value[0]))
    return np.array(rows_numeric, dtype=np.float64), rows_categorical, np.array(labels)


def encode_categories(train: List[List[str]], *others: List[List[str]]) -> Tuple[np.ndarray, ...]:
    """Ordinal codes by the train split's vocabulary (unseen categories: NaN, HistGradientBoosting's missing)."""
    columns = len(train[0]) if train else 0
    vocabularies = [
        {value: code for code, value in enumerate(sorted({row[i] for row in train}))} for i in range(columns)
    ]
    encoded = []
    for rows in (train, *others):
        matrix = np.full((len(rows), columns), np.nan)
        for r, row in enumerate(rows):
            for c, value in enumerate(row):
                if value in vocabularies[c]:
                    matrix[r, c] = vocabularies[c][value]
        encoded.append(matrix)
    return tuple(encoded)


def threshold_for_recall_at_precision(labels: np.ndarray, scores: np.ndarray, min_precision: float) -> float:
    """The threshold the Trainer would serve for these valid scores: its own default rule, ties and fallback included.

    Calling the Trainer's `choose_served_threshold` rather than restating it keeps the baseline's
    threshold from drifting off the pipeline's: among thresholds of equal recall it takes the highest
    (served a float32 margin below that score), and with no threshold at the precision it falls back
    to the highest F1, as the Trainer does.
    """
    choice = choose_served_threshold(labels, scores, "max_recall_at_precision", min_precision=min_precision)
    return float(choice.threshold)


def scores_at(labels: np.ndarray, scores: np.ndarray, threshold: float) -> Dict[str, float]:
    from sklearn.metrics import average_precision_score, roc_auc_score

    decisions = scores >= threshold
    true_positives = int(np.sum(decisions & (labels == 1)))
    return {
        "roc_auc": float(roc_auc_score(labels, scores)),
        "pr_auc": float(average_precision_score(labels, scores)),
        "precision": true_positives / max(1, int(np.sum(decisions))),
        "recall": true_positives / max(1, int(np.sum(labels == 1))),
        "threshold": threshold,
    }


def per_class_scores(
    labels: np.ndarray, probabilities: np.ndarray, class_names: Sequence[str], protected: Sequence[int]
) -> Dict[str, Any]:
    """Per class: recall and precision of the argmax class, one-vs-rest PR-AUC and ROC-AUC; macro means; confusion."""
    from sklearn.metrics import average_precision_score, confusion_matrix, roc_auc_score

    served = np.argmax(probabilities, axis=1)
    classes: List[Dict[str, Any]] = []
    for index, name in enumerate(class_names):
        actual, called = labels == index, served == index
        caught = int(np.sum(actual & called))
        classes.append(
            {
                "class": index,
                "name": name,
                "protected": index in protected,
                "rows": int(np.sum(actual)),
                "recall": caught / max(1, int(np.sum(actual))),
                "precision": caught / max(1, int(np.sum(called))),
                "pr_auc": float(average_precision_score(actual, probabilities[:, index])),
                "roc_auc": float(roc_auc_score(actual, probabilities[:, index])),
            }
        )
    macro = {key: float(np.mean([float(entry[key]) for entry in classes])) for key in ("recall", "precision", "pr_auc")}
    matrix = confusion_matrix(labels, served, labels=list(range(len(class_names))))
    return {"classes": classes, "macro": macro, "confusion_matrix (rows: actual, columns: served)": matrix.tolist()}


def impute_medians(train: np.ndarray, *others: np.ndarray) -> Tuple[np.ndarray, ...]:
    """Every NaN replaced by its column's train median (0 for a column with no value in train).

    A column empty in train is set to 0 before the median, so `nanmedian` never sees an all-NaN slice.
    """
    medians = np.nanmedian(np.where(np.isnan(train).all(axis=0), 0.0, train), axis=0)
    return tuple(np.where(np.isnan(matrix), medians, matrix) for matrix in (train, *others))


def make_model(name: str, has_categorical: List[bool], seed: int) -> Tuple[str, Any]:
    """The result key and the unfitted scikit-learn model `--model` names."""
    from sklearn.ensemble import ExtraTreesClassifier, HistGradientBoostingClassifier

    if name == "extra_trees":
        return "sklearn_extra_trees", ExtraTreesClassifier(n_estimators=300, n_jobs=-1, random_state=seed)
    model = HistGradientBoostingClassifier(
        class_weight="balanced",
        categorical_features=has_categorical if any(has_categorical) else None,
        early_stopping=True,
        max_iter=500,
        random_state=seed,
    )
    return "sklearn_hist_gradient_boosting_balanced", model


def pipeline_figures(output: pathlib.Path) -> Optional[Dict[str, Any]]:
    """The overall eval metrics of the newest gate report under OUTPUT (the pipeline's own numbers).

    Multiclass reports have one overall row per protected class: those come back by class.
    """
    reports = [
        path
        for path in (output / "pipeline_root").rglob("gate_report.json")
        if path.parent.parent.name == "gate_report"
    ]
    if not reports:
        return None
    report = json.loads(max(reports, key=lambda path: int(path.parent.name)).read_text())
    overall = [entry for entry in report["slices"] if entry["slice"] == "overall"]
    if any("class" in entry for entry in overall):
        by_class = {
            str(entry["class"]): {check["metric"]: check["value"] for check in entry["metrics"]} for entry in overall
        }
        return {"verdict": report["verdict"], "classes": by_class}
    metrics = {check["metric"]: check["value"] for check in overall[0]["metrics"]}
    return {"verdict": report["verdict"], **metrics}


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", required=True, help="the data set's description")
    parser.add_argument(
        "--output", required=True, help="the local_runner.py or strategy report --output folder that prepared it"
    )
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--model", choices=("hist_gradient_boosting", "extra_trees"), default="hist_gradient_boosting")
    parser.add_argument(
        "--tune",
        action="store_true",
        help="fit every setting of the model's grid (benchmarks/sklearn_tuning.py) on train and keep the best on valid",
    )
    args = parser.parse_args(argv)

    description = load_description(pathlib.Path(args.dataset))
    output = pathlib.Path(args.output).resolve()
    spans = sorted((output / "prepared_data").glob("span-*"), key=lambda path: int(path.name.split("-")[1]))
    if not spans:
        print(
            f"error: no prepared spans under {output}/prepared_data; run local_runner.py or "
            "benchmarks.strategy_report with this --output first",
            file=sys.stderr,
        )
        return 2
    manifest = read_manifest(spans[-1]) or {}
    numeric, categorical = manifest["types"]["numeric"], manifest["types"]["categorical"]
    label = description.label.column
    started = time.time()
    splits = {
        name: read_split(spans[-1] / name / SPLIT_FILENAME, numeric, categorical, label)
        for name in ("train", "valid", "eval")
    }
    codes = encode_categories(*(splits[name][1] for name in ("train", "valid", "eval")))
    matrices = {
        name: np.hstack([splits[name][0], code]) for name, code in zip(("train", "valid", "eval"), codes, strict=True)
    }
    is_categorical = [False] * len(numeric) + [True] * len(categorical)
    if args.model == "extra_trees":
        names = ("train", "valid", "eval")
        matrices = dict(zip(names, impute_medians(*(matrices[name] for name in names)), strict=True))
    result: Dict[str, Any] = {
        "dataset": description.name,
        "split": "eval",
        "rows": {name: int(len(splits[name][2])) for name in splits},
    }
    if args.tune:
        labels = {name: splits[name][2] for name in splits}
        model, chosen, grid = tune(
            args.model, matrices, labels, is_categorical, description.protected_classes, args.seed
        )
        key = f"sklearn_{args.model}_tuned_on_valid"
        result["chosen on valid"] = chosen
        result["grid (valid ranking score)"] = grid
    else:
        key, model = make_model(args.model, is_categorical, args.seed)
        model.fit(matrices["train"], splits["train"][2])
    if description.class_names:
        eval_probabilities = model.predict_proba(matrices["eval"])
        result["class_rows"] = {
            name: np.bincount(splits[name][2], minlength=len(description.class_names)).tolist() for name in splits
        }
        result[key] = per_class_scores(
            splits["eval"][2], eval_probabilities, description.class_names, description.protected_classes
        )
    else:
        valid_scores = model.predict_proba(matrices["valid"])[:, 1]
        threshold = threshold_for_recall_at_precision(splits["valid"][2], valid_scores, MIN_PRECISION)
        result["positives"] = {name: int(np.sum(splits[name][2])) for name in splits}
        result[key] = scores_at(splits["eval"][2], model.predict_proba(matrices["eval"])[:, 1], threshold)
    result.update(
        {
            "pipeline": pipeline_figures(output),
            "seconds": round(time.time() - started, 1),
        }
    )
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
