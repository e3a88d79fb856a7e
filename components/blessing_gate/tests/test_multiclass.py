"""The multiclass Evaluator and gate on a REAL TFMA run: k = 4, two rare protected classes (`multiclass_fixtures`).

One run of the stock TFX Evaluator executor on `gate_eval_config(..., class_names, protected_classes)`
(the weak model against the good one as baseline, about 30 s) and one gate executor run over it,
shared through module-scoped fixtures: TFMA's per-class figures against scikit-learn on the same
predictions, the gate's per-class verdicts, and the report's one row per class and slice.
"""

import json
import os

import numpy as np
import pytest
from sklearn import metrics as skm
from tfx.dsl.io import fileio
from tfx.types import standard_artifacts

from components.blessing_gate import executor, spec, tfma_results
from components.blessing_gate.eval_config import gate_eval_config
from components.blessing_gate.judge import FAIL, OVERALL_SLICE, PASS, REPORTED, UNCERTAIN
from components.blessing_gate.multiclass import judge_multiclass
from components.blessing_gate.report import read_report
from components.blessing_gate.spec import BlessingGateParameters, GateReport
from components.blessing_gate.tests import fixtures
from components.blessing_gate.tests import multiclass_fixtures as mf
from components.blessing_gate.tests.test_html_report import parse

PARAMETERS = BlessingGateParameters(
    min_auc=0.85, min_pr_auc=0.5, min_recall=0.6, min_slice_positives=10, max_pr_auc_drop=0.02, max_recall_drop=0.05
)
SLICES = {OVERALL_SLICE: None, "band=day": "day", "band=night": "night"}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("multiclass")
    rows = mf.eval_rows()
    examples = mf.write_examples(str(root / "examples"), rows)
    good = mf.write_model(str(root / "good"), "good", model_id=1)
    weak = mf.write_model(str(root / "weak"), "weak", model_id=2)
    config = gate_eval_config(PARAMETERS, mf.LABEL_KEY, [mf.SLICE_KEY], mf.CLASS_NAMES, mf.PROTECTED)
    outputs = fixtures.run_evaluator(str(root / "evaluator"), examples, weak, baseline=good, config=config)
    return {
        "root": root,
        "rows": rows,
        "good": good,
        "weak": weak,
        "schema": mf.write_schema(str(root / "schema")),
        "outputs": outputs,
        "evaluation": tfma_results.load_evaluation(outputs["evaluation"].uri),
    }


@pytest.fixture(scope="module")
def gate_run(world):
    """The gate executor on the weak candidate against the good baseline: its blessing and parsed report."""
    directory = str(world["root"] / "gate")
    blessing = standard_artifacts.ModelBlessing()
    blessing.uri = os.path.join(directory, "blessing")
    gate_report = GateReport()
    gate_report.uri = os.path.join(directory, "gate_report")
    outputs = world["outputs"]
    input_dict = {
        spec.EVALUATION_KEY: [outputs["evaluation"]],
        spec.EVALUATOR_BLESSING_KEY: [outputs["evaluator_blessing"]],
        spec.EXAMPLES_KEY: [outputs["examples"]],
        spec.MODEL_KEY: [world["weak"]],
        spec.BASELINE_MODEL_KEY: [world["good"]],
        spec.SCHEMA_KEY: [world["schema"]],
    }
    exec_properties = {
        **PARAMETERS.to_exec_properties(),
        spec.LABEL_KEY: mf.LABEL_KEY,
        spec.SLICE_FEATURE_KEYS: json.dumps([mf.SLICE_KEY]),
        spec.EVAL_SPLIT: "eval",
        spec.CLASS_NAMES: json.dumps(list(mf.CLASS_NAMES)),
        spec.PROTECTED_CLASSES: json.dumps(list(mf.PROTECTED)),
    }
    executor.Executor().Do(
        input_dict, {spec.BLESSING_KEY: [blessing], spec.GATE_REPORT_KEY: [gate_report]}, exec_properties
    )
    return {"blessing": blessing, "artifact": gate_report, "report": read_report(gate_report.uri)}


def _views(rows):
    """Per slice: labels and row mask."""
    labels = np.array([row[mf.LABEL_KEY] for row in rows])
    bands = np.array([row[mf.SLICE_KEY] for row in rows])
    return labels, {name: np.ones(len(rows), bool) if band is None else bands == band for name, band in SLICES.items()}


def _entry(report, slice_name, class_name):
    return next(e for e in report["slices"] if e["slice"] == slice_name and e["class"] == class_name)


def _row(report, slice_name, class_name, metric):
    return next(row for row in _entry(report, slice_name, class_name)["metrics"] if row["metric"] == metric)


