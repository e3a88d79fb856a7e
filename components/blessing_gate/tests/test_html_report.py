"""`report.html`: curves from known predictions, every section from crafted inputs, and from a real gate run.

The real run is the stock TFX Evaluator over two tiny served models (stricter candidate, good
baseline; about 10 s), then the gate executor with ClassSkew's report and Rebalance's summary
as inputs: the page it writes must show the gate report's own numbers.
"""

import html
import json
import os
import re
from html.parser import HTMLParser

import numpy as np
import pytest
from tfx.dsl.io import fileio
from tfx.types import standard_artifacts

from components.blessing_gate import curve_points, executor, html_report, spec
from components.blessing_gate.judge import FAIL, PASS, REPORTED, TOO_SMALL, UNCERTAIN
from components.blessing_gate.report import read_report
from components.blessing_gate.spec import GateReport
from components.blessing_gate.tests import fixtures
from components.blessing_gate.tests.test_report import failing_report
from components.class_skew.analysis import analyze
from components.class_skew.counts import LabelCounts
from components.class_skew.spec import ClassSkewParameters, ClassSkewReport
from components.rebalance.executor import SUMMARY_FILE_NAME as REBALANCE_SUMMARY_FILE

# The result column by verdict; a check that blocks without failing says so.
RESULTS = {PASS: "pass", FAIL: "FAIL", UNCERTAIN: "uncertain", TOO_SMALL: "too small", REPORTED: "-"}
SECTIONS = ("gate", "class-counts", "curves", "slice-table", "training", "drift")


def class_skew_report():
    """ClassSkew's real analysis of two spans, so the report carries drift against span 1."""
    counts = {
        "train": LabelCounts("train", 1000, {"0": 990, "1": 10}, 0),
        "eval": LabelCounts("eval", 101, {"0": 90, "1": 10}, 1),
    }
    previous = {"train": LabelCounts("train", 100, {"0": 95, "1": 5}, 0)}
    return analyze(counts, "label", ClassSkewParameters(), previous_counts=previous, previous_span=1, span=2)


REBALANCE = {
    "strategy": "undersample",
    "seed": 7,
    "splits": {
        "train": {"before": {"0": 990, "1": 10}, "after": {"0": 100, "1": 10}},
        "eval": {"before": {"0": 90, "1": 10}, "after": {"0": 90, "1": 10}},
    },
}
TRAINING = {
    "decision_threshold": 0.1642,
    "threshold_rule": "max_recall_at_precision",
    "threshold_message": "met",
    "valid_precision": 0.58,
    "valid_recall": 0.86,
    "train_rows": 1000,
    "train_positives": 10,
    "epochs_run": [25, 10, 23],
    "best_val_pr_auc": [0.776, 0.722, 0.762],
}


class _Page(HTMLParser):
    """Section ids, the tags used, and the cells of every row of each table with an id."""

    def __init__(self):
        super().__init__()
        self.sections, self.tags, self.tables = [], set(), {}
        self._table, self._row, self._cell = None, None, None

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        attributes = dict(attrs)
        if tag == "section":
            self.sections.append(attributes.get("id"))
        if tag == "table":
            self._table = self.tables.setdefault(attributes.get("id"), [])
        if self._table is not None and tag == "tr":
            self._row = []
        if self._row is not None and tag == "td":
            self._cell = ""

    def handle_data(self, data):
        if self._cell is not None:
            self._cell += data

    def handle_endtag(self, tag):
        if tag == "td" and self._cell is not None:
            self._row.append(self._cell)
            self._cell = None
        if tag == "tr" and self._row:
            self._table.append(self._row)
            self._row = None
        if tag == "table":
            self._table = None


def parse(page):
    parser = _Page()
    parser.feed(page)
    return parser


def expected_rows(report, judged_only):
    """Slice, positives, metric, value, interval and result of each row, formatted from the gate report's numbers."""
    rows = []
    for entry in report["slices"]:
        for row in entry["metrics"]:
            if judged_only and row["status"] == REPORTED:
                continue
            value = row["value"]
            if value is None or np.isnan(value):  # gate_report.json keeps a NaN metric as null
                shown = "NaN"
            elif row["metric"].startswith(("true_", "false_", "example_")) and float(value).is_integer():
                shown = str(int(value))
            else:
                shown = f"{value:.4f}"
            interval = row["interval"]
            bounds = "-" if not interval else f"{interval[0]:.3f}-{interval[1]:.3f}"
            result = RESULTS[row["status"]]
            if row["status"] != FAIL and any(check["blocks"] for check in row["checks"]):
                result += " (blocks)"
            rows.append([entry["slice"], str(entry["positives"]), row["metric"], shown, bounds, result])
    return rows


