"""`report.html`: one self-contained page of what a run found, written beside the gate report.

The gate report (JSON and Markdown) is the record; this page is for looking at it. It holds
inline CSS and inline SVG (`svg`) only: no script, no network, so it opens from any copy of
the artifact. Every section comes from plain dicts that already exist, so it is a pure function:
- the gate report (`judge.judge` plus `models`): the decision, the per-slice table with intervals;
- Rebalance's `rebalance_summary.json`: class counts per split before and after resampling;
- ClassSkew's `class_skew.json`: class counts when Rebalance's summary is absent, and drift
  against the previous span when it measured one;
- the Trainer's `training_report.json`: the served threshold and per-member training figures
  and the learning curves (per member, validation PR-AUC per epoch; older reports lack them);
- `curve_points.curves(...)`: ROC and PR curves of the candidate (and the baseline) from the gate's
  scoring pass.
A missing input leaves its section with one sentence saying why, never a blank.
"""

from __future__ import annotations

import html
from typing import Any, Dict, Mapping, Optional, Sequence

from components.blessing_gate import svg
from components.blessing_gate.judge import REPORTED
from components.blessing_gate.report import (
    MACRO_HEADER,
    _interval_cell,
    _named,
    _number,
    _result_cell,
    _threshold_cell,
    macro_rows,
)

_CSS = """
body{font-family:system-ui,sans-serif;margin:24px auto;max-width:1120px;color:#222}
h1{font-size:22px}h2{font-size:17px;border-bottom:1px solid #ccc;padding-bottom:4px;margin-top:28px}
.verdict{font-size:16px;padding:10px 14px;border-radius:4px}
.blessed{background:#e3f4e8;border-left:6px solid #009E73}.not-blessed{background:#fbe7e1;border-left:6px solid #D55E00}
table{border-collapse:collapse;font-size:13px;margin:8px 0}td,th{border:1px solid #ddd;padding:3px 8px}
td.n{text-align:right;font-variant-numeric:tabular-nums}th{background:#f4f4f4}
tr.fail td{background:#fbe7e1}tr.uncertain td{background:#fff6dc}
.charts{display:flex;flex-wrap:wrap;gap:16px;align-items:flex-start}
.note{color:#555;font-style:italic}
"""


def _esc(value: Any) -> str:
    return html.escape(str(value))


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]], numeric_from: int = 1) -> str:
    head = "".join(f"<th>{_esc(cell)}</th>" for cell in header)
    body = []
    for row in rows:
        cells = "".join(
            f'<td class="n">{_esc(cell)}</td>' if index >= numeric_from else f"<td>{_esc(cell)}</td>"
            for index, cell in enumerate(row)
        )
        body.append(f"<tr>{cells}</tr>")
    return f"<table><tr>{head}</tr>{''.join(body)}</table>"


def _note(text: str) -> str:
    return f'<p class="note">{_esc(text)}</p>'


def _class_label(key: str, names: Sequence[str]) -> str:
    """`class 1`, or (multiclass) the class's name, `power`."""
    return names[int(key)] if key.isdigit() and int(key) < len(names) else f"class {key}"


def _counts_section(
    rebalance: Optional[Mapping[str, Any]], class_skew: Optional[Mapping[str, Any]], names: Sequence[str] = ()
) -> str:
    """Bars per split and stage, and a table beside them: one row per split, `before -> after` per class."""
    parts = ['<section id="class-counts"><h2>Class counts per split</h2>']
    stages: Dict[str, Dict[str, Mapping[str, int]]] = {}
    if rebalance:
        note = f"Rebalance strategy {rebalance['strategy']!r} (seed {rebalance['seed']}); bars on a log scale."
        stages = {split: {"before": e["before"], "after": e["after"]} for split, e in rebalance["splits"].items()}
    elif class_skew:
        note = "No Rebalance summary was given: ClassSkew's counts, before any resampling; log scale."
        stages = {split: {"before": e["class_counts"]} for split, e in class_skew["splits"].items()}
    else:
        parts.append(_note("Neither Rebalance's summary nor ClassSkew's report was given to the gate."))
        return "".join(parts) + "</section>"
    parts.append(_note(note))
    groups = {
        f"{split} {stage}": {_class_label(key, names): float(value) for key, value in counts.items()}
        for split, by_stage in stages.items()
        for stage, counts in by_stage.items()
    }
    classes = sorted({key for by_stage in stages.values() for counts in by_stage.values() for key in counts})
    rows = [
        [split] + [" -> ".join(str(counts.get(key, 0)) for counts in by_stage.values()) for key in classes]
        for split, by_stage in stages.items()
    ]
    header = ["Split"] + [f"{_class_label(key, names)} ({' -> '.join(next(iter(stages.values())))})" for key in classes]
    parts.append('<div class="charts">' + svg.bar_chart("Examples per class", groups, log_scale=True))
    parts.append(_table(header, rows) + "</div>")
    return "".join(parts) + "</section>"


