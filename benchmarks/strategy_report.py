"""Side-by-side report of every imbalance strategy, trained and scored on the same splits.

    .venv/bin/python -m benchmarks.strategy_report --output reports/strategies
    .venv/bin/python -m benchmarks.strategy_report --output /tmp/r --data tests/data/creditcard_small.csv \\
        --strategies none,smote,ensemble --max-epochs 1

What one run does:
1. prepares the CSV like the runner (`pipeline.data`), runs the stock CsvExampleGen executor once
   (train/valid/eval hash split of the config) and imports the project's schema;
2. per strategy: runs the real Rebalance executor (Beam) where the strategy is a resampling one,
   then the stock TFX Trainer GenericExecutor with `components.trainer.model.run_fn` and
   `trainer_custom_config(config)`, exactly as the pipeline does; the strategy only changes
   `trainer.loss`, `trainer.balanced_batches`, `trainer.ensemble_members` or `rebalance.strategy`;
3. scores the eval split through the exported SavedModel's `serving_default` signature, batch
   by batch from the TFRecords, and saves labels, probabilities, decisions and slice values in
   `strategies/<name>/predictions.npz`;
4. computes PR-AUC (average precision), ROC-AUC and precision/recall/F1 at the threshold the
   Trainer tuned on `valid` (read from `training_report.json`), overall and per slice;
5. writes `report.json` (every figure) and a self-contained `report.html` (inline PNGs).

Resampling strategies train with plain `bce`: the resampled mix is the treatment, and class
weights on top would correct for the imbalance twice. Re-running with the same `--output` reuses
ExampleGen's output and every strategy whose settings are unchanged (their recorded times too).
Given the same Examples, every strategy's model and figures are the same on every run (seeds
from the config).
"""

from __future__ import annotations

import os

# TFX 1.16 needs Keras 2 (tf-keras); this must be set before TensorFlow is imported.
os.environ["TF_USE_LEGACY_KERAS"] = "1"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import argparse  # noqa: E402
import base64  # noqa: E402
import dataclasses  # noqa: E402
import hashlib  # noqa: E402
import html  # noqa: E402
import io  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import pathlib  # noqa: E402
import resource  # noqa: E402
import shutil  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple  # noqa: E402

import numpy as np  # noqa: E402

from pipeline.config import ConfigError, PipelineConfig  # noqa: E402
from pipeline.errors import UserInputError  # noqa: E402
from pipeline.overrides import add_config_flags, apply_overrides  # noqa: E402

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]
SCHEMA_FILE = REPO_ROOT / "schema" / "schema.pbtxt"
# In-process DirectRunner (one process). ExampleGen writes the rows in another order on every fresh
# --output (TFX's unseeded beam.Reshuffle), so models are reproducible given the same Examples, which
# a reused --output keeps. Pass --beam-arg=--direct_running_mode=multi_processing for speed instead.
DEFAULT_BEAM_ARGS = ("--direct_running_mode=in_memory",)
REPORT_JSON = "report.json"
REPORT_HTML = "report.html"
PREDICTIONS_FILE = "predictions.npz"
RESULT_FILE = "result.json"
EXAMPLES_DONE_FILE = "examples_done.json"
SCORING_BATCH_SIZE = 4096
CURVE_POINTS = 400
# Bump when what a strategy's result holds changes, so old results in a reused --output are redone.
RESULT_VERSION = 1

# The quality target for the best strategy on the credit-card eval split.
TARGET_PR_AUC = 0.85
TARGET_ROC_AUC = 0.98
TARGET_RECALL = 0.85
TARGET_PRECISION = 0.5


class StrategyReportError(UserInputError):
    """A bad argument or input of the strategy report, with what to do about it."""


@dataclasses.dataclass(frozen=True)
class Strategy:
    """One way of handling the imbalance: a Rebalance strategy (or none) plus Trainer settings."""

    name: str
    description: str
    rebalance: Optional[str] = None
    trainer: Tuple[Tuple[str, Any], ...] = ()
    # Trains trainer.ensemble_members members (--ensemble-members), else one model.
    ensemble: bool = False


STRATEGIES: Tuple[Strategy, ...] = (
    Strategy("none", "plain cross-entropy, output bias log(pos/neg)", trainer=(("loss", "bce"),)),
    Strategy("class_weights", "balanced class weights n/(2*count_c)", trainer=(("loss", "weighted_bce"),)),
    Strategy("pos_weight", "weighted_cross_entropy_with_logits, pos_weight=neg/pos", trainer=(("loss", "pos_weight"),)),
    Strategy("focal", "focal loss (alpha, gamma from the config)", trainer=(("loss", "focal"),)),
    Strategy(
        "undersample", "Rebalance undersample, then plain bce", rebalance="undersample", trainer=(("loss", "bce"),)
    ),
    Strategy("oversample", "Rebalance oversample, then plain bce", rebalance="oversample", trainer=(("loss", "bce"),)),
    Strategy("smote", "Rebalance SMOTE, then plain bce", rebalance="smote", trainer=(("loss", "bce"),)),
    Strategy(
        "balanced_batches",
        "batches drawn with batch_positive_share positives, plain bce",
        trainer=(("loss", "bce"), ("balanced_batches", True)),
    ),
    Strategy(
        "ensemble",
        "balanced bagging: members on all positives + a seeded share of negatives, bce",
        trainer=(("loss", "bce"), ("ensemble_majority_fraction", 0.1)),
        ensemble=True,
    ),
    Strategy(
        "seed_bagging",
        "members on every row, each with its own initial weights and batch order; bce, probabilities averaged",
        trainer=(("loss", "bce"), ("ensemble_majority_fraction", 1.0)),
        ensemble=True,
    ),
)
STRATEGY_NAMES = tuple(strategy.name for strategy in STRATEGIES)


