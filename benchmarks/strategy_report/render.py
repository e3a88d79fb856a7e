"""The report as a self-contained HTML page (plots inline as PNG data URIs) and a Markdown table."""

from __future__ import annotations

import base64
import html
import io
from typing import Any, Dict, List, Mapping, Sequence

import numpy as np

from benchmarks.strategy_report.metrics import TARGET_PR_AUC, TARGET_PRECISION, TARGET_RECALL, TARGET_ROC_AUC


def _png(figure) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight", metadata={"Software": None})
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


# Per curve kind: the keys of its x and y values in a saved curve, and the labels of its axes.
CURVE_AXES = {
    "pr": ("recall", "precision", "recall", "precision"),
    "roc": ("fpr", "tpr", "false positive rate (log scale)", "true positive rate"),
}


def pyplot():
    """matplotlib's pyplot drawing off screen (Agg); imported when a report draws, not when it is imported."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    return plt


def draw_curve(axes, curve: Mapping[str, Sequence[float]], kind: str, min_fpr: float, **line: Any) -> None:
    """One saved curve on `axes`: PR as steps, ROC with its false positive rates floored at `min_fpr` (log axis)."""
    x_key, y_key = CURVE_AXES[kind][:2]
    xs, ys = np.asarray(curve[x_key]), np.asarray(curve[y_key])
    if kind == "roc":
        xs = np.maximum(xs, min_fpr)
    axes.plot(xs, ys, drawstyle="steps-pre" if kind == "pr" else "default", **line)


def frame_axes(axes, kind: str, x_min: float, legend_size: int, **label_style: Any) -> None:
    """A PR or ROC panel's limits (ROC: log x from `x_min`), axis labels, grid and legend."""
    if kind == "roc":
        axes.set_xscale("log")
        axes.set_xlim(x_min, 1.0)
    else:
        axes.set_xlim(0, 1.0)
    axes.set_ylim(0, 1.02)
    x_label, y_label = CURVE_AXES[kind][2:]
    axes.set_xlabel(x_label, **label_style)
    axes.set_ylabel(y_label, **label_style)
    axes.grid(alpha=0.3)
    axes.legend(fontsize=legend_size, loc="lower left" if kind == "pr" else "lower right")


def plot_curves(results: Mapping[str, Mapping[str, Any]]) -> Dict[str, str]:
    """PR curves of all strategies on one plot, ROC curves on another, as inline PNG data URIs."""
    plt = pyplot()
    images = {}
    cmap = plt.get_cmap("tab10")
    for kind in CURVE_AXES:
        figure, axes = plt.subplots(figsize=(7.5, 5.5))
        for index, (name, result) in enumerate(results.items()):
            curve = result["curves"].get(kind)
            if not curve:
                continue
            metric = result["overall"]["pr_auc" if kind == "pr" else "roc_auc"]
            label = f"{name} ({'AP' if kind == 'pr' else 'AUC'} {metric:.3f})"
            draw_curve(axes, curve, kind, 1e-6, label=label, color=cmap(index % 10), linewidth=1.4)
        frame_axes(axes, kind, 1e-5, legend_size=8)
        axes.set_title(("Precision-recall" if kind == "pr" else "ROC") + " curves on the eval split")
        images[kind] = _png(figure)
        plt.close(figure)
    return images


def _text(value: Any, digits: int = 4) -> str:
    """A cell as plain text: "n/a" for None, ratios with `digits` decimals, seconds (large figures) with one."""
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.1f}" if abs(value) >= 10 else f"{value:.{digits}f}"
    return str(value)


def _fmt(value: Any, digits: int = 4) -> str:
    """A cell for HTML: `_text`, escaped."""
    return html.escape(_text(value, digits))


def _table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{_fmt(cell)}</td>" for cell in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def overall_rows(results: Mapping[str, Mapping[str, Any]]) -> List[List[Any]]:
    """One row per strategy under OVERALL_HEADERS."""
    rows = []
    for name, result in results.items():
        overall = result["overall"]
        rows.append(
            [
                name,
                result.get("model", "mlp"),
                result["loss"],
                overall["pr_auc"],
                overall["roc_auc"],
                result["valid"]["pr_auc"],
                result["threshold"],
                overall["precision"],
                overall["recall"],
                overall["f1"],
                overall["max_recall_at_precision_0.5"],
                result["seconds"]["training"],
                result["seconds"]["rebalance"],
                result["seconds"].get("cpu"),
                "yes" if result["quality_target"]["met"] else "no",
            ]
        )
    return rows


OVERALL_HEADERS = (
    "strategy",
    "model",
    "loss",
    "PR-AUC",
    "ROC-AUC",
    "valid PR-AUC",
    "threshold",
    "precision",
    "recall",
    "F1",
    "best recall @ precision>=0.5 (oracle)",
    "training s",
    "rebalance s",
    "CPU s (all steps)",
    "meets target",
)


