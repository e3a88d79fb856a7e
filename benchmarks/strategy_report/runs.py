"""Running each strategy through the pipeline's components, and reusing what an earlier run finished.

Re-running with the same `--output` reuses every strategy whose settings and data are unchanged
(their recorded times too). Given the same Examples, every strategy's model and figures are the
same on every run (seeds from the config).
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import math
import os
import pathlib
import resource
import shutil
import time
from typing import Any, Dict, List, Mapping, Optional

import numpy as np

from benchmarks.strategy_report.classes import evaluate_multiclass, mean_of_defined
from benchmarks.strategy_report.metrics import average_precision, evaluate_predictions, quality_target, roc_auc
from benchmarks.strategy_report.strategies import Strategy, class_counts, strategy_config
from components.trainer import serving
from pipeline import harness
from pipeline.config import PipelineConfig
from pipeline.dataset import MISSING_SLICE_VALUE
from pipeline.pipeline import EVAL_SPLIT, VALID_SPLIT, trainer_custom_config

PREDICTIONS_FILE = "predictions.npz"
VALID_PREDICTIONS_FILE = "valid_predictions.npz"
RESULT_FILE = "result.json"
# Bump when what a strategy's result holds changes, so old results in a reused --output are redone.
RESULT_VERSION = 3


def cpu_seconds() -> float:
    """CPU time of this process and its finished children (Beam workers): the load-independent cost."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def write_atomically(path: pathlib.Path, data: bytes) -> None:
    """Readers see the old file or the whole new one, never a part (a killed run leaves no half result)."""
    temp = path.with_name(f".{path.name}.tmp")
    temp.write_bytes(data)
    os.replace(temp, path)


def _write_arrays(path: pathlib.Path, arrays: Mapping[str, np.ndarray]) -> None:
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    write_atomically(path, buffer.getvalue())


def strategy_dir(output: pathlib.Path, name: str) -> pathlib.Path:
    """Where strategy `name` of the report folder `output` keeps its model, predictions and result."""
    return output / "strategies" / name


def load_valid_predictions(output: pathlib.Path, name: str) -> Dict[str, np.ndarray]:
    """Strategy `name`'s saved valid `labels` and `probabilities` under the report folder `output`."""
    with np.load(strategy_dir(output, name) / VALID_PREDICTIONS_FILE) as saved:
        return {key: saved[key] for key in ("labels", "probabilities")}


