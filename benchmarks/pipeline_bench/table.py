"""The benchmark's tables, their ratios to the last pipeline_bench tables of benchmarks/RESULTS.md, the targets.

Two markdown tables, each named by its first header cell so that the next run finds them wherever RESULTS.md
puts them: `pipeline_bench run` (one row per run) and `pipeline_bench component` (one row per component, one
column per run). A figure's ratio is to the same row and column of the last such table in RESULTS.md (the first
number in that cell), `(x-)` when that table or cell is absent. The targets are issue 18's.
"""

from __future__ import annotations

import re
from typing import Any, Dict, List, Optional, Sequence, Tuple

from benchmarks.pipeline_bench.runs import RunResult

RUN_TABLE = "pipeline_bench run"
COMPONENT_TABLE = "pipeline_bench component"
PREP_ROW = "data prep (start-up included)"
OTHER_ROW = "other (imports, TFX, summary)"
TOTAL_ROW = "total wall"
# Issue 18: wall seconds per run, and the quality of today's defaults (eval split, served threshold).
TIME_TARGETS = {"fresh": 300.0, "rerun": 30.0, "span 2": 300.0}
TARGET_ROC_AUC, TARGET_PR_AUC, TARGET_RECALL, TARGET_PRECISION = 0.98, 0.84, 0.85, 0.5
# run-table column -> (metric name in the run summary, or a RunResult attribute)
METRIC_COLUMNS = {"ROC-AUC": "auc", "PR-AUC": "pr_auc", "recall": "recall", "precision": "precision"}
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")

Tables = Dict[str, Dict[str, Dict[str, float]]]


def parse_tables(text: str) -> Tables:
    """{table name: {row: {column: first number of the cell}}} of the last table of each name in `text`."""
    found: Tables = {}
    lines = text.splitlines()
    for index, line in enumerate(lines):
        header = _cells(line)
        if not header or header[0] not in (RUN_TABLE, COMPONENT_TABLE):
            continue
        rows: Dict[str, Dict[str, float]] = {}
        for row_line in lines[index + 2 :]:
            cells = _cells(row_line)
            if not cells:
                break
            numbers = {column: _first_number(cell) for column, cell in zip(header[1:], cells[1:], strict=False)}
            rows[cells[0]] = {column: value for column, value in numbers.items() if value is not None}
        found[header[0]] = rows
    return found


def _cells(line: str) -> List[str]:
    line = line.strip()
    if not line.startswith("|"):
        return []
    return [cell.strip() for cell in line.strip("|").split("|")]


def _first_number(cell: str) -> Optional[float]:
    match = _NUMBER.search(cell)
    return float(match.group()) if match else None


def _with_ratio(value: Optional[float], previous: Optional[float], digits: int, suffix: str = "") -> Tuple[str, Any]:
    """The cell text `12.3 (x0.95)` and the ratio (None when there is nothing to compare with)."""
    if value is None:
        return "-", None
    ratio = round(value / previous, 2) if previous else None
    shown = f"x{ratio:.2f}" if ratio is not None else "x-"
    return f"{value:.{digits}f}{suffix} ({shown})", ratio


def run_rows(runs: Sequence[RunResult], previous: Tables) -> Tuple[List[List[str]], Dict[str, Dict[str, Any]]]:
    """The run table's rows and {run: {column: ratio}}."""
    rows: List[List[str]] = []
    ratios: Dict[str, Dict[str, Any]] = {}
    for run in runs:
        before = previous.get(RUN_TABLE, {}).get(run.name, {})
        figures: Dict[str, Tuple[Optional[float], int]] = {
            "wall s": (run.wall_s, 1),
            "peak RSS MiB": (run.peak_rss_mib, 0),
            **{column: (run.metrics.get(name), 4) for column, name in METRIC_COLUMNS.items()},
            "threshold": (run.threshold, 4),
        }
        cells, ratios[run.name] = {}, {}
        for column, (value, digits) in figures.items():
            cells[column], ratios[run.name][column] = _with_ratio(value, before.get(column), digits)
        limit = TIME_TARGETS.get(run.name)
        target = "-" if limit is None else f"<= {limit:.0f} s: {'met' if run.wall_s <= limit else 'unmet'}"
        counts = ", ".join(f"{count} {state}" for state, count in sorted(run.counts.items())) or "none recorded"
        failed = f" (exit {run.returncode})" if run.returncode else ""
        blessed = {True: "yes", False: "no", None: "-"}[run.blessed]
        span = str(run.examples_span or "-")
        rows.append(
            [f"{run.name}{failed}", cells["wall s"], target, cells["peak RSS MiB"], counts, span]
            + [cells[column] for column in METRIC_COLUMNS]
            + [cells["threshold"], blessed, f"{run.load_start:.1f} -> {run.load_end:.1f}"]
        )
    return rows, ratios


RUN_HEADER = [RUN_TABLE, "wall s", "target", "peak RSS MiB", "components", "span", *METRIC_COLUMNS]
RUN_HEADER += ["threshold", "blessed", "load 1-min"]


