"""The gate report as files: `gate_report.json` (machine-readable) and `gate_report.md` (a table for people).

Both come from the dict `judge.judge` returns (plus the `models` entry the executor
adds); `render_verdict_line` turns either the dict or the JSON text back into the
one line the console summary prints.
"""

from __future__ import annotations

import json
import math
import os
from typing import Any, Dict, List, Mapping, Optional, Union

from tfx.dsl.io import fileio

from components.blessing_gate import spec
from components.blessing_gate.errors import GateInputError
from components.blessing_gate.judge import FAIL, PASS, REPORTED, TOO_SMALL, UNCERTAIN

_STATUS_CELL = {PASS: "pass", FAIL: "**FAIL**", UNCERTAIN: "uncertain", TOO_SMALL: "too small", REPORTED: "-"}


def _json_safe(value: Any) -> Any:
    """NaN and infinities become null: JSON has no such numbers and readers choke on them."""
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return None
    if isinstance(value, Mapping):
        return {key: _json_safe(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(item) for item in value]
    return value


def to_json(report: Mapping[str, Any]) -> str:
    return json.dumps(_json_safe(report), indent=2, sort_keys=True, allow_nan=False) + "\n"


def render_verdict_line(report_json: Union[str, Mapping[str, Any]]) -> str:
    """The one-line verdict, e.g. `NOT BLESSED: recall 0.61 < 0.80 on slice hour_band=night (n_pos=41)`.

    Takes the parsed report or the text of `gate_report.json`.
    """
    report = json.loads(report_json) if isinstance(report_json, str) else report_json
    try:
        return str(report["verdict_line"])
    except (KeyError, TypeError) as error:
        raise GateInputError(f"not a gate report (no 'verdict_line'): {str(report_json)[:200]!r}") from error


def read_report(gate_report_uri: str) -> Dict[str, Any]:
    """The parsed `gate_report.json` of a GateReport artifact directory."""
    path = os.path.join(gate_report_uri, spec.GATE_REPORT_JSON)
    if not fileio.exists(path):
        raise GateInputError(f"no {spec.GATE_REPORT_JSON} in {gate_report_uri}; is it a GateReport artifact?")
    with fileio.open(path, "r") as handle:
        return json.loads(handle.read())


# Metrics that are counts: shown as integers.
_COUNT_METRICS = {
    spec.EXAMPLE_COUNT,
    spec.TRUE_POSITIVES,
    spec.FALSE_POSITIVES,
    spec.TRUE_NEGATIVES,
    spec.FALSE_NEGATIVES,
}


def _number(value: Any, metric: str, signed: bool = False) -> str:
    if value is None:
        return "-"
    if math.isnan(value):
        return "NaN"
    sign = "+" if signed else ""
    if metric in _COUNT_METRICS and float(value).is_integer():
        return f"{int(value):{sign}d}"
    return f"{value:{sign}.4f}"


def _threshold_cell(row: Mapping[str, Any]) -> str:
    parts = []
    if row["min"] is not None:
        parts.append(f">= {row['min']:.2f}")
    if row["max_drop"] is not None:
        parts.append(f"drop <= {row['max_drop']:.2f}")
    return "; ".join(parts) or "-"


def _interval_cell(interval: Any) -> str:
    return "-" if not interval else f"{interval[0]:.3f}-{interval[1]:.3f}"


def _result_cell(row: Mapping[str, Any]) -> str:
    cell = _STATUS_CELL[row["status"]]
    if any(check["blocks"] for check in row["checks"]) and row["status"] != FAIL:
        cell += " (blocks)"
    return cell


def _escape(text: str) -> str:
    return str(text).replace("|", "\\|")


def _paired_lines(paired: Mapping[str, Any], class_name: Optional[str] = None) -> List[str]:
    """The regression section: both models on the same examples, the counts behind the recall drop."""
    level = f"{paired['confidence']:.0%}"
    recall = paired["recall_drop_interval"]
    precision = paired["average_precision_drop_interval"]
    of_class = "" if class_name is None else f", class {_escape(class_name)} against the rest"
    return [
        "",
        f"## Against the baseline, paired on the same eval examples{of_class}",
        "",
        f"- {paired['examples']} examples, {paired['positives']} positives: caught by both {paired['caught_by_both']}, "
        f"by the candidate only {paired['candidate_only']}, by the baseline only {paired['baseline_only']}, "
        f"by neither {paired['missed_by_both']}",
        f"- recall drop {paired['recall_drop']:+.4f}, {level} interval {recall[0]:+.4f} to {recall[1]:+.4f} "
        f"({paired['recall_method']}; p={paired['mcnemar_p_value']:.3g})",
        f"- average precision {paired['baseline_average_precision']:.4f} (baseline) -> "
        f"{paired['candidate_average_precision']:.4f} (candidate): drop {paired['average_precision_drop']:+.4f}, "
        f"{level} interval {precision[0]:+.4f} to {precision[1]:+.4f} ({paired['average_precision_method']}, "
        f"{paired['bootstrap_samples']} resamples, seed {paired['seed']})",
    ]


def _check_lines(title: str, entries: List[Mapping[str, Any]]) -> List[str]:
    if not entries:
        return []
    return ["", f"## {title}", ""] + [f"- {_escape(entry['message'])}" for entry in entries]


def _named(entry: Mapping[str, Any]) -> str:
    """A too-small entry's name: its slice, or (multiclass) its class on its slice."""
    return entry["slice"] if "class" not in entry else f"class {entry['class']} on {entry['slice']}"


def macro_rows(report: Mapping[str, Any]) -> List[List[str]]:
    """Multiclass: per slice, the macro averages over all classes (recall and precision at the served class)."""
    names = [spec.MACRO_PREFIX + metric for metric in (spec.RECALL, spec.PRECISION, spec.AUC, spec.PR_AUC)]
    return [
        [entry["slice"]] + [_number(entry["metrics"].get(name), name) for name in names] for entry in report["macro"]
    ]


MACRO_HEADER = ["Slice", "Macro recall", "Macro precision", "Macro AUC", "Macro PR-AUC"]


def _macro_lines(report: Mapping[str, Any]) -> List[str]:
    lines = ["", "## Macro averages over all classes", "", "| " + " | ".join(MACRO_HEADER) + " |"]
    lines.append("|---|" + "---:|" * (len(MACRO_HEADER) - 1))
    return lines + ["| " + " | ".join(_escape(cell) for cell in row) + " |" for row in macro_rows(report)]


def _confusion_lines(report: Mapping[str, Any]) -> List[str]:
    """Multiclass: each slice's served confusion matrix, rows the actual class, columns the served class."""
    names = report["classes"]["names"]
    lines = ["", "## Confusion matrices of the served class (rows: actual class; columns: served class)"]
    for entry in report["confusion"]:
        lines += [
            "",
            f"Slice {_escape(entry['slice'])}:",
            "",
            "| actual / served | " + " | ".join(_escape(name) for name in names) + " |",
        ]
        lines.append("|---|" + "---:|" * len(names))
        lines += [
            f"| {_escape(name)} | " + " | ".join(str(c) for c in row) + " |"
            for name, row in zip(names, entry["matrix"], strict=True)
        ]
        if entry["unserved"]:
            lines += ["", f"{entry['unserved']} rows had no served class."]
    return lines


def to_markdown(report: Mapping[str, Any]) -> str:
    """Verdict on top, then the rule and settings, blocking and uncertain checks, one row per slice and metric."""
    counts = report["counts"]
    thresholds = report["thresholds"]
    lines: List[str] = ["# Blessing gate report", "", f"**{_escape(report['verdict_line'])}**", ""]
    models = report.get("models") or {}
    if models.get("candidate"):
        lines.append(f"- Candidate model: {_escape(models['candidate'])}")
    if report["has_baseline"]:
        lines.append(f"- Baseline model: {_escape(models.get('baseline') or 'given')}")
    else:
        lines.append("- Baseline model: none (first run: absolute thresholds only)")
    evaluator = "blessed" if report["evaluator_blessed"] else "NOT blessed"
    lines.append(f"- TFX Evaluator (TFMA thresholds on the overall slice): {evaluator}")
    lines.extend(f"  - {_escape(message)}" for message in report["evaluator_failures"])
    classes = report.get("classes")
    if classes:
        lines.append(
            f"- Classes: {_escape(', '.join(classes['names']))}; protected (judged one-vs-rest): "
            f"{_escape(', '.join(classes['protected']))}"
        )
        lines.append(
            f"- Thresholds for each protected class on every slice with >= {thresholds['min_slice_positives']} rows "
            f"of it: recall >= {thresholds['min_recall']:.2f} (at the served class), auc >= "
            f"{thresholds['min_auc']:.2f}, pr_auc >= {thresholds['min_pr_auc']:.2f}; overall, against a baseline, a "
            f"drop of at most {thresholds['max_pr_auc_drop']:.2f} in pr_auc and {thresholds['max_recall_drop']:.2f} "
            "in recall"
        )
    else:
        lines.append(
            f"- Thresholds on every slice with >= {thresholds['min_slice_positives']} positives: "
            f"auc >= {thresholds['min_auc']:.2f}, recall >= {thresholds['min_recall']:.2f}; overall also "
            f"pr_auc >= {thresholds['min_pr_auc']:.2f} and, against a baseline, a drop of at most "
            f"{thresholds['max_pr_auc_drop']:.2f} in pr_auc and {thresholds['max_recall_drop']:.2f} in recall"
        )
    lines.append(f"- Rule: {_escape(report['rule'])}")
    unit = "Protected class-slice pairs" if classes else "Slices"
    lines.append(
        f"- {unit}: {counts['slices']} ({counts['judged_slices']} judged, {counts['too_small_slices']} too small to "
        f"judge); checks: {counts['checks']} (passed {counts['passed_checks']}, uncertain "
        f"{counts['uncertain_checks']}, failed {counts['failed_checks']}; blocking {counts['blocking_checks']})"
    )
    lines += _check_lines("Blocking checks", report["failures"])
    lines += _check_lines("Uncertain, not blocking", report["uncertain"])
    if report["too_small"]:
        lines += ["", "## Too small to judge", ""]
        lines.extend(f"- {_escape(_named(entry))}: {_escape(entry['reason'])}" for entry in report["too_small"])
    if report.get("paired"):
        lines += _paired_lines(report["paired"])
    for class_name, paired in (report.get("paired_by_class") or {}).items():
        lines += _paired_lines(paired, class_name)
    if classes:
        lines += _macro_lines(report) + _confusion_lines(report)
    level = f"{thresholds['confidence']:.0%}"
    class_head, class_rule = ("Class | ", "---|") if classes else ("", "")
    lines += [
        "",
        "## Every class, slice and metric" if classes else "## Every slice and metric",
        "",
        f"| Slice | {class_head}Positives | Metric | Value | {level} interval | Threshold | Baseline | Change "
        "| Result |",
        f"|---|{class_rule}---:|---|---:|---|---|---:|---:|---|",
    ]
    for entry in report["slices"]:
        class_cell = f"{_escape(entry['class'])} | " if classes else ""
        for row in entry["metrics"]:
            lines.append(
                f"| {_escape(entry['slice'])} | {class_cell}{entry['positives']} | {row['metric']} | "
                f"{_number(row['value'], row['metric'])} | {_interval_cell(row['interval'])} | "
                f"{_threshold_cell(row)} | "
                f"{_number(row['baseline'], row['metric'])} | {_number(row['change'], row['metric'], signed=True)} | "
                f"{_result_cell(row)} |"
            )
    return "\n".join(lines) + "\n"