@pytest.mark.parametrize("kind, model", [("weak", "candidate"), ("good", "baseline")])
def test_per_class_metrics_match_scikit_learn_on_the_same_predictions(world, kind, model):
    evaluation = world["evaluation"]
    by_class = evaluation.candidate_classes if model == "candidate" else evaluation.baseline_classes
    predictions = mf.predictions(world["rows"], kind)
    labels, masks = _views(world["rows"])
    for slice_name, mask in masks.items():
        y, probabilities, served = labels[mask], predictions[mf.PROBABILITIES][mask], predictions[mf.CLASS][mask]
        recall = skm.recall_score(y, served, labels=range(4), average=None)
        precision = skm.precision_score(y, served, labels=range(4), average=None)
        for index in range(4):
            tfma_figures = by_class[slice_name][index]
            where = (kind, slice_name, mf.CLASS_NAMES[index])
            # At the served class (argmax of decision_scores): exact.
            assert tfma_figures[spec.RECALL] == pytest.approx(recall[index], abs=1e-12), where
            assert tfma_figures[spec.PRECISION] == pytest.approx(precision[index], abs=1e-12), where
            caught = (y == index) & (served == index)
            assert tfma_figures[spec.TRUE_POSITIVES] == caught.sum(), where
            assert tfma_figures[spec.FALSE_NEGATIVES] == ((y == index) & (served != index)).sum(), where
            assert tfma_figures[spec.FALSE_POSITIVES] == ((y != index) & (served == index)).sum(), where
            assert tfma_figures[spec.TRUE_NEGATIVES] == ((y != index) & (served != index)).sum(), where
            # One-vs-rest on the probabilities: ROC-AUC and average precision from log-odds bucket counts
            # (ties only within a factor of 1.002 in odds).
            positive = y == index
            auc = skm.roc_auc_score(positive, probabilities[:, index])
            assert tfma_figures[spec.AUC] == pytest.approx(auc, abs=1e-4), where
            average_precision = skm.average_precision_score(positive, probabilities[:, index])
            assert tfma_figures[spec.PR_AUC] == pytest.approx(average_precision, abs=1e-4), where
        macro_auc = skm.roc_auc_score(y, probabilities, multi_class="ovr", average="macro")
        plain = evaluation.candidate if model == "candidate" else evaluation.baseline
        assert plain[slice_name][spec.MACRO_PREFIX + spec.AUC] == pytest.approx(macro_auc, abs=1e-4)
        assert plain[slice_name][spec.EXAMPLE_COUNT] == mask.sum()


def test_served_confusion_matrix_and_macro_averages_match_scikit_learn(world, gate_run):
    report = gate_run["report"]
    predictions = mf.predictions(world["rows"], "weak")
    labels, masks = _views(world["rows"])
    macro = {entry["slice"]: entry["metrics"] for entry in report["macro"]}
    confusion = {entry["slice"]: entry for entry in report["confusion"]}
    assert list(macro) == list(confusion) == [OVERALL_SLICE, "band=day", "band=night"]
    for slice_name, mask in masks.items():
        y, served = labels[mask], predictions[mf.CLASS][mask]
        expected = skm.confusion_matrix(y, served, labels=range(4))
        assert confusion[slice_name]["matrix"] == expected.tolist() and confusion[slice_name]["unserved"] == 0
        assert macro[slice_name]["macro_recall"] == pytest.approx(skm.recall_score(y, served, average="macro"))
        assert macro[slice_name]["macro_precision"] == pytest.approx(skm.precision_score(y, served, average="macro"))
        probabilities = predictions[mf.PROBABILITIES][mask]
        macro_auc = skm.roc_auc_score(y, probabilities, multi_class="ovr", average="macro")
        assert macro[slice_name]["macro_auc"] == pytest.approx(macro_auc, abs=1e-4)
    assert report["classes"] == {"names": list(mf.CLASS_NAMES), "protected": ["power", "tool_wear"]}


def test_the_gate_fails_the_starved_protected_class_and_passes_the_other(world, gate_run):
    report = gate_run["report"]
    labels = np.array([row[mf.LABEL_KEY] for row in world["rows"]])
    weak, good = (mf.predictions(world["rows"], kind)[mf.CLASS] for kind in ("weak", "good"))
    tool_wear = labels == 3
    caught = int(np.sum(tool_wear & (weak == 3)))
    lost = int(np.sum(tool_wear & (good == 3) & (weak != 3)))

    assert report["verdict"] == "NOT BLESSED"
    assert report["verdict_line"].startswith(
        f"NOT BLESSED: recall {caught / 24:.2f} < 0.60 (95% interval 0.10-0.47, all below) for class tool_wear on "
        "slice overall (n_pos=24) (+2 more blocking checks)"
    )
    failures = [(f["slice"], f["class"], f["metric"], f["kind"], f["verdict"]) for f in report["failures"]]
    assert failures == [
        (OVERALL_SLICE, "tool_wear", spec.RECALL, "minimum", FAIL),
        (OVERALL_SLICE, "tool_wear", spec.RECALL, "max_drop", FAIL),
        ("band=day", "tool_wear", spec.RECALL, "minimum", FAIL),
    ]
    # The same probabilities: tool_wear's ranking metrics pass, and only its recall regressed, paired.
    assert _row(report, OVERALL_SLICE, "tool_wear", spec.PR_AUC)["status"] == PASS
    paired = report["paired_by_class"]["tool_wear"]
    assert (paired["positives"], paired["baseline_only"], paired["candidate_only"]) == (24, lost, 0)
    assert paired["average_precision_drop"] == 0.0
    # power: passes overall (every check), UNCERTAIN on band=day (7 of 12 < 0.60, interval reaches it), not blocking.
    for metric in (spec.RECALL, spec.AUC, spec.PR_AUC):
        assert _row(report, OVERALL_SLICE, "power", metric)["status"] == PASS
    assert [(u["slice"], u["class"], u["metric"]) for u in report["uncertain"]] == [
        ("band=day", "power", spec.RECALL),
        ("band=night", "tool_wear", spec.RECALL),
    ]
    assert _row(report, "band=day", "power", spec.RECALL)["status"] == UNCERTAIN
    # TFMA's own thresholds (AUC and PR-AUC per protected class) all hold: only the gate sees the recall.
    assert report["evaluator_blessed"] is True and report["evaluator_failures"] == []
    assert gate_run["blessing"].get_int_custom_property("blessed") == 0
    assert fileio.exists(os.path.join(gate_run["blessing"].uri, "NOT_BLESSED"))
    artifact = gate_run["artifact"]
    assert artifact.get_float_custom_property("overall_recall_tool_wear") == pytest.approx(caught / 24)
    assert artifact.get_int_custom_property("overall_positives_power") == 24