def test_curves_of_four_known_predictions():
    labels = np.array([1, 0, 1, 0])
    probability = np.array([0.9, 0.8, 0.4, 0.1])
    curve = curve_points.curves(labels, {"m": {"probability": probability, "decision": probability >= 0.5}})["m"]
    assert curve["roc"] == [[0.0, 0.0], [0.0, 0.5], [0.5, 0.5], [0.5, 1.0], [1.0, 1.0]]
    np.testing.assert_allclose(curve["pr"], [[0.5, 1.0], [0.5, 0.5], [1.0, 2 / 3], [1.0, 0.5]])
    assert curve["served"] == {"roc": [0.5, 0.5], "pr": [0.5, 0.5]}


def test_curves_are_thinned_but_keep_both_ends():
    rng = np.random.default_rng(3)
    labels = (rng.random(5000) < 0.1).astype(int)
    probability = rng.random(5000)
    curve = curve_points.curves(labels, {"m": {"probability": probability, "decision": probability >= 0.5}})["m"]
    assert len(curve["pr"]) == curve_points.MAX_CURVE_POINTS
    assert curve["roc"][-1] == [1.0, 1.0]


def test_every_section_from_crafted_inputs_with_the_gate_report_numbers():
    report = failing_report()
    curve_data = curve_points.curves(
        np.array([1, 0, 1, 0]), {"candidate": {"probability": np.array([0.9, 0.8, 0.4, 0.1]), "decision": np.ones(4)}}
    )
    page = html_report.render(
        report,
        rebalance=REBALANCE,
        class_skew=class_skew_report().to_json_dict(),
        training=TRAINING,
        curve_data=curve_data,
    )
    parsed = parse(page)
    assert sorted(parsed.sections) == sorted(SECTIONS)
    assert "script" not in parsed.tags and "http://" not in page.replace("http://www.w3.org/2000/svg", "")
    assert [row[:5] + row[8:9] for row in parsed.tables["slices"]] == expected_rows(report, judged_only=True)
    assert [row[:5] + row[8:9] for row in parsed.tables["all-metrics"]] == expected_rows(report, judged_only=False)
    assert "The gate did not bless the candidate" in page and html.escape(report["verdict_line"]) in page
    assert page.count("<svg") == 5  # counts, ROC, PR, epochs per member, PR-AUC per member
    assert "train after" in page and '<td>train</td><td class="n">990 -&gt; 100</td>' in page  # undersampled
    assert "Span 2 against span 1." in page
    assert "0.1642" in page
    assert "no per-epoch history" in page


def test_learning_curves_are_drawn_from_the_per_epoch_history():
    history = {**TRAINING, "val_pr_auc_history": [[0.5, 0.7, 0.776], [0.6, 0.722], [0.4, 0.762]]}
    page = html_report.render(failing_report(), training=history)
    assert "Learning curves: validation PR-AUC per epoch" in page and "no per-epoch history" not in page
    assert page.count("<polyline") >= 3, "one line per member"


def test_a_tree_model_report_without_epochs_is_shown_as_text():
    trees = {"decision_threshold": 0.25, "threshold_rule": "max_f1", "epochs_run": "n/a (300 trees)"}
    page = html_report.render(failing_report(), training=trees)
    assert "Served decision threshold 0.2500 (max_f1" in page
    assert "Epochs run n/a (300 trees); best validation PR-AUC -." in page
    assert page.count("<svg") == 0


def test_missing_inputs_leave_a_sentence_not_a_blank():
    page = html_report.render(failing_report())
    assert sorted(parse(page).sections) == sorted(SECTIONS)
    assert "Neither Rebalance&#x27;s summary nor ClassSkew&#x27;s report was given" in page
    assert "No curves were given." in page
    assert "The model holds no training report." in page