def component_rows(runs: Sequence[RunResult], previous: Tables) -> Tuple[List[List[str]], Dict[str, Dict[str, Any]]]:
    """The component table's rows (data prep, each execution in order, the rest, the total) and their ratios."""
    names: List[str] = []
    for run in runs:
        names += [node["node"] for node in run.components if node["node"] not in names]
    before = previous.get(COMPONENT_TABLE, {})
    rows: List[List[str]] = []
    ratios: Dict[str, Dict[str, Any]] = {}
    for name in [PREP_ROW, *names, OTHER_ROW, TOTAL_ROW]:
        row, ratios[name] = [name], {}
        for run in runs:
            column = f"{run.name} s"
            value, state = _component_value(run, name)
            cell, ratios[name][column] = _with_ratio(value, before.get(name, {}).get(column), 1, state)
            row.append(cell)
        rows.append(row)
    return rows, ratios


def _component_value(run: RunResult, name: str) -> Tuple[Optional[float], str]:
    if name == PREP_ROW:
        return run.prep_s, ""
    if name == OTHER_ROW:
        return round(run.other_s, 1), ""
    if name == TOTAL_ROW:
        return run.wall_s, ""
    for node in run.components:
        if node["node"] == name:
            return node["seconds"], " cached" if node["state"] == "cached" else ""
    return None, ""


def markdown(header: Sequence[str], rows: Sequence[Sequence[str]]) -> List[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(row) + " |" for row in rows]


def targets(runs: Sequence[RunResult], previous: Tables) -> List[Dict[str, Any]]:
    """Each target of issue 18 with the measured value and met (True/False; None: nothing to judge it by)."""
    found: List[Dict[str, Any]] = []
    for run in runs:
        if run.name in TIME_TARGETS:
            limit = TIME_TARGETS[run.name]
            found.append(_target(f"{run.name}: wall s <= {limit:.0f}", run.wall_s, run.wall_s <= limit))
        if run.name == "rerun":
            nodes, cached = len(run.nodes), run.counts.get("cached", 0)
            found.append(_target("rerun: every component from the cache", f"{cached} of {nodes}", cached == nodes > 0))
        if run.name != "rerun" and run.metrics:
            found += _quality(run)
    peak = max((run.peak_rss_mib for run in runs), default=None)
    before = [row.get("peak RSS MiB") for row in previous.get(RUN_TABLE, {}).values()]
    before_peak = max((value for value in before if value is not None), default=None)
    met = None if before_peak is None or peak is None else peak <= before_peak
    found.append(_target(f"peak RSS MiB no higher than the previous table's ({before_peak or '-'})", peak, met))
    return found


def _quality(run: RunResult) -> List[Dict[str, Any]]:
    figures = run.metrics
    auc, pr_auc = figures.get("auc"), figures.get("pr_auc")
    recall, precision = figures.get("recall"), figures.get("precision")
    at_precision = None
    if recall is not None and precision is not None:
        at_precision = recall >= TARGET_RECALL and precision >= TARGET_PRECISION
    return [
        _target(f"{run.name}: eval ROC-AUC >= {TARGET_ROC_AUC}", auc, _at_least(auc, TARGET_ROC_AUC)),
        _target(f"{run.name}: eval PR-AUC >= {TARGET_PR_AUC}", pr_auc, _at_least(pr_auc, TARGET_PR_AUC)),
        _target(
            f"{run.name}: eval recall >= {TARGET_RECALL} at precision >= {TARGET_PRECISION} (served threshold)",
            f"recall {recall}, precision {precision}",
            at_precision,
        ),
    ]


def _at_least(value: Optional[float], target: float) -> Optional[bool]:
    return None if value is None else value >= target


def _target(what: str, value: Any, met: Optional[bool]) -> Dict[str, Any]:
    return {"target": what, "value": value, "met": met}


def render(runs: Sequence[RunResult], previous: Tables, heading: str, notes: Sequence[str]) -> Tuple[str, Dict]:
    """The printed (and saved) markdown, and the ratios and targets for the JSON."""
    run_table, run_ratios = run_rows(runs, previous)
    component_table, component_ratios = component_rows(runs, previous)
    judged = targets(runs, previous)
    lines = [heading, ""]
    lines += markdown(RUN_HEADER, run_table) + [""]
    lines += markdown([COMPONENT_TABLE, *(f"{run.name} s" for run in runs)], component_table) + [""]
    lines.append("Targets (issue 18):")
    for entry in judged:
        verdict = {True: "met", False: "unmet", None: "-"}[entry["met"]]
        lines.append(f"- {entry['target']}: {entry['value']} -> {verdict}")
    lines += ["", *(f"- {note}" for note in notes)]
    ratios = {"runs": run_ratios, "components": component_ratios}
    return "\n".join(lines) + "\n", {"ratios": ratios, "targets": judged}
