"""What BlessingGate is from outside: its channels, its parameters (every default and check, once), its outputs' names.

`BlessingGateParameters` is also the pipeline's `evaluator` section: the Evaluator's TFMA
thresholds (`eval_config.gate_eval_config`) and the gate's per-slice checks (`judge`) come
from the same object, so the two can never judge with different numbers.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Sequence, Tuple

from tfx import types
from tfx.types import standard_artifacts
from tfx.types.artifact import Artifact
from tfx.types.component_spec import ChannelParameter, ExecutionParameter

from components.blessing_gate.errors import GateConfigError
from components.class_skew.spec import ClassSkewReport
from components.common.component import LABEL_KEY
from components.common.parameters import ComponentParameters

# Inputs. The Evaluator's blessing comes in as `evaluator_blessing`: TFX forbids an input and an
# output of one component sharing a key, and the gate's own output is the `blessing`.
EVALUATION_KEY = "evaluation"
EVALUATOR_BLESSING_KEY = "evaluator_blessing"
# The examples the Evaluator read: the gate scores their eval split with both models for the paired regression rule.
EXAMPLES_KEY = "examples"
MODEL_KEY = "model"
BASELINE_MODEL_KEY = "baseline_model"
SCHEMA_KEY = "schema"
# Optional, read only for `report.html`: ClassSkew's report (counts, drift) and Rebalance's output (its summary).
CLASS_SKEW_KEY = "class_skew"
REBALANCED_EXAMPLES_KEY = "rebalanced_examples"

# Outputs.
BLESSING_KEY = "blessing"
GATE_REPORT_KEY = "gate_report"

# Data-set names besides `LABEL_KEY`, passed as their own parameters (they describe the data, not the gate).
SLICE_FEATURE_KEYS = "slice_feature_keys"
# The split of `examples` the Evaluator evaluated.
EVAL_SPLIT = "eval_split"
# Multiclass only (issue #15): every class name in class-index order, and the indices of the rare
# classes the gate protects, as JSON lists. Absent (the default) means binary: the IR of a binary
# pipeline does not change.
CLASS_NAMES = "class_names"
PROTECTED_CLASSES = "protected_classes"

# The multiclass serving signature's outputs (the Trainer serves them; the Evaluator and the gate read them):
# softmax probabilities [batch, k], the decision scores whose argmax is the served class [batch, k],
# and the served class [batch].
PROBABILITIES_OUTPUT = "probabilities"
DECISION_SCORES_OUTPUT = "decision_scores"
CLASS_OUTPUT = "class"

# Metric names the gate reads; `eval_config.gate_eval_config` computes them under these names.
AUC = "auc"
PR_AUC = "pr_auc"
RECALL = "recall"
PRECISION = "precision"
F1 = "f1"
RECALL_AT_FPR = "recall_at_fpr"
EXAMPLE_COUNT = "example_count"
TRUE_POSITIVES = "true_positives"
FALSE_POSITIVES = "false_positives"
TRUE_NEGATIVES = "true_negatives"
FALSE_NEGATIVES = "false_negatives"
# Multiclass: the served class's confusion matrix (rows actual, columns served), and the prefix of the
# macro averages over all classes (`macro_auc`, ...).
CONFUSION_MATRIX = "confusion_matrix"
MACRO_PREFIX = "macro_"

# Value the gate stores in its blessing's `blessed_by` custom property.
BLESSED_BY_PROPERTY = "blessed_by"
BLESSED_BY_VALUE = "BlessingGate"

GATE_REPORT_MARKDOWN = "gate_report.md"
GATE_REPORT_JSON = "gate_report.json"
GATE_REPORT_HTML = "report.html"


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise GateConfigError(message)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@dataclasses.dataclass(frozen=True)
class BlessingGateParameters(ComponentParameters):
    """The blessing gate: thresholds per slice, allowed regression against the baseline, and how sure it must be.

    Bad values raise GateConfigError naming the setting (`evaluator.min_recall must be ...`).
    The rule these settings feed is in `rules` (and stated in every gate report).
    """

    SECTION = "evaluator"

    # Minimums on every slice with >= min_slice_positives positives (and overall).
    min_auc: float = 0.90
    # Minimum on the overall slice.
    min_pr_auc: float = 0.50
    min_recall: float = 0.70
    # Slices with fewer positives are listed as too small to judge. Every judged number carries an
    # interval, so a small slice is judged honestly (wide interval: FAIL only when even its upper
    # bound misses); the floor keeps the normal approximations of the AUC intervals away from
    # slices of one to four positives. On the default data only amount_bucket=ge_1000 (one positive)
    # is left out; the other eight slices, overall included, hold 22 or more and are judged.
    min_slice_positives: int = 5
    # Largest allowed drop against the baseline (overall slice), measured paired on the same examples.
    max_pr_auc_drop: float = 0.02
    max_recall_drop: float = 0.05
    # Recall at this false-positive rate is reported (not judged): how many frauds a fixed alert budget catches.
    recall_at_fpr: float = 0.001
    # Two-sided level of every interval.
    confidence: float = 0.95
    # Whether an UNCERTAIN verdict (point estimate misses, interval reaches the threshold) on a slice
    # other than overall blocks; on the overall slice it always does. Off: with 22 positives and a
    # true recall of 0.82, a slice's recall falls below 0.70 by chance 8.5% of the time, so with
    # seven such slices about half of all runs of a good model would be refused for noise.
    uncertain_blocks: bool = False
    # Resamples, and their seed, of the paired bootstrap of the PR-AUC drop (a run reproduces its bounds).
    bootstrap_samples: int = 1000
    seed: int = 42

    def __post_init__(self) -> None:
        for name in ("min_auc", "min_pr_auc", "min_recall", "max_pr_auc_drop", "max_recall_drop"):
            value = getattr(self, name)
            in_range = _is_number(value) and 0.0 <= value <= 1.0
            _require(in_range, f"{self.setting(name)} must be in [0, 1], got {value!r}")
            object.__setattr__(self, name, float(value))
        for name in ("recall_at_fpr", "confidence"):
            value = getattr(self, name)
            in_range = _is_number(value) and 0.0 < value < 1.0
            _require(in_range, f"{self.setting(name)} must be in (0, 1), got {value!r}")
            object.__setattr__(self, name, float(value))
        for name, minimum in (("min_slice_positives", 1), ("bootstrap_samples", 100), ("seed", 0)):
            value = getattr(self, name)
            _require(
                _is_int(value) and value >= minimum,
                f"{self.setting(name)} must be an integer >= {minimum}, got {value!r}",
            )
        _require(
            isinstance(self.uncertain_blocks, bool),
            f"{self.setting('uncertain_blocks')} must be true or false, got {self.uncertain_blocks!r}",
        )


def check_classes(
    class_names: Sequence[str], protected_classes: Sequence[int]
) -> Tuple[Tuple[str, ...], Tuple[int, ...]]:
    """The data set's classes as tuples: both empty (binary), or k >= 3 distinct names and >= 1 protected index.

    Raises GateConfigError, one line naming the value, for anything else.
    """
    if isinstance(class_names, str) or not all(isinstance(name, str) and name for name in class_names):
        raise GateConfigError(f"BlessingGate: class_names must be a list of class names, got {class_names!r}")
    if isinstance(protected_classes, str) or not all(_is_int(index) for index in protected_classes):
        raise GateConfigError(
            f"BlessingGate: protected_classes must be a list of class indices, got {protected_classes!r}"
        )
    names, protected = tuple(class_names), tuple(protected_classes)
    if not names:
        _require(not protected, f"BlessingGate: protected_classes {list(protected)} given without class_names (binary)")
        return names, protected
    _require(
        len(names) >= 3,
        f"BlessingGate: class_names needs >= 3 classes for a multiclass gate, got {list(names)} "
        "(a binary label takes no class_names)",
    )
    duplicates = sorted({name for name in names if names.count(name) > 1})
    _require(not duplicates, f"BlessingGate: class_names {list(names)} repeats {duplicates}")
    _require(bool(protected), f"BlessingGate: protected_classes must name >= 1 class of {list(names)}, got []")
    outside = [index for index in protected if not 0 <= index < len(names)]
    _require(
        not outside,
        f"BlessingGate: protected_classes {list(protected)} has {outside} outside 0..{len(names) - 1} "
        f"(class_names {list(names)})",
    )
    _require(
        len(set(protected)) == len(protected), f"BlessingGate: protected_classes {list(protected)} repeats a class"
    )
    return names, protected


class GateReport(Artifact):
    """The gate's verdict and every slice's metrics, thresholds and results (gate_report.md, gate_report.json)."""

    TYPE_NAME = "imbalanced.GateReport"


class BlessingGateSpec(types.ComponentSpec):
    """Inputs, outputs and parameters of BlessingGate: one execution property per BlessingGateParameters field."""

    PARAMETERS = {
        LABEL_KEY: ExecutionParameter(type=str),
        # JSON list of feature names, as TFX's own components pass lists.
        SLICE_FEATURE_KEYS: ExecutionParameter(type=str),
        EVAL_SPLIT: ExecutionParameter(type=str),
        CLASS_NAMES: ExecutionParameter(type=str, optional=True),
        PROTECTED_CLASSES: ExecutionParameter(type=str, optional=True),
        **BlessingGateParameters.execution_parameters(),
    }
    INPUTS = {
        EVALUATION_KEY: ChannelParameter(type=standard_artifacts.ModelEvaluation),
        EVALUATOR_BLESSING_KEY: ChannelParameter(type=standard_artifacts.ModelBlessing),
        EXAMPLES_KEY: ChannelParameter(type=standard_artifacts.Examples),
        MODEL_KEY: ChannelParameter(type=standard_artifacts.Model),
        BASELINE_MODEL_KEY: ChannelParameter(type=standard_artifacts.Model, optional=True),
        SCHEMA_KEY: ChannelParameter(type=standard_artifacts.Schema),
        CLASS_SKEW_KEY: ChannelParameter(type=ClassSkewReport, optional=True),
        REBALANCED_EXAMPLES_KEY: ChannelParameter(type=standard_artifacts.Examples, optional=True),
    }
    OUTPUTS = {
        BLESSING_KEY: ChannelParameter(type=standard_artifacts.ModelBlessing),
        GATE_REPORT_KEY: ChannelParameter(type=GateReport),
    }