def _fingerprint(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()[:16]


def evaluate(predictions: Mapping[str, np.ndarray], config: PipelineConfig) -> Dict[str, Any]:
    """The figures of saved eval predictions: binary (with the quality target) or per class."""
    if config.multiclass:
        return evaluate_multiclass(predictions, config.slice_feature_keys, config.class_names, config.protected_classes)
    figures = evaluate_predictions(predictions, config.slice_feature_keys)
    figures["quality_target"] = quality_target(figures["overall"])
    return figures


def valid_figures(predictions: Mapping[str, np.ndarray], config: PipelineConfig) -> Dict[str, Any]:
    """The ranking figures on the valid split, the one a user may choose a strategy by without touching eval.

    Binary: PR-AUC (average precision) and ROC-AUC of the probability. Multiclass: the one-vs-rest
    PR-AUC of each class, their macro mean and the protected classes' mean (the report's ranking
    metric). The valid split also early-stopped and tuned each model, so these run a little high;
    they rank, eval measures.
    """
    labels, probabilities = predictions["labels"], predictions["probabilities"]
    if not config.multiclass:
        return {"pr_auc": average_precision(labels, probabilities), "roc_auc": roc_auc(labels, probabilities)}
    per_class = [
        average_precision((labels == index).astype(np.int8), probabilities[:, index])
        for index in range(len(config.class_names))
    ]
    protected = [per_class[index] for index in config.protected_classes]
    return {"macro_pr_auc": mean_of_defined(per_class), "protected_mean_pr_auc": mean_of_defined(protected)}


def score_multiclass(serving_dir: str, split_dir: pathlib.Path, config: PipelineConfig) -> Dict[str, np.ndarray]:
    """A multiclass model's outputs on a split, with labels and slice values, batch by batch from the TFRecords.

    Returns `labels`, `probabilities` [rows, k], `decision_scores` [rows, k], `decisions` (the
    served class), `slice_<key>` per slice feature, and `class_weights` [k] (the one set of
    weights the model served; several are an error). `harness.score_split` is the binary twin.
    """
    import tensorflow as tf

    files = sorted(str(path) for path in split_dir.glob("*.gz"))
    if not files:
        raise RuntimeError(f"no gzip TFRecords in {split_dir}; make the Examples again")
    serve = tf.saved_model.load(serving_dir).signatures["serving_default"]
    spec = {config.label_key: tf.io.FixedLenFeature([], tf.int64)}
    # A categorical slice column's missing value is an absent feature: its own slice value here.
    slice_spec = tf.io.FixedLenFeature([], tf.string, default_value=MISSING_SLICE_VALUE)
    spec.update({key: slice_spec for key in config.slice_feature_keys})
    dataset = tf.data.TFRecordDataset(files, compression_type="GZIP").batch(harness.SCORING_BATCH_SIZE)
    names = ("labels", "probabilities", "decision_scores", "decisions", "class_weights")
    parts: Dict[str, List[np.ndarray]] = {name: [] for name in names}
    parts.update({f"slice_{key}": [] for key in config.slice_feature_keys})
    for batch in dataset:
        outputs = serve(**{serving.SERVING_INPUT: batch})
        parsed = tf.io.parse_example(batch, spec)
        parts["labels"].append(parsed[config.label_key].numpy().astype(np.int8))
        parts["probabilities"].append(outputs[serving.PROBABILITIES_OUTPUT].numpy())
        parts["decision_scores"].append(outputs[serving.DECISION_SCORES_OUTPUT].numpy())
        parts["decisions"].append(outputs[serving.CLASS_OUTPUT].numpy().reshape(-1).astype(np.int8))
        parts["class_weights"].append(outputs[serving.CLASS_WEIGHTS_OUTPUT].numpy())
        for key in config.slice_feature_keys:
            parts[f"slice_{key}"].append(parsed[key].numpy().astype(str))
    predictions = {name: np.concatenate(values) for name, values in parts.items()}
    weights = np.unique(predictions.pop("class_weights"), axis=0)
    if weights.shape[0] != 1:
        raise RuntimeError(f"the serving signature returned {weights.shape[0]} different class weights: {weights[:5]}")
    predictions["class_weights"] = weights[0]
    return predictions


def _check_served_rule(name: str, predictions: Mapping[str, np.ndarray], training_report: Mapping[str, Any]) -> None:
    """The model serves the threshold (binary) or the class weights (multiclass) its training report states."""
    if "class_weights" in predictions:
        reported = training_report["decision_rule"]["class_weights"]
        if not np.allclose(predictions["class_weights"], reported, rtol=1e-6, atol=0.0):
            raise RuntimeError(
                f"[{name}] the model serves class weights {predictions['class_weights'].tolist()} but "
                f"training_report.json says {reported}"
            )
        return
    served = float(predictions["threshold"])
    if not math.isclose(served, training_report["decision_threshold"], rel_tol=1e-6, abs_tol=1e-7):
        raise RuntimeError(
            f"[{name}] the model serves threshold {served} but training_report.json says "
            f"{training_report['decision_threshold']}"
        )


def _decision_rule(config: PipelineConfig, training_report: Mapping[str, Any]) -> Dict[str, Any]:
    """What turns probabilities into decisions: the tuned threshold, or the per-class weights."""
    if config.multiclass:
        rule = training_report["decision_rule"]
        return {
            "class_weights": dict(zip(config.class_names, rule["class_weights"], strict=True)),
            "decision_rule": rule["rule_applied"],
            "decision_rule_satisfied": rule["satisfied"],
        }
    return {"threshold": training_report["decision_threshold"], "threshold_rule": training_report["threshold_rule"]}


def _reuse(strategy: Strategy, config: PipelineConfig, workdir: pathlib.Path, fingerprint: str):
    """The finished result in `workdir` if it was made with the same settings, else None."""
    result_path = workdir / RESULT_FILE
    if not all(path.exists() for path in (result_path, workdir / PREDICTIONS_FILE, workdir / VALID_PREDICTIONS_FILE)):
        return None
    previous = json.loads(result_path.read_text())
    if previous.get("fingerprint") != fingerprint:
        return None
    print(f"[{strategy.name}] reusing the finished run in {workdir}", flush=True)
    # The figures are recomputed from the saved predictions, so they follow the current metric code.
    with np.load(workdir / PREDICTIONS_FILE) as saved:
        previous.update(evaluate(dict(saved), config))
    with np.load(workdir / VALID_PREDICTIONS_FILE) as saved:
        previous["valid"] = valid_figures(dict(saved), config)
    return previous


def run_strategy(
    strategy: Strategy,
    base: PipelineConfig,
    examples,
    schema,
    output: pathlib.Path,
    data_key: Mapping[str, Any],
    train_counts: Optional[Mapping[int, int]] = None,
) -> Dict[str, Any]:
    """Rebalance (if any) -> Trainer -> scoring of eval and valid; reuses a finished run with the same settings.

    `data_key` names the data the Examples were made from (a result made from other data is redone);
    `train_counts` (rows per class of the training split) size a multiclass label's Rebalance targets.
    """
    import tensorflow as tf

    config = strategy_config(base, strategy, train_counts)
    description = strategy.describe(config.multiclass)
    workdir = strategy_dir(output, strategy.name)
    settings = {
        "version": RESULT_VERSION,
        "trainer": trainer_custom_config(config),
        "rebalance": dataclasses.asdict(config.rebalance) if strategy.rebalance else None,
        "examples": str(examples.uri),
        "data": data_key,
    }
    fingerprint = _fingerprint(settings)
    previous = _reuse(strategy, config, workdir, fingerprint)
    if previous is not None:
        return previous
    if workdir.exists():
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True)
    print(f"[{strategy.name}] {description}", flush=True)

    cpu_started = cpu_seconds()
    rebalance_seconds, summary, train_examples = 0.0, None, examples
    if strategy.rebalance:
        started = time.monotonic()
        train_examples, summary = harness.run_rebalance(examples, config, workdir)
        rebalance_seconds = time.monotonic() - started
        print(f"[{strategy.name}] Rebalance took {rebalance_seconds:.1f}s: {summary['splits']['train']}", flush=True)
    started = time.monotonic()
    serving_dir, training_report = harness.run_trainer(train_examples, schema, config, workdir)
    training_seconds = time.monotonic() - started
    if config.multiclass:
        rule = training_report["decision_rule"]
        weights = dict(zip(config.class_names, rule["class_weights"], strict=True))
        chosen = f"class weights {weights} ({rule['message']})"
    else:
        chosen = f"threshold {training_report['decision_threshold']:.6g} ({training_report['threshold_message']})"
    print(f"[{strategy.name}] Trainer took {training_seconds:.1f}s; {chosen}", flush=True)

    started = time.monotonic()
    score = score_multiclass if config.multiclass else harness.score_split
    predictions = score(serving_dir, pathlib.Path(examples.uri) / f"Split-{EVAL_SPLIT}", config)
    valid_predictions = score(serving_dir, pathlib.Path(examples.uri) / f"Split-{VALID_SPLIT}", config)
    scoring_seconds = time.monotonic() - started
    _check_served_rule(strategy.name, predictions, training_report)
    # Valid: what ranks the strategies (labels and probabilities); eval: everything the figures use.
    _write_arrays(
        workdir / VALID_PREDICTIONS_FILE, {key: valid_predictions[key] for key in ("labels", "probabilities")}
    )
    _write_arrays(workdir / PREDICTIONS_FILE, predictions)
    result = {
        "fingerprint": fingerprint,
        "name": strategy.name,
        "description": description,
        "rebalance_strategy": strategy.rebalance or "none",
        "model": config.trainer.model,
        # The training report's loss: the trees' own (binomial log-likelihood) for the tree family.
        "loss": training_report.get("loss", config.trainer.loss),
        "trainer_settings": settings["trainer"],
        "class_counts": class_counts(strategy, config, training_report, summary),
        "seconds": {
            "rebalance": round(rebalance_seconds, 2),
            "training": round(training_seconds, 2),
            "scoring": round(scoring_seconds, 2),
            "total": round(rebalance_seconds + training_seconds + scoring_seconds, 2),
            "cpu": round(cpu_seconds() - cpu_started, 2),
        },
        **_decision_rule(config, training_report),
        "training_report": training_report,
        "predictions_file": str((workdir / PREDICTIONS_FILE).relative_to(output)),
        **evaluate(predictions, config),
        "valid": valid_figures(valid_predictions, config),
    }
    write_atomically(workdir / RESULT_FILE, json.dumps(result, indent=2, sort_keys=True).encode())
    tf.keras.backend.clear_session()
    return result