def _gate_section(report: Mapping[str, Any]) -> str:
    counts = report["counts"]
    kind = "blessed" if report["blessed"] else "not-blessed"
    unit = "protected class-slice pairs" if report.get("classes") else "slices"
    sentence = (
        f"The gate {'blessed' if report['blessed'] else 'did not bless'} the candidate: "
        f"{counts['judged_slices']} of {counts['slices']} {unit} judged, {counts['failed_checks']} of "
        f"{counts['checks']} checks failed, {counts['uncertain_checks']} uncertain, "
        f"{counts['blocking_checks']} blocking."
    )
    parts = [
        '<section id="gate"><h2>Gate decision</h2>',
        f'<p class="verdict {kind}" id="decision">{_esc(sentence)}<br><b>{_esc(report["verdict_line"])}</b></p>',
        f"<p>Rule: {_esc(report['rule'])}</p>",
    ]
    models = report.get("models") or {}
    parts.append(
        f"<p>Candidate: {_esc(models.get('candidate') or '-')}; baseline: {_esc(models.get('baseline') or 'none')}</p>"
    )
    for title, entries in (("Blocking", report["failures"]), ("Uncertain, not blocking", report["uncertain"])):
        if entries:
            items = "".join(f"<li>{_esc(entry['message'])}</li>" for entry in entries)
            parts.append(f"<p>{title}:</p><ul>{items}</ul>")
    if report.get("classes"):
        classes = report["classes"]
        parts.append(
            f"<p>Classes: {_esc(', '.join(classes['names']))}; protected (judged one-vs-rest): "
            f"{_esc(', '.join(classes['protected']))}.</p>"
        )
    if report["too_small"]:
        items = "".join(f"<li>{_esc(_named(e))}: {_esc(e['reason'])}</li>" for e in report["too_small"])
        parts.append(f"<p>Too small to judge:</p><ul>{items}</ul>")
    return "".join(parts) + "</section>"


def _slice_row(entry: Mapping[str, Any], row: Mapping[str, Any]) -> str:
    """One table row; a multiclass entry has a Class cell after the slice (the text columns stay text)."""
    named = [entry["slice"], entry["class"]] if "class" in entry else [entry["slice"]]
    cells = named + [
        entry["positives"],
        row["metric"],
        _number(row["value"], row["metric"]),
        _interval_cell(row["interval"]),
        _threshold_cell(row),
        _number(row["baseline"], row["metric"]),
        _number(row["change"], row["metric"], signed=True),
        _result_cell(row).replace("**", ""),
    ]
    text_columns = {index + len(named) - 1 for index in (2, 5, 8)} | set(range(len(named)))
    tds = "".join(
        f"<td>{_esc(cell)}</td>" if i in text_columns else f'<td class="n">{_esc(cell)}</td>'
        for i, cell in enumerate(cells)
    )
    return f'<tr class="{_esc(row["status"])}">{tds}</tr>'


