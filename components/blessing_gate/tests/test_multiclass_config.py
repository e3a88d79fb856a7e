"""Multiclass settings without TFMA runs: the class names' checks, the EvalConfig's shape, the judge's refusals."""

import json
import re

import pytest
import tensorflow_model_analysis as tfma

from components.blessing_gate import spec
from components.blessing_gate.component import BlessingGate
from components.blessing_gate.errors import GateConfigError, GateInputError, NoPositivesError
from components.blessing_gate.eval_config import gate_eval_config
from components.blessing_gate.executor import classes_from_exec_properties
from components.blessing_gate.judge import OVERALL_SLICE
from components.blessing_gate.multiclass import judge_multiclass
from components.blessing_gate.spec import BlessingGateParameters, check_classes
from components.blessing_gate.tests.test_component import NAMES, _channels
from components.blessing_gate.tests.test_judge import metrics, paired

NAMES_4 = ("none", "heat", "power", "tool_wear")
PARAMETERS = BlessingGateParameters(min_auc=0.9, min_pr_auc=0.5, min_recall=0.8, min_slice_positives=10)


@pytest.mark.parametrize(
    "class_names, protected, message",
    [
        ((), (1,), "protected_classes [1] given without class_names (binary)"),
        (("a", "b"), (1,), "class_names needs >= 3 classes for a multiclass gate, got ['a', 'b']"),
        (("a", "b", "a"), (1,), "class_names ['a', 'b', 'a'] repeats ['a']"),
        (NAMES_4, (), "protected_classes must name >= 1 class of ['none', 'heat', 'power', 'tool_wear'], got []"),
        (NAMES_4, (2, 4), "protected_classes [2, 4] has [4] outside 0..3"),
        (NAMES_4, (2, 2), "protected_classes [2, 2] repeats a class"),
        (NAMES_4, ("power",), "protected_classes must be a list of class indices, got ('power',)"),
        ("abc", (1,), "class_names must be a list of class names, got 'abc'"),
        (("a", "", "c"), (1,), "class_names must be a list of class names"),
    ],
)
def test_bad_classes_are_one_line_naming_the_value(class_names, protected, message):
    with pytest.raises(GateConfigError, match=re.escape(message)) as error:
        check_classes(class_names, protected)
    assert "\n" not in str(error.value)


def test_binary_is_both_empty_and_multiclass_keeps_the_order():
    assert check_classes((), ()) == ((), ())
    assert check_classes(list(NAMES_4), [3, 2]) == (NAMES_4, (3, 2))


def test_the_component_passes_the_classes_as_json_and_binary_leaves_them_out():
    gate = BlessingGate(**_channels(), **NAMES, class_names=NAMES_4, protected_classes=(2, 3))
    assert json.loads(gate.exec_properties[spec.CLASS_NAMES]) == list(NAMES_4)
    assert json.loads(gate.exec_properties[spec.PROTECTED_CLASSES]) == [2, 3]
    assert classes_from_exec_properties(gate.exec_properties) == (NAMES_4, (2, 3))
    binary = BlessingGate(**_channels(), **NAMES)
    assert spec.CLASS_NAMES not in binary.exec_properties and spec.PROTECTED_CLASSES not in binary.exec_properties
    assert classes_from_exec_properties(binary.exec_properties) == ((), ())
    with pytest.raises(GateConfigError, match=r"protected_classes \[5\] has \[5\] outside 0..3"):
        BlessingGate(**_channels(), **NAMES, class_names=NAMES_4, protected_classes=(5,))
    with pytest.raises(GateConfigError, match="class_names is not a JSON list: 'none,heat'"):
        classes_from_exec_properties({spec.CLASS_NAMES: "none,heat"})