# ----------------------------------------------------------------------------------------------
# Metrics (numpy only, so the test can check them against scikit-learn independently)
# ----------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Curve:
    """Counts at every distinct score, highest first: decision `score >= thresholds[i]`."""

    thresholds: np.ndarray
    true_positives: np.ndarray
    false_positives: np.ndarray
    positives: int
    negatives: int


def ranking_curve(labels: np.ndarray, scores: np.ndarray) -> Curve:
    labels = np.asarray(labels).reshape(-1).astype(bool)
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    if labels.size != scores.size:
        raise ValueError(f"labels ({labels.size}) and scores ({scores.size}) differ in length")
    if labels.size and not np.all(np.isfinite(scores)):
        raise ValueError("scores hold NaN or infinite values; the model's probabilities must be finite")
    order = np.argsort(-scores, kind="mergesort")
    sorted_scores, sorted_labels = scores[order], labels[order]
    # The last index of each run of equal scores: all rows scoring >= that value are predicted positive.
    distinct = np.flatnonzero(np.diff(sorted_scores)) if sorted_scores.size else np.array([], dtype=np.int64)
    ends = np.concatenate([distinct, [sorted_scores.size - 1]]) if sorted_scores.size else distinct
    true_positives = np.cumsum(sorted_labels)[ends] if sorted_scores.size else np.array([])
    false_positives = (ends + 1) - true_positives
    positives = int(labels.sum())
    return Curve(sorted_scores[ends], true_positives, false_positives, positives, int(labels.size - positives))


def average_precision(labels: np.ndarray, scores: np.ndarray) -> Optional[float]:
    """sum_n (R_n - R_{n-1}) P_n over distinct thresholds (scikit-learn's definition); None without positives."""
    curve = ranking_curve(labels, scores)
    if curve.positives == 0:
        return None
    precision = curve.true_positives / (curve.true_positives + curve.false_positives)
    recall = curve.true_positives / curve.positives
    recall_steps = np.diff(np.concatenate([[0.0], recall]))
    return float(np.sum(recall_steps * precision))


def roc_auc(labels: np.ndarray, scores: np.ndarray) -> Optional[float]:
    """Trapezoidal area under the ROC curve (ties count half); None unless both classes are present."""
    curve = ranking_curve(labels, scores)
    if curve.positives == 0 or curve.negatives == 0:
        return None
    tpr = np.concatenate([[0.0], curve.true_positives / curve.positives])
    fpr = np.concatenate([[0.0], curve.false_positives / curve.negatives])
    return float(np.trapz(tpr, fpr))


def metrics_at_threshold(labels: np.ndarray, decisions: np.ndarray) -> Dict[str, Any]:
    """Confusion counts and precision/recall/F1 of hard decisions; an undefined ratio is 0 (as zero_division=0)."""
    labels = np.asarray(labels).reshape(-1).astype(bool)
    decisions = np.asarray(decisions).reshape(-1).astype(bool)
    tp = int(np.sum(labels & decisions))
    fp = int(np.sum(~labels & decisions))
    fn = int(np.sum(labels & ~decisions))
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0
    return {
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "tp": tp,
        "fp": fp,
        "fn": fn,
        "tn": int(labels.size - tp - fp - fn),
    }


def max_recall_at_precision(labels: np.ndarray, scores: np.ndarray, min_precision: float) -> Optional[float]:
    """The best recall any threshold reaches on these labels with precision >= min_precision (an oracle figure)."""
    curve = ranking_curve(labels, scores)
    if curve.positives == 0:
        return None
    precision = curve.true_positives / (curve.true_positives + curve.false_positives)
    recall = curve.true_positives / curve.positives
    ok = precision >= min_precision
    return float(recall[ok].max()) if np.any(ok) else 0.0


def _thin(xs: np.ndarray, ys: np.ndarray, points: int = CURVE_POINTS) -> Tuple[List[float], List[float]]:
    """At most `points` points of a curve, keeping both ends (for plots and the JSON)."""
    if xs.size > points:
        keep = np.unique(np.round(np.linspace(0, xs.size - 1, points)).astype(np.int64))
        xs, ys = xs[keep], ys[keep]
    return [round(float(x), 6) for x in xs], [round(float(y), 6) for y in ys]


def curves(labels: np.ndarray, scores: np.ndarray) -> Dict[str, Dict[str, List[float]]]:
    """PR and ROC curves through their corners (where a positive is added), thinned to CURVE_POINTS."""
    curve = ranking_curve(labels, scores)
    if curve.positives == 0 or curve.negatives == 0:
        return {}
    precision = curve.true_positives / (curve.true_positives + curve.false_positives)
    recall = curve.true_positives / curve.positives
    fpr = curve.false_positives / curve.negatives
    last = recall.size - 1
    # The first threshold that reaches each true-positive count: the PR curve's corners.
    rises = np.flatnonzero(np.diff(np.concatenate([[0], curve.true_positives])) > 0)
    pr_index = np.unique(np.concatenate([rises, [last]]))
    # ROC's staircase also needs the point just before each rise.
    roc_index = np.unique(np.concatenate([rises, rises - 1, [last]]))
    roc_index = roc_index[roc_index >= 0]
    pr_recall, pr_precision = _thin(
        np.concatenate([[0.0], recall[pr_index]]), np.concatenate([[1.0], precision[pr_index]])
    )
    roc_fpr, roc_tpr = _thin(np.concatenate([[0.0], fpr[roc_index]]), np.concatenate([[0.0], recall[roc_index]]))
    return {"pr": {"recall": pr_recall, "precision": pr_precision}, "roc": {"fpr": roc_fpr, "tpr": roc_tpr}}


