"""The report of a multiclass label: per-class tables and curves in one self-contained HTML page, and Markdown.

The binary page (`render.py`) has one PR and one ROC plot; here each plot has one panel per
class, every strategy's curve of that class on it, so a rare class's curves are not hidden
behind the common ones'. Tables: the overall and protected figures per strategy, then recall,
precision, PR-AUC and ROC-AUC per class, the confusion matrices, the training-split class counts
and the figures per class on every slice.
"""

from __future__ import annotations

import html
import math
from typing import Any, Dict, List, Mapping, Sequence

from benchmarks.strategy_report.render import (
    _png,
    _table,
    _text,
    draw_curve,
    frame_axes,
    html_page,
    markdown_lines,
    pyplot,
)

OVERALL_HEADERS = (
    "strategy",
    "loss",
    "protected mean PR-AUC",
    "protected min PR-AUC",
    "protected min recall",
    "macro PR-AUC",
    "macro ROC-AUC",
    "valid protected mean PR-AUC",
    "macro recall",
    "macro precision",
    "macro F1",
    "accuracy",
    "training s",
    "rebalance s",
    "CPU s (all steps)",
)
CLASS_HEADERS = ("strategy", "class", "protected", "rows", "served", "recall", "precision", "F1", "PR-AUC", "ROC-AUC")
SLICE_HEADERS = ("strategy", "slice value", "class", "rows", "served", "recall", "precision", "PR-AUC", "ROC-AUC")


def plot_class_curves(results: Mapping[str, Mapping[str, Any]], class_names: Sequence[str]) -> Dict[str, str]:
    """One PR image and one ROC image, each a grid of one panel per class with every strategy's curve."""
    plt = pyplot()
    images = {}
    cmap = plt.get_cmap("tab10")
    columns = min(3, len(class_names))
    rows = math.ceil(len(class_names) / columns)
    for kind, metric in (("pr", "pr_auc"), ("roc", "roc_auc")):
        figure, grid = plt.subplots(rows, columns, figsize=(4.6 * columns, 3.8 * rows), squeeze=False)
        for panel, name in zip(grid.flat, class_names, strict=False):  # the grid may have spare panels
            for index, (strategy, result) in enumerate(results.items()):
                curve = result["curves"].get(name, {}).get(kind)
                if not curve:
                    continue
                value = result["overall"]["classes"][name][metric]
                label = f"{strategy} ({_text(value, 3)})"
                draw_curve(panel, curve, kind, 1e-4, label=label, color=cmap(index % 10), linewidth=1.2)
            frame_axes(panel, kind, 1e-4, legend_size=6, fontsize=8)
            rows_of_class = next(iter(results.values()))["overall"]["classes"][name]["rows"]
            panel.set_title(f"class {name} ({rows_of_class} eval rows)", fontsize=10)
        for panel in list(grid.flat)[len(class_names) :]:
            panel.set_visible(False)
        title = "Precision-recall" if kind == "pr" else "ROC"
        figure.suptitle(f"{title} curves per class (one-vs-rest) on the eval split")
        figure.tight_layout()
        images[kind] = _png(figure)
        plt.close(figure)
    return images


def overall_rows(results: Mapping[str, Mapping[str, Any]]) -> List[List[Any]]:
    """One row per strategy under OVERALL_HEADERS."""
    rows = []
    for name, result in results.items():
        overall = result["overall"]
        guarded, macro = overall["protected"], overall["macro"]
        rows.append(
            [
                name,
                result["loss"],
                guarded["mean_pr_auc"],
                guarded["min_pr_auc"],
                guarded["min_recall"],
                macro["pr_auc"],
                macro["roc_auc"],
                result["valid"]["protected_mean_pr_auc"],
                macro["recall"],
                macro["precision"],
                macro["f1"],
                overall["accuracy"],
                result["seconds"]["training"],
                result["seconds"]["rebalance"],
                result["seconds"].get("cpu"),
            ]
        )
    return rows


def _class_row(strategy: str, name: str, figures: Mapping[str, Any]) -> List[Any]:
    return [
        strategy,
        name,
        "yes" if figures["protected"] else "",
        figures["rows"],
        figures["served"],
        figures["recall"],
        figures["precision"],
        figures["f1"],
        figures["pr_auc"],
        figures["roc_auc"],
    ]


def class_rows(results: Mapping[str, Mapping[str, Any]]) -> List[List[Any]]:
    """One row per strategy and class under CLASS_HEADERS."""
    return [
        _class_row(strategy, name, figures)
        for strategy, result in results.items()
        for name, figures in result["overall"]["classes"].items()
    ]


def _confusion_tables(results: Mapping[str, Mapping[str, Any]], class_names: Sequence[str]) -> List[str]:
    sections = []
    for strategy, result in results.items():
        matrix = result["overall"]["confusion_matrix"]
        rows = [[f"actual {name}", *counts] for name, counts in zip(class_names, matrix, strict=True)]
        sections.append(f"<h3>{html.escape(strategy)}</h3>")
        sections.append(_table(("", *(f"served {name}" for name in class_names)), rows))
    return sections


