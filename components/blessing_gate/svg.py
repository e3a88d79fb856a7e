"""Inline SVG charts for `report.html`: grouped bars and line plots, as plain strings.

The run report must open from a file, offline, years later: so no JavaScript and no chart
library, only SVG elements computed here. Every chart is a pure function of its numbers, so
the same run gives the same bytes.
"""

from __future__ import annotations

import html
import math
from typing import List, Mapping, Optional, Sequence, Tuple

# One colour per series, in order (colour-blind safe, Okabe-Ito).
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")

_WIDTH, _HEIGHT = 520, 260
_LEFT, _RIGHT, _TOP, _BOTTOM = 64, 16, 24, 44

Point = Tuple[float, float]


def _text(x: float, y: float, text: str, anchor: str = "middle", size: int = 11, extra: str = "") -> str:
    return f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}"{extra}>{html.escape(text)}</text>'


def _tick(value: float) -> str:
    if value >= 10000:
        return f"{value / 1000:.0f}k"
    if float(value).is_integer():
        return f"{value:.0f}"
    return f"{value:.2f}"


def _nice_max(value: float) -> float:
    """A round upper bound for an axis: 1, 2 or 5 times a power of ten, at least `value`."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        if step * power >= value:
            return float(step * power)
    return float(10 * power)


def _legend(names: Sequence[str], top: float) -> List[str]:
    parts = []
    x = _LEFT
    for index, name in enumerate(names):
        colour = PALETTE[index % len(PALETTE)]
        parts.append(f'<rect x="{x}" y="{top - 9}" width="10" height="10" fill="{colour}"/>')
        parts.append(_text(x + 14, top, name, anchor="start"))
        x += 24 + 7 * len(name)
    return parts


def bar_chart(title: str, groups: Mapping[str, Mapping[str, float]], log_scale: bool = False) -> str:
    """Grouped bars: one group per key of `groups`, one bar per series inside it (same series in every group).

    `log_scale` draws log10(1 + value): a 580:1 class ratio would otherwise leave the minority bar invisible.
    """
    series = sorted({name for bars in groups.values() for name in bars})
    peak = max([value for bars in groups.values() for value in bars.values()] or [0.0])
    scale_max = math.log10(1 + peak) if log_scale else _nice_max(peak)
    scale_max = scale_max or 1.0
    plot_w, plot_h = _WIDTH - _LEFT - _RIGHT, _HEIGHT - _TOP - _BOTTOM
    parts = [_svg_open(title), _text(_WIDTH / 2, 14, title, size=12, extra=' font-weight="bold"')]
    parts.append(_axes(plot_w, plot_h))
    for fraction in (0.0, 0.5, 1.0):
        y = _TOP + plot_h * (1 - fraction)
        label = 10 ** (fraction * scale_max) - 1 if log_scale else fraction * scale_max
        parts.append(_text(_LEFT - 6, y + 4, _tick(round(label)) if log_scale else _tick(label), anchor="end"))
    group_w = plot_w / max(len(groups), 1)
    bar_w = group_w * 0.8 / max(len(series), 1)
    for g_index, (group, bars) in enumerate(groups.items()):
        x0 = _LEFT + g_index * group_w + group_w * 0.1
        for s_index, name in enumerate(series):
            value = float(bars.get(name, 0.0))
            scaled = math.log10(1 + value) if log_scale else value
            height = plot_h * scaled / scale_max
            x = x0 + s_index * bar_w
            colour = PALETTE[s_index % len(PALETTE)]
            parts.append(
                f'<rect x="{x:.1f}" y="{_TOP + plot_h - height:.1f}" width="{bar_w - 2:.1f}" height="{height:.1f}" '
                f'fill="{colour}"><title>{html.escape(f"{group} {name}: {value:g}")}</title></rect>'
            )
            parts.append(_text(x + (bar_w - 2) / 2, _TOP + plot_h - height - 3, f"{value:g}", size=9))
        parts.append(_text(x0 + group_w * 0.4, _TOP + plot_h + 14, group))
    parts += _legend(series, _HEIGHT - 8)
    parts.append("</svg>")
    return "\n".join(parts)


def line_chart(
    title: str,
    x_label: str,
    y_label: str,
    lines: Mapping[str, Sequence[Point]],
    markers: Optional[Mapping[str, Point]] = None,
    unit_square: bool = False,
) -> str:
    """Polylines, one per series; `markers` puts a labelled dot on a series (e.g. the served threshold).

    `unit_square` fixes both axes to [0, 1] (ROC and PR curves); otherwise they span the data.
    """
    points = [point for line in lines.values() for point in line]
    if unit_square or not points:
        x_min, x_max, y_min, y_max = 0.0, 1.0, 0.0, 1.0
    else:
        x_min, x_max = min(p[0] for p in points), max(p[0] for p in points)
        y_min, y_max = min(p[1] for p in points), max(p[1] for p in points)
        x_max = x_max if x_max > x_min else x_min + 1
        y_max = y_max if y_max > y_min else y_min + 1
    plot_w, plot_h = _WIDTH - _LEFT - _RIGHT, _HEIGHT - _TOP - _BOTTOM

    def place(point: Point) -> Point:
        return (
            _LEFT + plot_w * (point[0] - x_min) / (x_max - x_min),
            _TOP + plot_h * (1 - (point[1] - y_min) / (y_max - y_min)),
        )

    parts = [_svg_open(title), _text(_WIDTH / 2, 14, title, size=12, extra=' font-weight="bold"')]
    parts.append(_axes(plot_w, plot_h))
    for fraction in (0.0, 0.5, 1.0):
        parts.append(
            _text(_LEFT - 6, _TOP + plot_h * (1 - fraction) + 4, _tick(y_min + fraction * (y_max - y_min)), "end")
        )
        parts.append(_text(_LEFT + plot_w * fraction, _TOP + plot_h + 14, _tick(x_min + fraction * (x_max - x_min))))
    parts.append(_text(_LEFT + plot_w / 2, _TOP + plot_h + 30, x_label))
    parts.append(_text(14, _TOP + plot_h / 2, y_label, extra=f' transform="rotate(-90 14 {_TOP + plot_h / 2:.1f})"'))
    names = list(lines)
    for index, name in enumerate(names):
        colour = PALETTE[index % len(PALETTE)]
        coords = " ".join(f"{x:.1f},{y:.1f}" for x, y in (place(p) for p in lines[name]))
        parts.append(f'<polyline points="{coords}" fill="none" stroke="{colour}" stroke-width="1.8"/>')
        if markers and name in markers:
            x, y = place(markers[name])
            parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4.5" fill="{colour}" stroke="#000"/>')
    parts += _legend(names, _HEIGHT - 4)
    parts.append("</svg>")
    return "\n".join(parts)


def _svg_open(title: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{_WIDTH}" height="{_HEIGHT}" '
        f'viewBox="0 0 {_WIDTH} {_HEIGHT}" role="img" aria-label="{html.escape(title)}">'
    )


def _axes(plot_w: float, plot_h: float) -> str:
    return f'<path d="M{_LEFT},{_TOP} V{_TOP + plot_h} H{_LEFT + plot_w}" fill="none" stroke="#444" stroke-width="1"/>'