def score_metrics(labels: np.ndarray, probabilities: np.ndarray, decisions: np.ndarray) -> Dict[str, Any]:
    labels = np.asarray(labels).reshape(-1)
    figures = {
        "rows": int(labels.size),
        "positives": int(np.sum(labels == 1)),
        "pr_auc": average_precision(labels, probabilities),
        "roc_auc": roc_auc(labels, probabilities),
    }
    figures.update(metrics_at_threshold(labels, decisions))
    return figures


def evaluate_predictions(predictions: Mapping[str, np.ndarray], slice_keys: Sequence[str]) -> Dict[str, Any]:
    """Overall and per-slice metrics of one strategy's saved eval predictions."""
    labels = predictions["labels"]
    probabilities = predictions["probabilities"]
    decisions = predictions["decisions"]
    overall = score_metrics(labels, probabilities, decisions)
    overall["max_recall_at_precision_0.5"] = max_recall_at_precision(labels, probabilities, TARGET_PRECISION)
    slices: Dict[str, Dict[str, Any]] = {}
    for key in slice_keys:
        values = predictions[f"slice_{key}"]
        slices[key] = {}
        for value in sorted(set(values.tolist())):
            mask = values == value
            slices[key][str(value)] = score_metrics(labels[mask], probabilities[mask], decisions[mask])
    return {"overall": overall, "slices": slices, "curves": curves(labels, probabilities)}


def quality_target(overall: Mapping[str, Any]) -> Dict[str, Any]:
    """The issue's target, judged at the strategy's own tuned threshold."""
    checks = {
        f"pr_auc >= {TARGET_PR_AUC}": (overall["pr_auc"] or 0.0) >= TARGET_PR_AUC,
        f"roc_auc >= {TARGET_ROC_AUC}": (overall["roc_auc"] or 0.0) >= TARGET_ROC_AUC,
        f"recall >= {TARGET_RECALL} at tuned threshold": overall["recall"] >= TARGET_RECALL,
        f"precision >= {TARGET_PRECISION} at tuned threshold": overall["precision"] >= TARGET_PRECISION,
    }
    return {"checks": checks, "met": all(checks.values())}


# ----------------------------------------------------------------------------------------------
# Running the real components
# ----------------------------------------------------------------------------------------------


def cpu_seconds() -> float:
    """CPU time of this process and its finished children (Beam workers): the load-independent cost."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _fingerprint(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _write_atomically(path: pathlib.Path, data: bytes) -> None:
    temp = path.with_name(f".{path.name}.tmp")
    temp.write_bytes(data)
    os.replace(temp, path)


def _beam_context(beam_args: Sequence[str], tmp_dir: pathlib.Path):
    from tfx.dsl.components.base import base_beam_executor  # noqa: PLC0415

    tmp_dir.mkdir(parents=True, exist_ok=True)
    return base_beam_executor.BaseBeamExecutor.Context(
        beam_pipeline_args=list(beam_args), tmp_dir=str(tmp_dir), unique_id="strategy_report"
    )


def _examples_artifact(uri: pathlib.Path, split_names: Sequence[str]):
    from tfx.components.util import examples_utils  # noqa: PLC0415
    from tfx.proto import example_gen_pb2  # noqa: PLC0415
    from tfx.types import artifact_utils, standard_artifacts  # noqa: PLC0415

    examples = standard_artifacts.Examples()
    examples.uri = str(uri)
    examples.split_names = artifact_utils.encode_split_names(list(split_names))
    examples_utils.set_payload_format(examples, example_gen_pb2.PayloadFormat.FORMAT_TF_EXAMPLE)
    examples_utils.set_file_format(examples, "tfrecords_gzip")
    return examples


def make_examples(clean_csv: pathlib.Path, config: PipelineConfig, output: pathlib.Path, beam_args: Sequence[str]):
    """CsvExampleGen's executor on the prepared CSV, once per data and split config (reused otherwise)."""
    from tfx.components.example_gen.csv_example_gen import executor as csv_executor  # noqa: PLC0415
    from tfx.proto import example_gen_pb2  # noqa: PLC0415
    from tfx.types import standard_component_specs  # noqa: PLC0415
    from tfx.utils import proto_utils  # noqa: PLC0415

    split_names = [name for name, _ in config.split_buckets]
    uri = output / "examples"
    done = output / EXAMPLES_DONE_FILE
    stat = clean_csv.stat()
    # Where the output folder lives is no part of the key, so a copied folder (cp -al) is reused too.
    key = {"csv": clean_csv.name, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "splits": config.split_buckets}
    if done.exists() and json.loads(done.read_text()).get("key") == json.loads(json.dumps(key)):
        print(f"examples: reusing {uri}", flush=True)
        return _examples_artifact(uri, split_names), json.loads(done.read_text())["seconds"]
    if uri.exists():
        shutil.rmtree(uri)
    done.unlink(missing_ok=True)
    examples = _examples_artifact(uri, split_names)
    uri.mkdir(parents=True)
    output_config = example_gen_pb2.Output(
        split_config=example_gen_pb2.SplitConfig(
            splits=[
                example_gen_pb2.SplitConfig.Split(name=name, hash_buckets=count) for name, count in config.split_buckets
            ]
        )
    )
    input_config = example_gen_pb2.Input(
        splits=[example_gen_pb2.Input.Split(name="single_split", pattern=clean_csv.name)]
    )
    exec_properties = {
        standard_component_specs.INPUT_BASE_KEY: str(clean_csv.parent),
        standard_component_specs.INPUT_CONFIG_KEY: proto_utils.proto_to_json(input_config),
        standard_component_specs.OUTPUT_CONFIG_KEY: proto_utils.proto_to_json(output_config),
        standard_component_specs.OUTPUT_DATA_FORMAT_KEY: example_gen_pb2.FORMAT_TF_EXAMPLE,
        standard_component_specs.OUTPUT_FILE_FORMAT_KEY: example_gen_pb2.FORMAT_TFRECORDS_GZIP,
    }
    started = time.monotonic()
    csv_executor.Executor(_beam_context(beam_args, output / "tmp")).Do(
        {}, {standard_component_specs.EXAMPLES_KEY: [examples]}, exec_properties
    )
    seconds = time.monotonic() - started
    _write_atomically(done, json.dumps({"key": key, "seconds": seconds}).encode())
    return examples, seconds