def run_gate(root, evaluated, model, schema, baseline=None):
    """The gate executor as TFX calls it, with ClassSkew's report and Rebalance's summary as inputs."""
    class_skew = ClassSkewReport()
    class_skew.uri = os.path.join(root, "class_skew")
    class_skew_report().save(class_skew.uri)
    rebalanced = standard_artifacts.Examples()
    rebalanced.uri = os.path.join(root, "rebalanced")
    fileio.makedirs(rebalanced.uri)
    with fileio.open(os.path.join(rebalanced.uri, REBALANCE_SUMMARY_FILE), "w") as handle:
        handle.write(json.dumps(REBALANCE))
    blessing, gate_report = standard_artifacts.ModelBlessing(), GateReport()
    blessing.uri, gate_report.uri = os.path.join(root, "blessing"), os.path.join(root, "gate_report")
    input_dict = {
        spec.EVALUATION_KEY: [evaluated["evaluation"]],
        spec.EVALUATOR_BLESSING_KEY: [evaluated["evaluator_blessing"]],
        spec.EXAMPLES_KEY: [evaluated["examples"]],
        spec.MODEL_KEY: [model],
        spec.BASELINE_MODEL_KEY: [] if baseline is None else [baseline],
        spec.SCHEMA_KEY: [schema],
        spec.CLASS_SKEW_KEY: [class_skew],
        spec.REBALANCED_EXAMPLES_KEY: [rebalanced],
    }
    exec_properties = {
        **fixtures.TEST_PARAMETERS.to_exec_properties(),
        spec.SLICE_FEATURE_KEYS: json.dumps([fixtures.SLICE_KEY]),
        spec.LABEL_KEY: fixtures.LABEL_KEY,
        spec.EVAL_SPLIT: "eval",
    }
    executor.Executor().Do(
        input_dict, {spec.BLESSING_KEY: [blessing], spec.GATE_REPORT_KEY: [gate_report]}, exec_properties
    )
    with fileio.open(os.path.join(gate_report.uri, spec.GATE_REPORT_HTML), "r") as handle:
        return read_report(gate_report.uri), handle.read()


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("html")
    rows = fixtures.eval_rows()
    return {
        "root": str(root),
        "rows": rows,
        "examples": fixtures.write_examples(str(root / "examples"), rows),
        "good": fixtures.write_model(str(root / "good"), "good", model_id=1),
        "stricter": fixtures.write_model(str(root / "stricter"), "stricter", model_id=2),
        "schema": fixtures.write_schema(str(root / "schema")),
    }


def served_recall_cell(page, name):
    cells = re.search(rf"<tr><td>{name}</td><td class=\"n\">([0-9.]+)</td>", page)
    assert cells is not None, f"no served point of {name}"
    return float(cells.group(1))


def recall_at_threshold(rows, kind):
    labels = np.array([row[fixtures.LABEL_KEY] for row in rows])
    caught = (fixtures.good_model_probability(rows) >= fixtures.THRESHOLDS_BY_KIND[kind]) & (labels == 1)
    return caught.sum() / labels.sum()


def test_a_real_gate_run_against_a_baseline_writes_every_section_with_the_gate_report_numbers(world):
    root = os.path.join(world["root"], "against_baseline")
    evaluated = fixtures.run_evaluator(root, world["examples"], world["stricter"], baseline=world["good"])
    report, page = run_gate(root, evaluated, world["stricter"], world["schema"], baseline=world["good"])
    parsed = parse(page)
    assert sorted(parsed.sections) == sorted(SECTIONS)
    assert [row[:5] + row[8:9] for row in parsed.tables["slices"]] == expected_rows(report, judged_only=True)
    assert [row[:5] + row[8:9] for row in parsed.tables["all-metrics"]] == expected_rows(report, judged_only=False)
    assert html.escape(report["verdict_line"]) in page
    assert "Span 2 against span 1." in page and "undersample" in page
    # The curves come from the gate's own scoring pass: each served point is that model's recall at its threshold.
    assert served_recall_cell(page, "candidate") == pytest.approx(
        recall_at_threshold(world["rows"], "stricter"), abs=5e-5
    )
    assert served_recall_cell(page, "baseline") == pytest.approx(recall_at_threshold(world["rows"], "good"), abs=5e-5)


def test_a_first_run_without_a_baseline_still_draws_the_candidate_curves(world):
    root = os.path.join(world["root"], "alone")
    evaluated = fixtures.run_evaluator(root, world["examples"], world["good"])
    report, page = run_gate(root, evaluated, world["good"], world["schema"])
    overall_recall = next(row for row in report["slices"][0]["metrics"] if row["metric"] == "recall")["value"]
    assert served_recall_cell(page, "candidate") == pytest.approx(overall_recall, abs=5e-5)
    assert "<td>baseline</td>" not in page and page.count("<polyline") == 2
