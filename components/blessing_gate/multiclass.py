"""The multiclass gate (issue #15): each protected class judged one-vs-rest on every slice, one entry per pair.

A k-class model has no single "positive"; each protected class c is judged as the positive of its
own one-vs-rest problem, with the binary gate's checks and intervals (`judge.judge_entry`):
- its rows are the positives (true positives + false negatives of "served class == c"), and a
  slice holding fewer than `min_slice_positives` of them is too small to judge for c;
- recall and precision are at the served class (argmax of `decision_scores`), ROC-AUC and PR-AUC
  one-vs-rest on `probabilities[:, c]`; recall >= min_recall, AUC >= min_auc and
  PR-AUC >= min_pr_auc on every judged slice (a rare class's PR-AUC is the number that shows
  whether the model finds it at all, on a slice as much as overall);
- against a baseline, c's recall and PR-AUC drops on the overall slice, paired on the same
  examples (`regression.compare` on the binarized labels and scores, `binarized`).
Classes that are not protected get entries too, reported and never judged. Besides the
entries the report holds, per slice, the macro averages over all k classes (AUC and PR-AUC from
TFMA's macro aggregation; recall and precision the mean of TFMA's per-class values over the
classes where they are defined, see `eval_config`) and the served class's confusion matrix.
"""

from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from components.blessing_gate import spec
from components.blessing_gate.errors import GateInputError, NoPositivesError
from components.blessing_gate.judge import OVERALL_SLICE, REQUIRED_METRICS, assemble, is_finite, judge_entry
from components.blessing_gate.regression import PairedComparison
from components.blessing_gate.rules import rule_text
from components.blessing_gate.spec import BlessingGateParameters

ClassMetrics = Mapping[int, Mapping[str, float]]
MetricsByClass = Mapping[str, ClassMetrics]
Confusion = Mapping[Tuple[int, int], int]

MULTICLASS_RULE = (
    " Multiclass: each protected class is judged one-vs-rest on every slice holding enough of its rows (its "
    "positives): recall and precision at the served class (argmax of decision_scores), ROC-AUC and PR-AUC on its "
    "probability, PR-AUC on every judged slice; the drops against the baseline are that class's, paired."
)
# Per-class metrics averaged over the classes by the gate (TFMA 0.47 cannot, see `eval_config`).
_AVERAGED_HERE = (spec.RECALL, spec.PRECISION)
# Per-slice macro averages TFMA computes.
_MACRO_FROM_TFMA = (spec.AUC, spec.PR_AUC)


def binarized(
    labels: np.ndarray, scores: Mapping[str, np.ndarray], class_id: int
) -> Tuple[np.ndarray, Dict[str, np.ndarray]]:
    """One class's one-vs-rest view of multiclass scores: 0/1 labels, its probability, 1.0 where it is served.

    The shape `regression.compare` and `curve_points.curves` take for a binary model.
    """
    probabilities = np.asarray(scores[spec.PROBABILITIES_OUTPUT])
    served = np.asarray(scores[spec.CLASS_OUTPUT]).reshape(-1)
    return (np.asarray(labels).reshape(-1) == class_id).astype(np.int64), {
        "probability": probabilities[:, class_id].astype(np.float64),
        "decision": (served == class_id).astype(np.float64),
    }


def check_scores(labels: np.ndarray, scores: Mapping[str, Mapping[str, np.ndarray]], classes: int) -> None:
    """Labels are class indices 0..k-1 and each model's `probabilities` has k columns, one per class."""
    labels = np.asarray(labels).reshape(-1)
    outside = sorted({int(value) for value in labels if not 0 <= value < classes})
    if outside:
        raise GateInputError(f"the eval labels hold {outside[:5]}, outside the class indices 0..{classes - 1}")
    for name, outputs in scores.items():
        shape = np.shape(outputs[spec.PROBABILITIES_OUTPUT])
        if len(shape) != 2 or shape[1] != classes:
            raise GateInputError(
                f"the {name} model's {spec.PROBABILITIES_OUTPUT!r} has shape {shape}, not [examples, {classes}]: "
                "it was not trained on this data set's classes"
            )


def _require(metrics: MetricsByClass, slice_name: str, classes: int, model: str) -> None:
    for class_id in range(classes):
        found = metrics.get(slice_name, {}).get(class_id, {})
        missing = [name for name in REQUIRED_METRICS if name not in found]
        if missing:
            raise GateInputError(
                f"the {model} model's evaluation has no per-class {missing} for class {class_id} on slice "
                f"{slice_name}; the Evaluator's EvalConfig must be gate_eval_config(..., class_names=..., "
                "protected_classes=...)"
            )