def make_schema(output: pathlib.Path):
    from tfx.types import standard_artifacts  # noqa: PLC0415

    schema = standard_artifacts.Schema()
    schema_dir = output / "schema"
    schema_dir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(SCHEMA_FILE, schema_dir / "schema.pbtxt")
    schema.uri = str(schema_dir)
    return schema


def run_rebalance(examples, config: PipelineConfig, workdir: pathlib.Path, beam_args: Sequence[str]):
    """The real Rebalance executor (Beam) on the examples; returns the output artifact and its summary."""
    from components.rebalance import executor as rebalance_executor  # noqa: PLC0415
    from components.rebalance.plan import RebalanceParameters  # noqa: PLC0415

    params = RebalanceParameters(label_key=config.label_key, **dataclasses.asdict(config.rebalance))
    output = _examples_artifact(workdir / "rebalanced", [])
    pathlib.Path(output.uri).mkdir(parents=True, exist_ok=True)
    rebalance_executor.Executor(_beam_context(beam_args, workdir / "tmp")).Do(
        {rebalance_executor.EXAMPLES_KEY: [examples]},
        {rebalance_executor.REBALANCED_EXAMPLES_KEY: [output]},
        params.to_exec_properties(),
    )
    summary = json.loads((pathlib.Path(output.uri) / rebalance_executor.SUMMARY_FILE_NAME).read_text())
    return output, summary


def run_trainer(examples, schema, config: PipelineConfig, workdir: pathlib.Path) -> Tuple[str, Dict[str, Any]]:
    """The stock TFX Trainer executor with the pipeline's run_fn and custom config."""
    from tfx.components.trainer import executor as trainer_executor  # noqa: PLC0415
    from tfx.proto import trainer_pb2  # noqa: PLC0415
    from tfx.types import standard_artifacts, standard_component_specs  # noqa: PLC0415
    from tfx.utils import proto_utils  # noqa: PLC0415

    from components.trainer import model as trainer_model  # noqa: PLC0415
    from pipeline.pipeline import TRAIN_SPLIT, TRAINER_RUN_FN, VALID_SPLIT, trainer_custom_config  # noqa: PLC0415

    model = standard_artifacts.Model()
    model.uri = str(workdir / "model")
    model_run = standard_artifacts.ModelRun()
    model_run.uri = str(workdir / "model_run")
    exec_properties = {
        standard_component_specs.RUN_FN_KEY: TRAINER_RUN_FN,
        standard_component_specs.TRAIN_ARGS_KEY: proto_utils.proto_to_json(trainer_pb2.TrainArgs(splits=[TRAIN_SPLIT])),
        standard_component_specs.EVAL_ARGS_KEY: proto_utils.proto_to_json(trainer_pb2.EvalArgs(splits=[VALID_SPLIT])),
        standard_component_specs.CUSTOM_CONFIG_KEY: json.dumps(trainer_custom_config(config)),
    }
    trainer_executor.GenericExecutor().Do(
        {standard_component_specs.EXAMPLES_KEY: [examples], standard_component_specs.SCHEMA_KEY: [schema]},
        {standard_component_specs.MODEL_KEY: [model], standard_component_specs.MODEL_RUN_KEY: [model_run]},
        exec_properties,
    )
    serving_dir = os.path.join(model.uri, "Format-Serving")
    return serving_dir, trainer_model.read_training_report(serving_dir)


