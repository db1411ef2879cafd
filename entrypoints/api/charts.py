"""Small server-side SVG charts: no JavaScript, no third-party front-end files.

Every drawn data point carries class="point" and its value in data-value, so a test (or a
screen reader) can find it; an empty chart says so in words.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape

WIDTH, HEIGHT, PAD = 560, 240, 40
COLOURS = ("#2563eb", "#dc2626", "#16a34a", "#d97706", "#7c3aed", "#0891b2", "#db2777")


def _frame(name: str, body: str, legend: str = "") -> str:
    return (
        f'<svg class="chart" data-chart="{escape(name)}" viewBox="0 0 {WIDTH} {HEIGHT + 30}" role="img" '
        f'aria-label="{escape(name)}" xmlns="http://www.w3.org/2000/svg">'
        f'<line x1="{PAD}" y1="{HEIGHT - PAD}" x2="{WIDTH - 10}" y2="{HEIGHT - PAD}" stroke="#999"/>'
        f'<line x1="{PAD}" y1="10" x2="{PAD}" y2="{HEIGHT - PAD}" stroke="#999"/>{body}{legend}</svg>'
    )


def empty(name: str, message: str) -> str:
    return f'<p class="empty" data-chart="{escape(name)}">{escape(message)}</p>'


def _y(value: float, top: float) -> float:
    return HEIGHT - PAD - (value / top if top else 0) * (HEIGHT - PAD - 20)


def line_chart(
    name: str, series: Mapping[str, Sequence[tuple[str, float]]], empty_message: str
) -> str:
    points = [v for values in series.values() for _, v in values]
    if not points:
        return empty(name, empty_message)
    labels = sorted({x for values in series.values() for x, _ in values})
    step = (WIDTH - PAD - 20) / max(1, len(labels) - 1)
    top = max(points) or 1.0
    body, legend = [], []
    for i, (label, values) in enumerate(sorted(series.items())):
        colour = COLOURS[i % len(COLOURS)]
        xy = [(PAD + labels.index(x) * step, _y(v, top), v) for x, v in values]
        body.append(
            f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{" ".join(f"{x:.1f},{y:.1f}" for x, y, _ in xy)}"/>'
        )
        body += [
            f'<circle class="point" data-value="{v:.6f}" cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{colour}"/>'
            for x, y, v in xy
        ]
        legend.append(
            f'<text x="{PAD + 10 + i * 110}" y="{HEIGHT + 20}" fill="{colour}" font-size="12">{escape(label)}</text>'
        )
    axis = (
        f'<text x="{PAD}" y="{HEIGHT - PAD + 15}" font-size="10">{escape(labels[0])}</text>'
        f'<text x="{WIDTH - 80}" y="{HEIGHT - PAD + 15}" font-size="10">{escape(labels[-1])}</text>'
        f'<text x="2" y="20" font-size="10">{top:.3f}</text>'
    )
    return _frame(name, "".join(body) + axis, "".join(legend))


def bar_chart(
    name: str, groups: Sequence[tuple[str, Mapping[str, float]]], empty_message: str
) -> str:
    """Bars grouped by label; each group holds one bar per measure (e.g. mean reward, probability)."""
    values = [v for _, measures in groups for v in measures.values()]
    if not values:
        return empty(name, empty_message)
    measures = sorted({m for _, ms in groups for m in ms})
    top = max(values) or 1.0
    slot = (WIDTH - PAD - 20) / len(groups)
    width = max(4.0, slot * 0.8 / len(measures))
    body, legend = [], []
    for g, (label, group) in enumerate(groups):
        for m, measure in enumerate(measures):
            value = group.get(measure, 0.0)
            x = PAD + 5 + g * slot + m * width
            y = _y(value, top)
            body.append(
                f'<rect class="point" data-value="{value:.6f}" x="{x:.1f}" y="{y:.1f}" width="{width - 1:.1f}" '
                f'height="{HEIGHT - PAD - y:.1f}" fill="{COLOURS[m % len(COLOURS)]}"><title>{escape(label)}: {value:.4f}</title></rect>'
            )
        fits = max(3, int(slot / 6))  # about 6 px a character at this size
        short = label if len(label) <= fits else label[: fits - 1] + "…"
        body.append(
            f'<text x="{PAD + 5 + g * slot:.1f}" y="{HEIGHT - PAD + 15}" font-size="10">{escape(short)}</text>'
        )
    if len(measures) > 1:
        legend = [
            f'<text x="{PAD + 10 + m * 150}" y="{HEIGHT + 20}" fill="{COLOURS[m % len(COLOURS)]}" font-size="12">{escape(n)}</text>'
            for m, n in enumerate(measures)
        ]
    return _frame(
        name, "".join(body) + f'<text x="2" y="20" font-size="10">{top:.3f}</text>', "".join(legend)
    )