def _slices_section(report: Mapping[str, Any]) -> str:
    """The judged rows in view; every metric of every slice (as in gate_report.md) folded below them."""
    level = f"{report['thresholds']['confidence']:.0%}"
    head = ["Slice", "Positives", "Metric", "Value", f"{level} interval", "Threshold", "Baseline", "Change", "Result"]
    if report.get("classes"):
        head.insert(1, "Class")
    heads = "<tr>" + "".join(f"<th>{_esc(cell)}</th>" for cell in head) + "</tr>"
    judged = [_slice_row(e, row) for e in report["slices"] for row in e["metrics"] if row["status"] != REPORTED]
    every = [_slice_row(e, row) for e in report["slices"] for row in e["metrics"]]
    title = (
        "Every protected class and slice the gate judged" if report.get("classes") else "Every slice the gate judged"
    )
    return (
        f'<section id="slice-table"><h2>{title}</h2>'
        f'<table id="slices">{heads}{"".join(judged)}</table>'
        "<details><summary>Every metric of every slice</summary>"
        f'<table id="all-metrics">{heads}{"".join(every)}</table></details></section>'
    )


def _classes_section(report: Mapping[str, Any]) -> str:
    """Multiclass only: macro averages per slice and the served class's confusion matrix per slice."""
    names = report["classes"]["names"]
    parts = ['<section id="classes"><h2>All classes: macro averages and confusion matrices</h2>']
    parts.append(_table(MACRO_HEADER, macro_rows(report)).replace("<table>", '<table id="macro">', 1))
    parts.append(_note("Rows: the actual class; columns: the served class (argmax of the decision scores)."))
    for entry in report["confusion"]:
        rows = [[name] + list(row) for name, row in zip(names, entry["matrix"], strict=True)]
        parts.append(f"<p>Slice {_esc(entry['slice'])}</p>" + _table(["actual / served"] + list(names), rows))
    return "".join(parts) + "</section>"


def _drift_section(class_skew: Optional[Mapping[str, Any]]) -> str:
    parts = ['<section id="drift"><h2>Drift against the previous span</h2>']
    drift = (class_skew or {}).get("drift")
    if not class_skew:
        parts.append(_note("ClassSkew's report was not given to the gate."))
    elif not drift:
        parts.append(_note(f"Span {class_skew.get('span')}: no previous span to compare with, so no drift measured."))
    else:
        parts.append(f"<p>Span {_esc(class_skew.get('span'))} against span {_esc(drift['previous_span'])}.</p>")
        rows = []
        for split, entry in drift["splits"].items():
            now = class_skew["splits"].get(split, {}).get("class_counts", {})
            rows.append(
                [
                    split,
                    ", ".join(f"{k}: {v}" for k, v in sorted(entry["previous_class_counts"].items())),
                    ", ".join(f"{k}: {v}" for k, v in sorted(now.items())),
                    f"{entry['linf']:.4f} (limit {entry['linf_threshold']:.4f})",
                    f"{entry['js']:.2e} (limit {entry['js_threshold']:.2e})",
                    "DRIFT" if entry["over_threshold"] else "within limits",
                ]
            )
        parts.append(_table(["Split", "Previous counts", "Counts", "L-inf", "JS (bits)", "Result"], rows, 3))
        for split, reason in drift["skipped_splits"].items():
            parts.append(_note(f"{split} not compared: {reason}"))
    return "".join(parts) + "</section>"