def score_split(serving_dir: str, split_dir: pathlib.Path, config: PipelineConfig) -> Dict[str, np.ndarray]:
    """Probabilities and decisions from the serving signature, with labels and slice values, batch by batch."""
    import tensorflow as tf  # noqa: PLC0415

    from components.trainer import model as trainer_model  # noqa: PLC0415

    files = sorted(str(path) for path in split_dir.glob("*.gz"))
    if not files:
        raise StrategyReportError(f"no gzip TFRecords in {split_dir}; re-run without reusing --output")
    serve = tf.saved_model.load(serving_dir).signatures["serving_default"]
    spec = {config.label_key: tf.io.FixedLenFeature([], tf.int64)}
    spec.update({key: tf.io.FixedLenFeature([], tf.string) for key in config.slice_feature_keys})
    dataset = tf.data.TFRecordDataset(files, compression_type="GZIP").batch(SCORING_BATCH_SIZE)
    parts: Dict[str, List[np.ndarray]] = {"labels": [], "probabilities": [], "decisions": [], "thresholds": []}
    parts.update({f"slice_{key}": [] for key in config.slice_feature_keys})
    for batch in dataset:
        outputs = serve(**{trainer_model.SERVING_INPUT: batch})
        parsed = tf.io.parse_example(batch, spec)
        parts["labels"].append(parsed[config.label_key].numpy().astype(np.int8))
        parts["probabilities"].append(outputs[trainer_model.PROBABILITY_OUTPUT].numpy().reshape(-1))
        parts["decisions"].append(outputs[trainer_model.DECISION_OUTPUT].numpy().reshape(-1).astype(np.int8))
        parts["thresholds"].append(outputs[trainer_model.THRESHOLD_OUTPUT].numpy().reshape(-1))
        for key in config.slice_feature_keys:
            parts[f"slice_{key}"].append(parsed[key].numpy().astype(str))
    predictions = {name: np.concatenate(values) if values else np.array([]) for name, values in parts.items()}
    thresholds = np.unique(predictions.pop("thresholds"))
    if thresholds.size != 1:
        raise RuntimeError(f"the serving signature returned {thresholds.size} different thresholds: {thresholds[:5]}")
    predictions["threshold"] = np.asarray(thresholds[0], dtype=np.float32)
    return predictions


def strategy_config(base: PipelineConfig, strategy: Strategy) -> PipelineConfig:
    trainer = dict(strategy.trainer)
    trainer.setdefault("balanced_batches", False)
    trainer["ensemble_members"] = base.trainer.ensemble_members if strategy.ensemble else 1
    rebalance = dataclasses.replace(base.rebalance, strategy=strategy.rebalance or "none")
    return dataclasses.replace(base, trainer=dataclasses.replace(base.trainer, **trainer), rebalance=rebalance)


def class_counts(
    strategy: Strategy,
    config: PipelineConfig,
    training_report: Mapping[str, Any],
    rebalance_summary: Optional[Mapping[str, Any]],
) -> Dict[str, Any]:
    """Training-split class counts before and after resampling, and what the model sees per epoch."""
    if rebalance_summary is not None:
        split = rebalance_summary["splits"]["train"]
        before = {str(k): int(v) for k, v in split["before"].items()}
        after = {str(k): int(v) for k, v in split["after"].items()}
        note = f"Rebalance {strategy.rebalance}, target_ratio {config.rebalance.target_ratio:g}"
    else:
        positives = int(training_report["train_positives"])
        before = {"0": int(training_report["train_rows"]) - positives, "1": positives}
        after = dict(before)
        note = "no resampling"
        if config.trainer.balanced_batches:
            share = config.trainer.batch_positive_share
            note = f"batches drawn with {share:.0%} positives (positives repeat); files unchanged"
            rows = sum(before.values())
            after = {"0": round(rows * (1 - share)), "1": round(rows * share)}
        elif config.trainer.ensemble_members > 1:
            fraction = config.trainer.ensemble_majority_fraction
            members = config.trainer.ensemble_members
            note = (
                f"{members} members, each on every row"
                if fraction >= 1.0
                else f"{members} members, each on every positive and ~{fraction:.0%} of negatives"
            )
            after = {"0": round(before["0"] * fraction), "1": before["1"]}
    return {"before": before, "after": after, "note": note}


def run_strategy(
    strategy: Strategy, base: PipelineConfig, examples, schema, output: pathlib.Path, args: argparse.Namespace
) -> Dict[str, Any]:
    """Rebalance (if any) -> Trainer -> scoring of the eval split; reuses a finished run with the same settings."""
    import tensorflow as tf  # noqa: PLC0415

    from pipeline.pipeline import EVAL_SPLIT, trainer_custom_config  # noqa: PLC0415

    config = strategy_config(base, strategy)
    workdir = output / "strategies" / strategy.name
    settings = {
        "version": RESULT_VERSION,
        "trainer": trainer_custom_config(config),
        "rebalance": dataclasses.asdict(config.rebalance) if strategy.rebalance else None,
        "examples": str(examples.uri),
        "splits": config.split_buckets,
    }
    fingerprint = _fingerprint(settings)
    result_path = workdir / RESULT_FILE
    if result_path.exists() and (workdir / PREDICTIONS_FILE).exists():
        previous = json.loads(result_path.read_text())
        if previous.get("fingerprint") == fingerprint:
            print(f"[{strategy.name}] reusing the finished run in {workdir}", flush=True)
            # The figures are recomputed from the saved predictions, so they follow this module's metric code.
            with np.load(workdir / PREDICTIONS_FILE) as saved:
                previous.update(evaluate_predictions(dict(saved), config.slice_feature_keys))
            previous["quality_target"] = quality_target(previous["overall"])
            return previous
    if workdir.exists():
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True)
    print(f"[{strategy.name}] {strategy.description}", flush=True)

    cpu_started = cpu_seconds()
    rebalance_seconds, summary, train_examples = 0.0, None, examples
    if strategy.rebalance:
        started = time.monotonic()
        train_examples, summary = run_rebalance(examples, config, workdir, args.beam_args)
        rebalance_seconds = time.monotonic() - started
        print(f"[{strategy.name}] Rebalance took {rebalance_seconds:.1f}s: {summary['splits']['train']}", flush=True)
    started = time.monotonic()
    serving_dir, training_report = run_trainer(train_examples, schema, config, workdir)
    training_seconds = time.monotonic() - started
    print(
        f"[{strategy.name}] Trainer took {training_seconds:.1f}s; threshold "
        f"{training_report['decision_threshold']:.6g} ({training_report['threshold_message']})",
        flush=True,
    )

    started = time.monotonic()
    predictions = score_split(serving_dir, pathlib.Path(examples.uri) / f"Split-{EVAL_SPLIT}", config)
    scoring_seconds = time.monotonic() - started
    served = float(predictions["threshold"])
    if not math.isclose(served, training_report["decision_threshold"], rel_tol=1e-6, abs_tol=1e-7):
        raise RuntimeError(
            f"[{strategy.name}] the model serves threshold {served} but training_report.json says "
            f"{training_report['decision_threshold']}"
        )
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **predictions)
    _write_atomically(workdir / PREDICTIONS_FILE, buffer.getvalue())
    evaluation = evaluate_predictions(predictions, config.slice_feature_keys)
    result = {
        "fingerprint": fingerprint,
        "name": strategy.name,
        "description": strategy.description,
        "rebalance_strategy": strategy.rebalance or "none",
        "loss": config.trainer.loss,
        "trainer_settings": settings["trainer"],
        "class_counts": class_counts(strategy, config, training_report, summary),
        "seconds": {
            "rebalance": round(rebalance_seconds, 2),
            "training": round(training_seconds, 2),
            "scoring": round(scoring_seconds, 2),
            "total": round(rebalance_seconds + training_seconds + scoring_seconds, 2),
            "cpu": round(cpu_seconds() - cpu_started, 2),
        },
        "threshold": training_report["decision_threshold"],
        "threshold_rule": training_report["threshold_rule"],
        "training_report": training_report,
        "predictions_file": str((workdir / PREDICTIONS_FILE).relative_to(output)),
        **evaluation,
    }
    result["quality_target"] = quality_target(result["overall"])
    _write_atomically(result_path, json.dumps(result, indent=2, sort_keys=True).encode())
    tf.keras.backend.clear_session()
    return result