def _macro(slice_name: str, candidate: Mapping[str, float], by_class: ClassMetrics) -> Dict[str, Any]:
    """One slice's macro averages: TFMA's (AUC, PR-AUC) and the mean of TFMA's per-class recall and precision."""
    values: Dict[str, Any] = {}
    for metric in _MACRO_FROM_TFMA:
        values[spec.MACRO_PREFIX + metric] = candidate.get(spec.MACRO_PREFIX + metric)
    for metric in _AVERAGED_HERE:
        defined = [float(m[metric]) for m in by_class.values() if metric in m and is_finite(float(m[metric]))]
        values[spec.MACRO_PREFIX + metric] = float(np.mean(defined)) if defined else None
    return {"slice": slice_name, "metrics": values}


def _confusion(slice_name: str, counts: Confusion, classes: int) -> Dict[str, Any]:
    """The served confusion matrix as rows (actual class) of columns (served class); unserved rows apart."""
    matrix = [[int(counts.get((actual, served), 0)) for served in range(classes)] for actual in range(classes)]
    unserved = sum(count for (_, served), count in counts.items() if not 0 <= served < classes)
    return {"slice": slice_name, "matrix": matrix, "unserved": unserved}


def judge_multiclass(
    candidate: Mapping[str, Mapping[str, float]],
    candidate_classes: MetricsByClass,
    parameters: BlessingGateParameters,
    class_names: Sequence[str],
    protected_classes: Sequence[int],
    *,
    baseline_classes: Optional[MetricsByClass] = None,
    paired: Optional[Mapping[int, PairedComparison]] = None,
    confusion: Optional[Mapping[str, Confusion]] = None,
    evaluator_blessed: bool = True,
    evaluator_failures: Sequence[str] = (),
) -> Dict[str, Any]:
    """The multiclass gate report: one entry per class and slice (protected ones judged), macro averages, confusion.

    Args:
      candidate: slice -> the candidate's metrics without a class (`macro_auc`, `example_count`, ...).
      candidate_classes: slice -> class index -> the candidate's per-class metrics (`tfma_results`).
      parameters: the gate's settings.
      class_names: every class, in class-index order.
      protected_classes: the indices of the classes the gate judges.
      baseline_classes: the baseline's per-class metrics (shown beside the candidate's); None on a first run.
      paired: class index -> both models on the same examples, one-vs-rest; required with a baseline
        for every protected class (its regression checks).
      confusion: slice -> the candidate's served confusion counts.
      evaluator_blessed, evaluator_failures: the TFX Evaluator's verdict, as `judge.judge` takes them.

    Raises:
      GateInputError: a per-class metric, the overall slice or a paired comparison is missing.
      NoPositivesError: a protected class has no rows in the eval split.
    """
    names, protected = spec.check_classes(class_names, protected_classes)
    if not names:
        raise GateInputError("judge_multiclass needs class names; a binary label is judged by judge.judge")
    if OVERALL_SLICE not in candidate_classes:
        raise GateInputError(f"the evaluation has no per-class overall slice (slices: {sorted(candidate_classes)})")
    for slice_name in candidate_classes:
        _require(candidate_classes, slice_name, len(names), "candidate")
    if baseline_classes is not None:
        _require(baseline_classes, OVERALL_SLICE, len(names), "baseline")
        missing = [names[index] for index in protected if index not in (paired or {})]
        if missing:
            raise GateInputError(f"a baseline is given but no paired comparison for classes {missing}")
    overall = candidate_classes[OVERALL_SLICE]
    for index in protected:
        rows = overall[index][spec.TRUE_POSITIVES] + overall[index][spec.FALSE_NEGATIVES]
        if int(round(rows)) == 0:
            raise NoPositivesError(
                f"the eval split has no rows of protected class {names[index]} (index {index}): the gate cannot "
                "judge its recall, so the model is not blessed. Check the eval split and the label's class indices"
            )
    slice_names = [OVERALL_SLICE] + sorted(name for name in candidate_classes if name != OVERALL_SLICE)
    entries: List[Dict[str, Any]] = []
    for slice_name in slice_names:
        for index, class_name in enumerate(names):
            baseline = None if baseline_classes is None else baseline_classes.get(slice_name, {}).get(index)
            entries.append(
                judge_entry(
                    slice_name,
                    candidate_classes[slice_name][index],
                    baseline,
                    None if baseline_classes is None or paired is None else paired.get(index),
                    parameters,
                    class_name=class_name,
                    protected=index in protected,
                )
            )
    extra = {
        "rule": rule_text(parameters) + MULTICLASS_RULE,
        "classes": {"names": list(names), "protected": [names[index] for index in protected]},
        "macro": [_macro(name, candidate.get(name, {}), candidate_classes[name]) for name in slice_names],
        "confusion": [
            _confusion(name, (confusion or {})[name], len(names)) for name in slice_names if name in (confusion or {})
        ],
        "paired": None,
        "paired_by_class": None
        if baseline_classes is None or paired is None
        else {names[index]: paired[index].to_json() for index in protected},
    }
    return assemble(
        entries,
        parameters,
        has_baseline=baseline_classes is not None,
        evaluator_blessed=evaluator_blessed,
        evaluator_failures=evaluator_failures,
        extra=extra,
    )
