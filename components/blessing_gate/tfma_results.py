"""Reads a TFMA evaluation (what the TFX Evaluator writes) into the plain dicts `judge` works on.

Metrics with a `class_id` sub-key (a multiclass evaluation, `eval_config`) are kept per class under
their plain names, macro averages as `macro_<name>`, and the served multiclass confusion matrix as
counts; a binary evaluation has none of them and reads as before.

The metrics file holds one record per slice, so what is read here grows with the
number of slices times metrics, never with the number of examples.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Dict, List, Optional, Set, Tuple

import tensorflow as tf
import tensorflow_model_analysis as tfma
from google.protobuf import message
from tensorflow_model_analysis.proto import metrics_for_slice_pb2
from tensorflow_model_analysis.writers import eval_config_writer

from components.blessing_gate import spec
from components.blessing_gate.errors import GateInputError
from components.blessing_gate.judge import OVERALL_SLICE

# TFMA writes its ValidationResult to `validations.tfrecord` in the evaluation directory.
VALIDATIONS_FILE_PREFIX = "validations"

MetricsBySlice = Dict[str, Dict[str, float]]
# Multiclass: slice -> class index -> metric -> value (TFMA's metrics with a `class_id` sub-key).
MetricsByClass = Dict[str, Dict[int, Dict[str, float]]]
# Multiclass: slice -> (actual class, served class) -> count (the candidate's served confusion matrix).
ConfusionBySlice = Dict[str, Dict[Tuple[int, int], int]]


@dataclasses.dataclass(frozen=True)
class Evaluation:
    """What the gate needs from one TFMA evaluation."""

    uri: str
    candidate: MetricsBySlice
    baseline: Optional[MetricsBySlice]
    # Features the evaluation is sliced by (single-feature and crossed slices alike).
    slice_features: Set[str]
    label_keys: Set[str]
    # None when TFMA wrote no validation result (no thresholds were configured).
    validation_ok: Optional[bool]
    validation_failures: Tuple[str, ...]
    # Multiclass evaluations only (empty for binary): per-class metrics and the served confusion matrix.
    candidate_classes: MetricsByClass = dataclasses.field(default_factory=dict)
    baseline_classes: Optional[MetricsByClass] = None
    confusion: ConfusionBySlice = dataclasses.field(default_factory=dict)


def slice_name(slice_key: metrics_for_slice_pb2.SliceKey) -> str:
    """`overall`, `hour_band=night`, or `a=x, b=y` for crossed slices."""
    if not slice_key.single_slice_keys:
        return OVERALL_SLICE
    parts = []
    for single in slice_key.single_slice_keys:
        kind = single.WhichOneof("kind")
        value = getattr(single, kind) if kind else ""
        if isinstance(value, bytes):
            value = value.decode("utf-8", errors="replace")
        parts.append(f"{single.column}={value}")
    return ", ".join(parts)


def _scalar(value: metrics_for_slice_pb2.MetricValue) -> Optional[float]:
    """The number in a MetricValue, or None for matrices, arrays and other non-scalars."""
    kind = value.WhichOneof("type")
    if kind == "double_value":
        return float(value.double_value.value)
    if kind == "bounded_value":
        return float(value.bounded_value.value.value)
    return None


def _model_names(eval_config: tfma.EvalConfig, uri: str) -> Tuple[str, Optional[str], Set[str]]:
    candidates = [spec for spec in eval_config.model_specs if not spec.is_baseline]
    baselines = [spec for spec in eval_config.model_specs if spec.is_baseline]
    if len(candidates) != 1 or len(baselines) > 1:
        raise GateInputError(
            f"the evaluation at {uri} has {len(candidates)} candidate and {len(baselines)} baseline model specs; "
            "the gate needs exactly one candidate and at most one baseline"
        )
    candidate = candidates[0]
    label_keys = set(candidate.label_keys.values()) | ({candidate.label_key} if candidate.label_key else set())
    return candidate.name, (baselines[0].name if baselines else None), label_keys


def _read_eval_config(uri: str) -> tfma.EvalConfig:
    try:
        eval_config, _, _, _ = eval_config_writer.load_eval_run(uri)
    except (tf.errors.OpError, OSError, ValueError) as error:
        raise GateInputError(f"cannot read the EvalConfig that TFMA stored in {uri}: {error}") from error
    if eval_config is None:
        raise GateInputError(
            f"{uri} holds no TFMA eval_config.json; pass the TFX Evaluator's `evaluation` output to the gate"
        )
    return eval_config


@dataclasses.dataclass
class _Metrics:
    """What one model's records hold: plain metrics, per-class metrics and the served confusion matrix."""

    by_slice: MetricsBySlice = dataclasses.field(default_factory=dict)
    by_class: MetricsByClass = dataclasses.field(default_factory=dict)
    confusion: ConfusionBySlice = dataclasses.field(default_factory=dict)


def _metric_name(key: metrics_for_slice_pb2.MetricKey) -> str:
    """`auc`, `macro_auc` for a macro average, `auc[k: 2]` for another sub-key (a class's is read apart)."""
    if key.aggregation_type.macro_average:
        return key.name if key.name.startswith(spec.MACRO_PREFIX) else spec.MACRO_PREFIX + key.name
    if key.HasField("sub_key"):
        return f"{key.name}[{' '.join(str(key.sub_key).split())}]"
    return key.name


def _confusion(value: metrics_for_slice_pb2.MetricValue) -> Dict[Tuple[int, int], int]:
    """TFMA's multiclass confusion matrix at its one threshold, as (actual, predicted) -> count."""
    matrices = value.multi_class_confusion_matrix_at_thresholds.matrices
    if len(matrices) != 1:
        raise GateInputError(f"the served confusion matrix has {len(matrices)} thresholds; the gate computes it at one")
    return {
        (entry.actual_class_id, entry.predicted_class_id): int(round(entry.num_weighted_examples))
        for entry in matrices[0].entries
    }