def render_html(report: Mapping[str, Any], images: Mapping[str, str]) -> str:
    """The whole report as one self-contained HTML page: no scripts, no links, images inline."""
    results = report["strategies"]
    sections = [
        "<h1>Imbalance strategies side by side</h1>",
        f"<p>Data: <code>{html.escape(report['data']['csv'])}</code>, {report['data']['rows']} rows. "
        f"Eval split: {report['eval_split']['rows']} rows, {report['eval_split']['positives']} positives. "
        f"Every strategy trained on the same train split (valid for early stopping and the threshold), scored on "
        f"eval through its SavedModel's serving signature. Wall time {report['wall_seconds']:.0f} s, CPU time "
        f"{report['cpu_seconds']:.0f} s on {report['cpu_count']} cores (1-minute load average at the end: "
        f"{report['load_average_1m_at_end']}).</p>",
        f"<p>Best on eval PR-AUC: <b>{html.escape(str(report['best_by_pr_auc']))}</b>; best on valid PR-AUC, the "
        f"choice to make without looking at eval: <b>{html.escape(str(report['best_on_valid']))}</b>. "
        f"Quality target (PR-AUC &ge; {TARGET_PR_AUC}, ROC-AUC &ge; {TARGET_ROC_AUC}, recall &ge; {TARGET_RECALL} "
        f"at precision &ge; {TARGET_PRECISION} at the tuned threshold): "
        f"{'met' if report['quality_target_met_by'] else 'not met'}"
        f"{' by ' + ', '.join(report['quality_target_met_by']) if report['quality_target_met_by'] else ''}.</p>",
        f"<p>Model to train: {html.escape(report['choice']['message'])}.</p>",
        "<h2>Overall metrics (eval split)</h2>",
        _table(OVERALL_HEADERS, overall_rows(results)),
        "<h2>Curves</h2>",
        f'<img alt="precision-recall curves" src="{images["pr"]}">' if "pr" in images else "",
        f'<img alt="ROC curves" src="{images["roc"]}">' if "roc" in images else "",
        "<h2>Training-split class counts before and after resampling</h2>",
        _table(
            ("strategy", "negatives before", "positives before", "negatives after", "positives after", "note"),
            [
                [
                    name,
                    r["class_counts"]["before"].get("0"),
                    r["class_counts"]["before"].get("1"),
                    r["class_counts"]["after"].get("0"),
                    r["class_counts"]["after"].get("1"),
                    r["class_counts"]["note"],
                ]
                for name, r in results.items()
            ],
        ),
        "<h2>Metrics per slice (eval split, tuned threshold)</h2>",
    ]
    for key in report["slice_keys"]:
        rows = []
        for name, result in results.items():
            for value, figures in result["slices"].get(key, {}).items():
                rows.append(
                    [
                        name,
                        value,
                        figures["rows"],
                        figures["positives"],
                        figures["pr_auc"],
                        figures["roc_auc"],
                        figures["precision"],
                        figures["recall"],
                        figures["f1"],
                    ]
                )
        sections.append(f"<h3>{html.escape(key)}</h3>")
        sections.append(
            _table(("strategy", key, "rows", "positives", "PR-AUC", "ROC-AUC", "precision", "recall", "F1"), rows)
        )
    sections.append("<h2>Command</h2>")
    sections.append(f"<pre>{html.escape(report['command'])}</pre>")
    return html_page("Imbalance strategy report", sections, max_width_px=1200)


def html_page(title: str, sections: Sequence[str], max_width_px: int) -> str:
    """`sections` as one self-contained HTML page: the reports' one stylesheet inline, no scripts, no links."""
    style = (
        f"body{{font-family:sans-serif;margin:2em;max-width:{max_width_px}px}}table{{border-collapse:collapse;"
        "margin:1em 0}td,th{border:1px solid #bbb;padding:3px 8px;font-size:13px;text-align:right}"
        "td:first-child,th:first-child{text-align:left}img{max-width:100%;display:block;margin:1em 0}"
    )
    return (
        f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        f"<style>{style}</style></head><body>{''.join(sections)}</body></html>\n"
    )


def markdown_lines(headers: Sequence[str], rows: Sequence[Sequence[Any]], digits: int = 4) -> List[str]:
    """A Markdown table as lines: the headers, the rule, one line per row (figures with `digits` decimals)."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    # Markdown shows text as it is: an apostrophe stays one, not an HTML entity.
    return lines + ["| " + " | ".join(_text(cell, digits) for cell in row) + " |" for row in rows]


def markdown_table(report: Mapping[str, Any]) -> str:
    """The overall table as Markdown, for benchmarks/RESULTS.md."""
    return "\n".join(markdown_lines(OVERALL_HEADERS, overall_rows(report["strategies"]))) + "\n"