def _training_section(training: Optional[Mapping[str, Any]]) -> str:
    parts = ['<section id="training"><h2>Training</h2>']
    if not training:
        parts.append(_note("The model holds no training report."))
        return "".join(parts) + "</section>"
    threshold = training.get("decision_threshold")
    rule = training.get("decision_rule")
    if isinstance(rule, Mapping):
        parts.append(
            f"<p>Served class: {_esc(rule.get('served_class', '-'))}, per-class weights "
            f"{_esc(rule.get('class_weights', '-'))} ({_esc(rule.get('rule_applied', '-'))}: "
            f"{_esc(rule.get('message', ''))}).</p>"
        )
    parts.append(
        f"<p>Served decision threshold {_esc(f'{threshold:.4f}' if threshold is not None else '-')} "
        f"({_esc(training.get('threshold_rule', '-'))}: {_esc(training.get('threshold_message', ''))}); "
        f"on valid: precision {_esc(_fmt(training.get('valid_precision')))}, recall "
        f"{_esc(_fmt(training.get('valid_recall')))}; trained on {_esc(training.get('train_rows', '-'))} rows "
        f"({_esc(training.get('train_positives', '-'))} positive).</p>"
    )
    epochs, best = training.get("epochs_run"), training.get("best_val_pr_auc")
    if isinstance(epochs, list) and isinstance(best, list):
        members = {f"m{index + 1}": (e, b) for index, (e, b) in enumerate(zip(epochs, best, strict=False))}
        parts.append('<div class="charts">')
        parts.append(svg.bar_chart("Epochs run per ensemble member", {k: {"epochs": v[0]} for k, v in members.items()}))
        parts.append(
            svg.bar_chart(
                "Best validation PR-AUC per member", {k: {"pr_auc": round(v[1], 3)} for k, v in members.items()}
            )
        )
        parts.append("</div>")
    elif epochs is not None:
        parts.append(f"<p>Epochs run {_esc(epochs)}; best validation PR-AUC {_esc(_fmt(best))}.</p>")
    curves = training.get("val_pr_auc_history")
    if isinstance(curves, list) and curves and all(isinstance(curve, list) for curve in curves):
        lines = {
            f"m{index + 1}": [(float(epoch + 1), float(value)) for epoch, value in enumerate(curve)]
            for index, curve in enumerate(curves)
        }
        parts.append(svg.line_chart("Learning curves: validation PR-AUC per epoch", "epoch", "PR-AUC", lines))
    else:
        parts.append(_note("Learning curves: the training report records no per-epoch history, so none is drawn."))
    return "".join(parts) + "</section>"


def _fmt(value: Any) -> str:
    return f"{value:.3f}" if isinstance(value, (int, float)) else "-"


def _curves_section(curve_data: Optional[Mapping[str, Any]]) -> str:
    parts = ['<section id="curves"><h2>ROC and PR curves on the eval split</h2>']
    if not curve_data:
        parts.append(_note("No curves were given."))
        return "".join(parts) + "</section>"
    roc = {name: [tuple(p) for p in entry["roc"]] for name, entry in curve_data.items()}
    pr = {name: [tuple(p) for p in entry["pr"]] for name, entry in curve_data.items()}
    roc_marks = {name: tuple(entry["served"]["roc"]) for name, entry in curve_data.items()}
    pr_marks = {name: tuple(entry["served"]["pr"]) for name, entry in curve_data.items()}
    parts.append(_note("Dots: each model's served decision threshold."))
    parts.append('<div class="charts">')
    parts.append(svg.line_chart("ROC", "false positive rate", "recall", roc, roc_marks, unit_square=True))
    parts.append(svg.line_chart("Precision-recall", "recall", "precision", pr, pr_marks, unit_square=True))
    parts.append("</div>")
    rows = [
        [name, f"{e['served']['pr'][0]:.4f}", f"{e['served']['pr'][1]:.4f}", f"{e['served']['roc'][0]:.5f}"]
        for name, e in curve_data.items()
    ]
    parts.append(_table(["Model", "Recall at served threshold", "Precision", "False positive rate"], rows))
    return "".join(parts) + "</section>"


def render(
    gate_report: Mapping[str, Any],
    *,
    rebalance: Optional[Mapping[str, Any]] = None,
    class_skew: Optional[Mapping[str, Any]] = None,
    training: Optional[Mapping[str, Any]] = None,
    curve_data: Optional[Mapping[str, Any]] = None,
) -> str:
    """The whole page; `class_skew` is `LabelDistributionReport.to_json_dict()`, the others the files' JSON."""
    title = f"Run report: {'BLESSED' if gate_report['blessed'] else 'NOT BLESSED'}"
    return "\n".join(
        [
            "<!DOCTYPE html>",
            f'<html lang="en"><head><meta charset="utf-8"><title>{_esc(title)}</title>',
            f"<style>{_CSS}</style></head><body>",
            f"<h1>{_esc(title)}</h1>",
            _gate_section(gate_report),
            _counts_section(rebalance, class_skew, (gate_report.get("classes") or {}).get("names", ())),
            _curves_section(curve_data),
            _slices_section(gate_report) + (_classes_section(gate_report) if gate_report.get("classes") else ""),
            _training_section(training),
            _drift_section(class_skew),
            "</body></html>",
            "",
        ]
    )