def test_multiclass_eval_config_reads_both_outputs_and_thresholds_the_protected_classes_only():
    config = gate_eval_config(PARAMETERS, "failure", ["band"], NAMES_4, (2, 3))
    assert dict(config.model_specs[0].label_keys) == {"probabilities": "failure", "decision_scores": "failure"}
    served = [
        json.loads(metric.config)
        for metrics_spec in config.metrics_specs
        if list(metrics_spec.output_names) == ["decision_scores"] and metrics_spec.binarize.class_ids.values
        for metric in metrics_spec.metrics
    ]
    assert {entry["name"] for entry in served} == {
        spec.RECALL,
        spec.PRECISION,
        spec.TRUE_POSITIVES,
        spec.FALSE_POSITIVES,
        spec.TRUE_NEGATIVES,
        spec.FALSE_NEGATIVES,
    }
    assert all(entry["top_k"] == 1 for entry in served)  # at the served class: argmax of decision_scores
    thresholds = tfma.metrics.metric_thresholds_from_metrics_specs(config.metrics_specs, eval_config=config)
    thresholded = {(key.name, key.sub_key.class_id, key.is_diff) for key in thresholds}
    assert thresholded == {
        (spec.AUC, 2, False),
        (spec.AUC, 3, False),
        (spec.PR_AUC, 2, False),
        (spec.PR_AUC, 3, False),
        (spec.PR_AUC, 2, True),
        (spec.PR_AUC, 3, True),
    }
    for per_slice in (t for ts in thresholds.values() for t in ts):
        assert per_slice[0] == tfma.SlicingSpec()  # the overall slice only
    # Binary stays exactly as it was.
    assert gate_eval_config(PARAMETERS, "Class", ["band"]) == gate_eval_config(PARAMETERS, "Class", ["band"], (), ())
    with pytest.raises(GateConfigError, match="protected_classes must name >= 1 class"):
        gate_eval_config(PARAMETERS, "failure", ["band"], NAMES_4)


def test_the_gates_output_names_are_the_trainers():
    from components.trainer import serving

    assert (serving.PROBABILITIES_OUTPUT, serving.DECISION_SCORES_OUTPUT, serving.CLASS_OUTPUT) == (
        spec.PROBABILITIES_OUTPUT,
        spec.DECISION_SCORES_OUTPUT,
        spec.CLASS_OUTPUT,
    )


def _classes(power=(20, 5), tool_wear=(21, 4)):
    """Per-class metrics of one slice: two common classes, and the two protected ones with (caught, missed)."""
    return {0: metrics(900, 20), 1: metrics(80, 10), 2: metrics(*power), 3: metrics(*tool_wear)}


def test_a_protected_class_without_rows_cannot_be_judged():
    with pytest.raises(NoPositivesError, match="no rows of protected class tool_wear \\(index 3\\)"):
        judge_multiclass({}, {OVERALL_SLICE: _classes(tool_wear=(0, 0))}, PARAMETERS, NAMES_4, (2, 3))
    # A class that is not protected may be absent from the split.
    report = judge_multiclass({}, {OVERALL_SLICE: _classes(power=(0, 0))}, PARAMETERS, NAMES_4, (3,))
    assert report["blessed"] is True and report["classes"]["protected"] == ["tool_wear"]


def test_missing_per_class_metrics_or_paired_comparisons_are_named():
    candidate = {OVERALL_SLICE: _classes()}
    del candidate[OVERALL_SLICE][1][spec.TRUE_POSITIVES]
    with pytest.raises(GateInputError, match=r"no per-class \['true_positives'\] for class 1 on slice overall"):
        judge_multiclass({}, candidate, PARAMETERS, NAMES_4, (2, 3))
    with pytest.raises(GateInputError, match=r"no paired comparison for classes \['tool_wear'\]"):
        judge_multiclass(
            {},
            {OVERALL_SLICE: _classes()},
            PARAMETERS,
            NAMES_4,
            (2, 3),
            baseline_classes={OVERALL_SLICE: _classes()},
            paired={2: paired()},
        )