# ----------------------------------------------------------------------------------------------
# The report
# ----------------------------------------------------------------------------------------------


def _png(figure) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight", metadata={"Software": None})
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def plot_curves(results: Mapping[str, Mapping[str, Any]]) -> Dict[str, str]:
    """PR curves of all strategies on one plot, ROC curves on another, as inline PNG data URIs."""
    import matplotlib  # noqa: PLC0415

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt  # noqa: PLC0415

    images = {}
    cmap = plt.get_cmap("tab10")
    for kind, (x_key, y_key, x_label, y_label) in {
        "pr": ("recall", "precision", "recall", "precision"),
        "roc": ("fpr", "tpr", "false positive rate (log scale)", "true positive rate"),
    }.items():
        figure, axes = plt.subplots(figsize=(7.5, 5.5))
        for index, (name, result) in enumerate(results.items()):
            curve = result["curves"].get(kind)
            if not curve:
                continue
            metric = result["overall"]["pr_auc" if kind == "pr" else "roc_auc"]
            label = f"{name} ({'AP' if kind == 'pr' else 'AUC'} {metric:.3f})"
            xs, ys = np.asarray(curve[x_key]), np.asarray(curve[y_key])
            if kind == "roc":
                xs = np.maximum(xs, 1e-6)
            axes.plot(
                xs,
                ys,
                label=label,
                color=cmap(index % 10),
                linewidth=1.4,
                drawstyle="steps-pre" if kind == "pr" else "default",
            )
        if kind == "roc":
            axes.set_xscale("log")
            axes.set_xlim(1e-5, 1.0)
        else:
            axes.set_xlim(0, 1.0)
        axes.set_ylim(0, 1.02)
        axes.set_xlabel(x_label)
        axes.set_ylabel(y_label)
        axes.set_title(("Precision-recall" if kind == "pr" else "ROC") + " curves on the eval split")
        axes.grid(alpha=0.3)
        axes.legend(fontsize=8, loc="lower left" if kind == "pr" else "lower right")
        images[kind] = _png(figure)
        plt.close(figure)
    return images


def _fmt(value: Any, digits: int = 4) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        # Ratios with `digits` decimals; seconds (and other large figures) with one.
        return f"{value:.1f}" if abs(value) >= 10 else f"{value:.{digits}f}"
    return html.escape(str(value))


def _table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{_fmt(cell)}</td>" for cell in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def overall_rows(results: Mapping[str, Mapping[str, Any]]) -> List[List[Any]]:
    rows = []
    for name, result in results.items():
        overall = result["overall"]
        rows.append(
            [
                name,
                result["loss"],
                overall["pr_auc"],
                overall["roc_auc"],
                result["threshold"],
                overall["precision"],
                overall["recall"],
                overall["f1"],
                overall["max_recall_at_precision_0.5"],
                result["seconds"]["training"],
                result["seconds"]["rebalance"],
                result["seconds"].get("cpu"),
                "yes" if result["quality_target"]["met"] else "no",
            ]
        )
    return rows


OVERALL_HEADERS = (
    "strategy",
    "loss",
    "PR-AUC",
    "ROC-AUC",
    "threshold",
    "precision",
    "recall",
    "F1",
    "best recall @ precision>=0.5 (oracle)",
    "training s",
    "rebalance s",
    "CPU s (all steps)",
    "meets target",
)


