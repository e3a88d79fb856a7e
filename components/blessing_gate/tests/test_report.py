"""The report files: Markdown table (with intervals and the rule) and JSON, the console verdict line, atomic writes."""

import dataclasses
import json
import os

import pytest

from components.blessing_gate import spec
from components.blessing_gate.errors import GateInputError
from components.blessing_gate.judge import OVERALL_SLICE, judge
from components.blessing_gate.report import read_report, render_verdict_line, to_json, to_markdown
from components.blessing_gate.tests.test_judge import PARAMETERS, good_candidate, metrics, paired
from components.common.artifact_io import write_text_atomically


def failing_report():
    candidate = good_candidate()
    candidate["hour_band=night"] = metrics(25, 16, recall=0.61)
    candidate["amount_bucket=ge_1000"] = metrics(1, 2, precision=float("nan"))
    baseline = good_candidate()
    return judge(candidate, PARAMETERS, baseline=baseline, paired=paired(baseline_only=2))


def test_markdown_has_the_verdict_on_top_and_a_row_per_slice_and_metric():
    report = failing_report()
    text = to_markdown(report)
    lines = text.splitlines()
    verdict = "recall 0.61 < 0.80 (95% interval 0.45-0.76, all below) on slice hour_band=night (n_pos=41)"
    assert lines[2] == f"**NOT BLESSED: {verdict}**"
    rows = [line for line in lines if line.startswith("| ") and not line.startswith("| Slice")]
    expected = sum(len(entry["metrics"]) for entry in report["slices"])
    assert len(rows) == expected == 4 * 8
    assert "| hour_band=night | 41 | recall | 0.6100 | 0.445-0.758 | >= 0.80 | 0.9024 | -0.2924 | **FAIL** |" in rows
    assert "| overall | 100 | pr_auc | 0.7000 | 0.603-0.782 | >= 0.50; drop <= 0.02 | 0.7000 | +0.0000 | pass |" in rows
    assert "| amount_bucket=ge_1000 | 3 | recall | 0.3333 | 0.008-0.906 | >= 0.80 | - | - | too small |" in rows
    assert any(row.startswith("| amount_bucket=ge_1000 | 3 | precision | NaN |") for row in rows)
    assert "| overall | 100 | true_positives | 90 | - | - | 90 | +0 | - |" in rows
    assert "- amount_bucket=ge_1000: 3 positives < evaluator.min_slice_positives=10" in lines
    assert f"- {verdict}" in lines
    assert "## Against the baseline, paired on the same eval examples" in lines
    assert any(line.startswith("- recall drop +0.0200, 95% interval") for line in lines)
    assert any(line.startswith("- Rule: Each check has a point estimate and a 95% interval.") for line in lines)


def test_uncertain_checks_are_listed_and_marked_when_they_block():
    candidate = good_candidate()
    candidate["hour_band=night"] = metrics(30, 11)
    candidate[OVERALL_SLICE] = metrics(75, 25)
    lines = to_markdown(judge(candidate, PARAMETERS)).splitlines()
    assert "## Uncertain, not blocking" in lines
    assert (
        "- recall 0.73 < 0.80 (95% interval 0.57-0.86 reaches it: uncertain) on slice hour_band=night (n_pos=41)"
        in lines
    )
    assert "| overall | 100 | recall | 0.7500 | 0.653-0.831 | >= 0.80 | - | - | uncertain (blocks) |" in lines
    assert "| hour_band=night | 41 | recall | 0.7317 | 0.571-0.858 | >= 0.80 | - | - | uncertain |" in lines


def test_json_is_strict_and_keeps_everything():
    report = failing_report()
    text = to_json(report)
    parsed = json.loads(text)  # Would fail on NaN with a strict parser: NaN must be null.
    assert "NaN" not in text
    assert parsed["verdict"] == "NOT BLESSED" and parsed["blessed"] is False
    night = next(entry for entry in parsed["slices"] if entry["slice"] == "amount_bucket=ge_1000")
    assert next(row for row in night["metrics"] if row["metric"] == spec.PRECISION)["value"] is None
    # The settings the checks use; recall_at_fpr judges nothing and is not listed.
    judged = {field.name for field in dataclasses.fields(PARAMETERS)} - {"recall_at_fpr"}
    assert parsed["thresholds"] == {name: getattr(PARAMETERS, name) for name in judged}
    assert parsed["paired"]["baseline_only"] == 2 and parsed["paired"]["recall_drop_interval"] == [0.01, 0.02]
    assert to_json(report) == text  # deterministic


def test_render_verdict_line_from_text_or_dict():
    report = failing_report()
    line = "NOT BLESSED: recall 0.61 < 0.80 (95% interval 0.45-0.76, all below) on slice hour_band=night (n_pos=41)"
    assert render_verdict_line(to_json(report)) == line
    assert render_verdict_line(report) == line
    blessed = judge({OVERALL_SLICE: metrics(9, 1)}, PARAMETERS)
    assert render_verdict_line(to_json(blessed)).startswith("BLESSED: all 3 checks passed on 1 slices")
    with pytest.raises(GateInputError, match="not a gate report"):
        render_verdict_line('{"verdict": "BLESSED"}')


def test_atomic_write_and_read_back(tmp_path):
    report = failing_report()
    directory = str(tmp_path / "gate_report")
    os.makedirs(directory)
    write_text_atomically(os.path.join(directory, spec.GATE_REPORT_JSON), to_json(report))
    write_text_atomically(os.path.join(directory, spec.GATE_REPORT_JSON), to_json(report))  # overwrites in place
    assert sorted(os.listdir(directory)) == [spec.GATE_REPORT_JSON]
    assert read_report(directory)["verdict_line"] == report["verdict_line"]
    with pytest.raises(GateInputError, match="no gate_report.json in"):
        read_report(str(tmp_path))