def test_the_good_model_is_blessed_with_an_uncertain_slice(world):
    evaluation = world["evaluation"]
    report = judge_multiclass(
        evaluation.baseline, evaluation.baseline_classes, PARAMETERS, mf.CLASS_NAMES, mf.PROTECTED
    )
    assert report["verdict_line"] == (
        "BLESSED: no check failed on 6 class-slice pairs (absolute only, no baseline); 17 of 18 passed, "
        "uncertain (not blocking): recall of power on band=day"
    )


def test_small_slices_of_a_protected_class_are_too_small_and_other_classes_never_judged(world):
    evaluation = world["evaluation"]
    strict = BlessingGateParameters(min_recall=0.6, min_auc=0.85, min_pr_auc=0.5, min_slice_positives=13)
    report = judge_multiclass(evaluation.baseline, evaluation.baseline_classes, strict, mf.CLASS_NAMES, mf.PROTECTED)
    assert report["too_small"] == [
        {"slice": band, "class": name, "positives": 12, "reason": "12 positives < evaluator.min_slice_positives=13"}
        for band in ("band=day", "band=night")
        for name in ("power", "tool_wear")
    ]
    assert report["verdict_line"].endswith(
        "too small to judge: power on band=day (n_pos=12), tool_wear on band=day (n_pos=12), "
        "power on band=night (n_pos=12), tool_wear on band=night (n_pos=12)"
    )
    heat = _entry(report, "band=day", "heat")
    assert heat["protected"] is False and heat["judged"] is False and "reason" not in heat
    assert {row["status"] for row in heat["metrics"]} == {REPORTED}
    assert report["counts"]["slices"] == 6 and report["counts"]["judged_slices"] == 2


def test_report_files_hold_one_row_per_class_and_slice_naming_the_class(gate_run):
    report = gate_run["report"]
    assert [(e["slice"], e["class"]) for e in report["slices"]] == [
        (slice_name, name) for slice_name in SLICES for name in mf.CLASS_NAMES
    ]
    with fileio.open(os.path.join(gate_run["artifact"].uri, spec.GATE_REPORT_MARKDOWN)) as handle:
        markdown = handle.read()
    lines = markdown.splitlines()
    header = "| Slice | Class | Positives | Metric | Value | 95% interval | Threshold | Baseline | Change | Result |"
    assert header in lines
    rows = lines[lines.index(header) + 2 :]
    assert len(rows) == 3 * 4 * 8
    recall = _row(report, "band=day", "power", spec.RECALL)
    low, high = recall["interval"]
    assert (
        f"| band=day | power | 12 | recall | {recall['value']:.4f} | {low:.3f}-{high:.3f} | >= 0.60 | "
        f"{recall['baseline']:.4f} | +0.0000 | uncertain |"
    ) in rows
    heat_recall = next(row for row in rows if row.startswith("| overall | heat | 72 | recall |"))
    assert heat_recall.endswith("| - |")  # not protected: shown, never judged
    assert "## Against the baseline, paired on the same eval examples, class tool_wear against the rest" in lines
    assert "| actual / served | none | heat | power | tool_wear |" in lines

    with fileio.open(os.path.join(gate_run["artifact"].uri, spec.GATE_REPORT_HTML)) as handle:
        page = parse(handle.read())
    assert "classes" in page.sections
    judged = page.tables["slices"]
    assert {(cells[0], cells[1]) for cells in judged} == {
        (slice_name, name) for slice_name in SLICES for name in ("power", "tool_wear")
    }
    assert len(page.tables["all-metrics"]) == 3 * 4 * 8
    assert [cells[0] for cells in page.tables["macro"]] == [OVERALL_SLICE, "band=day", "band=night"]