def render_html(report: Mapping[str, Any], images: Mapping[str, str]) -> str:
    results = report["strategies"]
    sections = [
        "<h1>Imbalance strategies side by side</h1>",
        f"<p>Data: <code>{html.escape(report['data']['csv'])}</code>, {report['data']['rows']} rows. "
        f"Eval split: {report['eval_split']['rows']} rows, {report['eval_split']['positives']} positives. "
        f"Every strategy trained on the same train split (valid for early stopping and the threshold), scored on "
        f"eval through its SavedModel's serving signature. Wall time {report['wall_seconds']:.0f} s, CPU time "
        f"{report['cpu_seconds']:.0f} s on {report['cpu_count']} cores (1-minute load average at the end: "
        f"{report['load_average_1m_at_end']}).</p>",
        f"<p>Best on PR-AUC: <b>{html.escape(str(report['best_by_pr_auc']))}</b>. Quality target (PR-AUC &ge; "
        f"{TARGET_PR_AUC}, ROC-AUC &ge; {TARGET_ROC_AUC}, recall &ge; {TARGET_RECALL} at precision &ge; "
        f"{TARGET_PRECISION} at the tuned threshold): "
        f"{'met' if report['quality_target_met_by'] else 'not met'}"
        f"{' by ' + ', '.join(report['quality_target_met_by']) if report['quality_target_met_by'] else ''}.</p>",
        "<h2>Overall metrics (eval split)</h2>",
        _table(OVERALL_HEADERS, overall_rows(results)),
        "<h2>Curves</h2>",
        f'<img alt="precision-recall curves" src="{images["pr"]}">' if "pr" in images else "",
        f'<img alt="ROC curves" src="{images["roc"]}">' if "roc" in images else "",
        "<h2>Training-split class counts before and after resampling</h2>",
        _table(
            ("strategy", "negatives before", "positives before", "negatives after", "positives after", "note"),
            [
                [
                    name,
                    r["class_counts"]["before"].get("0"),
                    r["class_counts"]["before"].get("1"),
                    r["class_counts"]["after"].get("0"),
                    r["class_counts"]["after"].get("1"),
                    r["class_counts"]["note"],
                ]
                for name, r in results.items()
            ],
        ),
        "<h2>Metrics per slice (eval split, tuned threshold)</h2>",
    ]
    for key in report["slice_keys"]:
        rows = []
        for name, result in results.items():
            for value, figures in result["slices"].get(key, {}).items():
                rows.append(
                    [
                        name,
                        value,
                        figures["rows"],
                        figures["positives"],
                        figures["pr_auc"],
                        figures["roc_auc"],
                        figures["precision"],
                        figures["recall"],
                        figures["f1"],
                    ]
                )
        sections.append(f"<h3>{html.escape(key)}</h3>")
        sections.append(
            _table(("strategy", key, "rows", "positives", "PR-AUC", "ROC-AUC", "precision", "recall", "F1"), rows)
        )
    sections.append("<h2>Command</h2>")
    sections.append(f"<pre>{html.escape(report['command'])}</pre>")
    style = (
        "body{font-family:sans-serif;margin:2em;max-width:1200px}table{border-collapse:collapse;margin:1em 0}"
        "td,th{border:1px solid #bbb;padding:3px 8px;font-size:13px;text-align:right}"
        "td:first-child,th:first-child{text-align:left}img{max-width:100%;display:block;margin:1em 0}"
    )
    return (
        '<!DOCTYPE html><html><head><meta charset="utf-8"><title>Imbalance strategy report</title>'
        f"<style>{style}</style></head><body>{''.join(sections)}</body></html>\n"
    )


def markdown_table(report: Mapping[str, Any]) -> str:
    """The overall table as Markdown, for benchmarks/RESULTS.md."""
    lines = ["| " + " | ".join(OVERALL_HEADERS) + " |", "|" + "---|" * len(OVERALL_HEADERS)]
    for row in overall_rows(report["strategies"]):
        lines.append("| " + " | ".join(_fmt(cell, 4) for cell in row) + " |")
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------------------------
# Command line
# ----------------------------------------------------------------------------------------------


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Train and evaluate every imbalance strategy on the same splits; write report.html and "
        "report.json into --output.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--output", required=True, help="folder for the examples, models, predictions and report")
    parser.add_argument("--data", help="raw CSV (the credit-card layout); default: the verified credit-card data")
    parser.add_argument("--data-dir", default=str(REPO_ROOT / "data"), help="where the default data set is cached")
    parser.add_argument(
        "--strategies", default=",".join(STRATEGY_NAMES), help="comma-separated subset of: " + ", ".join(STRATEGY_NAMES)
    )
    parser.add_argument("--max-epochs", type=int, help="trainer.max_epochs (default: the config's)")
    parser.add_argument("--batch-size", type=int, help="trainer.batch_size")
    parser.add_argument("--hidden-units", help="trainer.hidden_units, e.g. 64,32")
    parser.add_argument("--learning-rate", type=float, help="trainer.learning_rate")
    parser.add_argument("--patience", type=int, help="trainer.early_stopping_patience")
    parser.add_argument(
        "--threshold-rule", help="trainer.threshold_rule (max_f1, max_precision_at_recall, max_recall_at_precision)"
    )
    parser.add_argument("--target-ratio", type=float, help="rebalance.target_ratio of the resampling strategies")
    parser.add_argument(
        "--ensemble-members",
        type=int,
        help="trainer.ensemble_members of the two ensemble strategies (default: the config's)",
    )
    add_config_flags(
        parser,
        beam_arg_help="Beam pipeline argument for ExampleGen and Rebalance, repeatable (default: "
        + " ".join(DEFAULT_BEAM_ARGS)
        + ")",
        set_examples="--set trainer.dropout=0.2 (any setting the flags above do not cover)",
    )
    args = parser.parse_args(argv)
    args.beam_args = tuple(args.beam_args) if args.beam_args else DEFAULT_BEAM_ARGS
    return args