def _read_metrics(uri: str, candidate_name: str, baseline_name: Optional[str]) -> Tuple[Dict[str, _Metrics], Set[str]]:
    by_model: Dict[str, _Metrics] = {candidate_name: _Metrics()}
    if baseline_name is not None:
        by_model[baseline_name] = _Metrics()
    outputs: Dict[Tuple[str, str, Optional[int], str], str] = {}
    features: Set[str] = set()
    try:
        records = list(tfma.load_metrics(uri))
    except (tf.errors.OpError, OSError, message.DecodeError) as error:
        raise GateInputError(f"cannot read TFMA metrics in {uri}: {error}") from error
    for record in records:
        if record.HasField("cross_slice_key"):
            continue
        name = slice_name(record.slice_key)
        features.update(single.column for single in record.slice_key.single_slice_keys)
        for entry in record.metric_keys_and_values:
            key = entry.key
            if key.is_diff or key.model_name not in by_model:
                continue
            model = by_model[key.model_name]
            if key.name == spec.CONFUSION_MATRIX and entry.value.HasField("multi_class_confusion_matrix_at_thresholds"):
                model.confusion[name] = _confusion(entry.value)
                continue
            value = _scalar(entry.value)
            if value is None:
                continue
            class_id = key.sub_key.class_id.value if key.sub_key.HasField("class_id") else None
            metric = key.name if class_id is not None else _metric_name(key)
            seen_output = outputs.setdefault((key.model_name, name, class_id, metric), key.output_name)
            if seen_output != key.output_name:
                raise GateInputError(
                    f"metric {metric!r} is computed on outputs {seen_output!r} and {key.output_name!r} in {uri}; "
                    "give each a distinct name in the EvalConfig so the gate knows which one it judges"
                )
            if class_id is None:
                model.by_slice.setdefault(name, {})[metric] = value
            else:
                model.by_class.setdefault(name, {}).setdefault(class_id, {})[metric] = value
    if not by_model[candidate_name].by_slice and not by_model[candidate_name].by_class:
        raise GateInputError(f"the TFMA metrics in {uri} hold no values for the candidate model")
    return by_model, features


def _metric_label(key: metrics_for_slice_pb2.MetricKey) -> str:
    """`recall`, `pr_auc of class 3` (a multiclass per-class metric), `... change vs baseline`."""
    name = key.name if not key.sub_key.HasField("class_id") else f"{key.name} of class {key.sub_key.class_id.value}"
    return f"{name} change vs baseline" if key.is_diff else name


def _threshold_text(threshold: tfma.MetricThreshold) -> str:
    parts = []
    value_threshold = threshold.value_threshold
    if value_threshold.HasField("lower_bound"):
        parts.append(f">= {value_threshold.lower_bound.value:g}")
    if value_threshold.HasField("upper_bound"):
        parts.append(f"<= {value_threshold.upper_bound.value:g}")
    change = threshold.change_threshold
    if change.HasField("absolute"):
        parts.append(f"absolute change {change.absolute.value:+g} ({tfma.MetricDirection.Name(change.direction)})")
    if change.HasField("relative"):
        parts.append(f"relative change {change.relative.value:+g} ({tfma.MetricDirection.Name(change.direction)})")
    return ", ".join(parts) or "its threshold"


def _read_validation(uri: str) -> Tuple[Optional[bool], Tuple[str, ...]]:
    if not tf.io.gfile.glob(os.path.join(uri, f"{VALIDATIONS_FILE_PREFIX}*")):
        return None, ()
    try:
        result = tfma.load_validation_result(uri)
    except (tf.errors.OpError, OSError, message.DecodeError, AssertionError) as error:
        # TFMA asserts that there is exactly one validation record.
        raise GateInputError(f"cannot read the TFMA validation result in {uri}: {error!r}") from error
    failures: List[str] = []
    for per_slice in result.metric_validations_per_slice:
        where = slice_name(per_slice.slice_key)
        for failure in per_slice.failures:
            value = _scalar(failure.metric_value)
            shown = "undefined" if value is None else f"{value:.4f}"
            detail = f" ({failure.message})" if failure.message else ""
            failures.append(
                f"TFMA: {_metric_label(failure.metric_key)} = {shown} fails {_threshold_text(failure.metric_threshold)}"
                f" on slice {where}{detail}"
            )
    for missing in result.missing_slices:
        failures.append(f"TFMA: no examples in thresholded slice {missing}")
    return bool(result.validation_ok), tuple(failures)


def load_evaluation(uri: str) -> Evaluation:
    """Candidate and baseline metrics per slice, and TFMA's own validation, from a ModelEvaluation directory."""
    eval_config = _read_eval_config(uri)
    candidate_name, baseline_name, label_keys = _model_names(eval_config, uri)
    by_model, features = _read_metrics(uri, candidate_name, baseline_name)
    validation_ok, failures = _read_validation(uri)
    candidate = by_model[candidate_name]
    baseline = by_model.get(baseline_name) if baseline_name is not None else None
    if baseline is not None and not baseline.by_slice and not baseline.by_class:
        raise GateInputError(f"the evaluation at {uri} names a baseline model but holds no metrics for it")
    return Evaluation(
        uri=uri,
        candidate=candidate.by_slice,
        baseline=None if baseline is None else baseline.by_slice,
        slice_features=features,
        label_keys=label_keys,
        validation_ok=validation_ok,
        validation_failures=failures,
        candidate_classes=candidate.by_class,
        baseline_classes=None if baseline is None else baseline.by_class,
        confusion=candidate.confusion,
    )