def _slice_tables(report: Mapping[str, Any]) -> List[str]:
    sections = []
    for key in report["slice_keys"]:
        rows = []
        for strategy, result in report["strategies"].items():
            for value, slice_figures in result["slices"].get(key, {}).items():
                for name, figures in slice_figures["classes"].items():
                    rows.append(
                        [
                            strategy,
                            value,
                            name + (" (protected)" if figures["protected"] else ""),
                            figures["rows"],
                            figures["served"],
                            figures["recall"],
                            figures["precision"],
                            figures["pr_auc"],
                            figures["roc_auc"],
                        ]
                    )
        sections.append(f"<h3>{html.escape(key)}</h3>")
        sections.append(_table(SLICE_HEADERS, rows))
    return sections


def render_html(report: Mapping[str, Any], images: Mapping[str, str]) -> str:
    """The whole multiclass report as one self-contained HTML page: no scripts, no links, images inline."""
    results, names = report["strategies"], report["class_names"]
    class_rows_text = ", ".join(f"{name}: {rows}" for name, rows in report["eval_split"]["class_rows"].items())
    skipped = "".join(f"<li>{html.escape(line)}</li>" for line in report["skipped_strategies"])
    sections = [
        "<h1>Imbalance strategies side by side (multiclass label)</h1>",
        f"<p>Data: <code>{html.escape(report['data']['csv'])}</code>, {report['data']['rows']} rows, classes "
        f"{html.escape(', '.join(names))}; protected: {html.escape(', '.join(report['protected_classes']))}. "
        f"Eval split: {report['eval_split']['rows']} rows ({html.escape(class_rows_text)}). Every strategy trained "
        "on the same train split (valid for early stopping and the per-class decision weights), scored on eval "
        "through its SavedModel's serving signature: recall and precision of the served class, one-vs-rest PR-AUC "
        f"and ROC-AUC of the class's probability. Wall time {report['wall_seconds']:.0f} s, CPU time "
        f"{report['cpu_seconds']:.0f} s on {report['cpu_count']} cores.</p>",
        f"<p>Best by {html.escape(report['ranking_metric'])}: <b>{html.escape(report['best'])}</b>; best by the same "
        f"on valid, the choice to make without looking at eval: <b>{html.escape(report['best_on_valid'])}</b>.</p>",
        f"<p>Model to train: {html.escape(report['choice']['message'])}.</p>",
        f"<p>Skipped (binary only):</p><ul>{skipped}</ul>" if skipped else "",
        "<h2>Overall metrics (eval split)</h2>",
        _table(OVERALL_HEADERS, overall_rows(results)),
        "<h2>Per class (eval split, served class)</h2>",
        _table(CLASS_HEADERS, class_rows(results)),
        "<h2>Curves per class</h2>",
        f'<img alt="precision-recall curves per class" src="{images["pr"]}">' if "pr" in images else "",
        f'<img alt="ROC curves per class" src="{images["roc"]}">' if "roc" in images else "",
        "<h2>Decision weights (tuned on valid) and training-split class counts</h2>",
        _table(
            ("strategy", *(f"weight {n}" for n in names), *(f"{n} before" for n in names))
            + (*(f"{n} after" for n in names), "note"),
            [
                [
                    strategy,
                    *(r["class_weights"][n] for n in names),
                    *(r["class_counts"]["before"].get(str(i)) for i in range(len(names))),
                    *(r["class_counts"]["after"].get(str(i)) for i in range(len(names))),
                    r["class_counts"]["note"],
                ]
                for strategy, r in results.items()
            ],
        ),
        "<h2>Confusion matrices (eval split)</h2>",
        *_confusion_tables(results, names),
        "<h2>Per class on each slice (eval split)</h2>",
        *_slice_tables(report),
        "<h2>Command</h2>",
        f"<pre>{html.escape(report['command'])}</pre>",
    ]
    return html_page("Imbalance strategy report (multiclass)", sections, max_width_px=1400)


def markdown_tables(report: Mapping[str, Any]) -> str:
    """The overall table, then recall / PR-AUC of every class per strategy, as Markdown for benchmarks/RESULTS.md."""
    names, protected = report["class_names"], set(report["protected_classes"])
    labels = [name + ("*" if name in protected else "") for name in names]
    headers = ["strategy", *(f"{label} recall" for label in labels), *(f"{label} PR-AUC" for label in labels)]
    rows = []
    for strategy, result in report["strategies"].items():
        figures = result["overall"]["classes"]
        rows.append([strategy, *(figures[n]["recall"] for n in names), *(figures[n]["pr_auc"] for n in names)])
    overall = markdown_lines(OVERALL_HEADERS, overall_rows(report["strategies"]))
    lines = [*overall, "", *markdown_lines(headers, rows, 3)]
    lines.append(f"\n(* protected; eval rows per class: {report['eval_split']['class_rows']})")
    return "\n".join(lines) + "\n"