def selected_strategies(text: str) -> List[Strategy]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in STRATEGY_NAMES]
    if unknown or not names:
        raise StrategyReportError(
            f"--strategies: unknown {unknown or 'empty list'}; choose from {', '.join(STRATEGY_NAMES)}"
        )
    if len(set(names)) != len(names):
        raise StrategyReportError(f"--strategies names a strategy twice: {names}")
    by_name = {strategy.name: strategy for strategy in STRATEGIES}
    return [by_name[name] for name in names]


def build_config(args: argparse.Namespace, output: pathlib.Path, data_root: pathlib.Path) -> PipelineConfig:
    overrides = list(args.overrides)
    flag_settings = {
        "trainer.max_epochs": args.max_epochs,
        "trainer.batch_size": args.batch_size,
        "trainer.hidden_units": args.hidden_units,
        "trainer.learning_rate": args.learning_rate,
        "trainer.early_stopping_patience": args.patience,
        "trainer.threshold_rule": args.threshold_rule,
        "rebalance.target_ratio": args.target_ratio,
        "trainer.ensemble_members": args.ensemble_members,
    }
    overrides += [f"{name}={value}" for name, value in flag_settings.items() if value is not None]
    config = PipelineConfig(
        pipeline_name="strategy-report",
        pipeline_root=str(output),
        data_root=str(data_root),
        serving_model_dir=str(output / "unused_serving_model"),
        schema_path=str(SCHEMA_FILE),
        beam_pipeline_args=tuple(args.beam_args),
    )
    config = apply_overrides(config, overrides)
    members = config.trainer.ensemble_members
    if members < 2:
        raise StrategyReportError(f"--ensemble-members must be >= 2 for an ensemble, got {members}")
    return config


def run(args: argparse.Namespace, argv: Sequence[str]) -> Dict[str, Any]:
    from pipeline import data  # noqa: PLC0415

    started, cpu_started = time.monotonic(), cpu_seconds()
    strategies = selected_strategies(args.strategies)
    output = pathlib.Path(args.output).resolve()
    config = build_config(args, output, output / "prepared_data")
    raw_csv = data.resolve_input(args.data, pathlib.Path(args.data_dir))
    if not raw_csv.is_file():
        raise StrategyReportError(f"--data {raw_csv} must be a CSV file (span folders are for the pipeline runners)")
    output.mkdir(parents=True, exist_ok=True)
    prepared = data.prepare_clean_csv(raw_csv, output / "prepared_data")
    print(f"data: {prepared.clean_csv} ({prepared.rows} rows, classes {prepared.class_counts})", flush=True)
    examples, examples_seconds = make_examples(prepared.clean_csv, config, output, args.beam_args)
    schema = make_schema(output)

    results = {}
    for strategy in strategies:
        results[strategy.name] = run_strategy(strategy, config, examples, schema, output, args)
    any_result = next(iter(results.values()))
    ranked = sorted(results, key=lambda name: -(results[name]["overall"]["pr_auc"] or 0.0))
    report = {
        "command": "python -m benchmarks.strategy_report " + " ".join(argv),
        "data": {
            "csv": str(raw_csv),
            "rows": prepared.rows,
            "class_counts": {str(k): v for k, v in prepared.class_counts.items()},
        },
        "split_buckets": config.split_buckets,
        "eval_split": {"rows": any_result["overall"]["rows"], "positives": any_result["overall"]["positives"]},
        "slice_keys": list(config.slice_feature_keys),
        "trainer_config": dataclasses.asdict(config.trainer),
        "rebalance_config": dataclasses.asdict(config.rebalance),
        "ensemble_members": config.trainer.ensemble_members,
        "beam_pipeline_args": list(args.beam_args),
        "example_gen_seconds": round(examples_seconds, 2),
        "strategies": results,
        "strategy_order": list(results),
        "ranking_by_pr_auc": ranked,
        "best_by_pr_auc": ranked[0],
        "quality_target": {
            "pr_auc": TARGET_PR_AUC,
            "roc_auc": TARGET_ROC_AUC,
            "recall": TARGET_RECALL,
            "precision": TARGET_PRECISION,
        },
        "quality_target_met_by": [name for name in ranked if results[name]["quality_target"]["met"]],
    }
    report["wall_seconds"] = round(time.monotonic() - started, 1)
    report["cpu_seconds"] = round(cpu_seconds() - cpu_started, 1)
    report["cpu_count"] = os.cpu_count()
    report["load_average_1m_at_end"] = round(os.getloadavg()[0], 2)
    images = plot_curves(results)
    _write_atomically(output / REPORT_JSON, (json.dumps(report, indent=2, sort_keys=True) + "\n").encode())
    _write_atomically(output / REPORT_HTML, render_html(report, images).encode())
    if (output / "tmp").exists():
        shutil.rmtree(output / "tmp")
    return report


def main(argv: Optional[Sequence[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    try:
        report = run(args, argv)
    except (UserInputError, ConfigError) as error:
        print(f"error: {error}", file=sys.stderr, flush=True)
        return 2
    print(markdown_table(report))
    print(
        f"best by PR-AUC: {report['best_by_pr_auc']}; quality target met by: "
        f"{report['quality_target_met_by'] or 'none'}; wall time {report['wall_seconds']:.0f} s",
        flush=True,
    )
    print(f"wrote {pathlib.Path(args.output).resolve() / REPORT_HTML} and {REPORT_JSON}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
