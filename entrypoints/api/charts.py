"""Dashboard charts drawn on the server by matplotlib as inline SVG: no JavaScript, nothing fetched.

Every chart starts its value axis at zero, has gridlines and titled axes with units, and keeps its
numbers in a data table beside it (for screen readers, and for tests).
"""

from __future__ import annotations

import io
import math
import threading
import warnings
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

STRATEGY_COLOURS = {
    "hybrid": "#2563eb",
    "two_tower": "#dc2626",
    "item_cf": "#16a34a",
    "sequence": "#0d9488",
    "content": "#d97706",
    "popularity": "#7c3aed",
}
OTHER = ("#0891b2", "#db2777", "#4b5563")
_lock = threading.Lock()  # matplotlib's font cache and rcParams are shared by the threads
#: the latest charts drawn, by everything they show: a dashboard refreshed while its numbers stand
#: still draws nothing again (drawing all five takes a worker about a third of a second)
_drawn: OrderedDict[str, str] = OrderedDict()
KEPT = 32


@dataclass(frozen=True)
class Chart:
    name: str
    title: str
    svg: str  # "" when there is nothing to draw: the template shows `empty` instead
    empty: str
    columns: tuple[str, ...] = ()
    rows: list[tuple[str, ...]] = field(default_factory=list)
    note: str = ""  # what the reader needs to read it right, under the chart


def colour(strategy: str, n: int = 0) -> str:
    return STRATEGY_COLOURS.get(strategy, OTHER[n % len(OTHER)])


def _figure(height: float = 3.0) -> Any:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    matplotlib.rcParams["svg.fonttype"] = "none"  # real <text>: searchable, selectable, readable
    # course titles are text: "$100 to $1M" is no formula, and "$\frac{$" no error
    matplotlib.rcParams["text.parse_math"] = False
    figure = Figure(figsize=(6.4, height), layout="constrained")
    return figure, figure.add_subplot()


def _style(axes: Any, name: str, x_title: str, y_title: str, value_axis: str = "y") -> None:
    axes.set_xlabel(x_title, gid=f"{name}-x-title")
    axes.set_ylabel(y_title, gid=f"{name}-y-title")
    axes.grid(True, axis=value_axis, color="#e5e7eb")
    axes.set_axisbelow(True)
    for side in ("top", "right"):
        axes.spines[side].set_visible(False)
    if value_axis == "y":
        axes.set_ylim(bottom=0)
    else:
        axes.set_xlim(left=0)


def _svg(figure: Any) -> str:
    buffer = io.StringIO()
    with warnings.catch_warnings():
        # a character of a title the layout's font lacks (Chinese, a control character) is
        # measured as a box; it is SVG text, drawn by the browser from its own fonts
        # ("... missing from font(s) DejaVu Sans." since matplotlib 3.10, "... from current
        # font." before)
        warnings.filterwarnings("ignore", "Glyph .* missing from (current )?font", UserWarning)
        figure.savefig(buffer, format="svg")
    text = buffer.getvalue()
    return text[text.index("<svg") :]


def _remembered(shown: tuple[Any, ...], draw: Callable[[], str]) -> str:
    """draw()'s SVG, drawn again only when `shown` (all the chart's inputs) changed."""
    key = repr(shown)
    with _lock:
        if key in _drawn:
            _drawn.move_to_end(key)
            return _drawn[key]
        svg = _drawn[key] = draw()
        if len(_drawn) > KEPT:
            _drawn.popitem(last=False)
        return svg


def daily_lines(
    name: str,
    title: str,
    series: Mapping[str, Sequence[tuple[str, float]]],
    first_day: date,
    last_day: date,
    y_title: str,
    empty: str,
    percent: bool = False,
    table: tuple[tuple[str, ...], list[tuple[str, ...]]] | None = None,
    note: str = "",
) -> Chart:
    """One line per series over whole UTC days; values are fractions when `percent`. `table`
    (columns, rows), when given, is the data table in place of the values drawn: it may hold
    more than the lines do, and is shown when nothing is drawn."""
    unit = "CTR (%)" if percent else "value"
    columns, rows = table or (
        ("day", "series", unit),
        [
            (day, label, f"{100 * value:.2f}" if percent else f"{value:g}")
            for label, values in sorted(series.items())
            for day, value in values
        ],
    )
    if not any(series.values()):
        return Chart(name, title, "", empty, columns, rows, note if rows else "")

    def draw() -> str:
        from matplotlib.dates import AutoDateLocator, ConciseDateFormatter

        figure, axes = _figure()
        window = [first_day + timedelta(days=n) for n in range((last_day - first_day).days + 1)]
        scale = 100 if percent else 1
        for n, (label, values) in enumerate(sorted(series.items())):
            by_day = {date.fromisoformat(day): v for day, v in values}
            days = sorted({*window, *by_day})
            # a day without the series' data is a gap, not a line drawn through a value never seen
            shown = [scale * by_day.get(day, math.nan) for day in days]
            line = {"marker": "o", "markersize": 3, "label": label, "color": colour(label, n)}
            axes.plot(days, shown, gid=f"{name}-{label}", **line)
        locator = AutoDateLocator()
        axes.xaxis.set_major_locator(locator)
        axes.xaxis.set_major_formatter(ConciseDateFormatter(locator))
        # Half a day either side (as datetimes: a date drops the hours, and a one-day range
        # would give matplotlib equal limits).
        start, end = (datetime.combine(d, datetime.min.time()) for d in (first_day, last_day))
        axes.set_xlim(start - timedelta(hours=12), end + timedelta(hours=12))
        _style(axes, name, "Day (UTC)", y_title)
        axes.legend(loc="upper left", fontsize="small", ncols=min(5, len(series)), frameon=False)
        axes.set_ylim(top=max(axes.get_ylim()[1], 1e-9) * 1.15)  # room for the legend
        return _svg(figure)

    drawn = (name, sorted(series.items()), first_day, last_day, y_title, percent)
    svg = _remembered(("lines", *drawn), draw)
    return Chart(name, title, svg, empty, columns, rows, note)


def bars(
    name: str,
    title: str,
    values: Sequence[tuple[str, float]],
    category_title: str,
    value_title: str,
    empty: str,
    percent: bool = False,
    horizontal: bool = False,
    integer: bool = False,
) -> Chart:
    """One bar per label; horizontal bars keep long labels (course titles) whole."""
    if not values or not any(v for _, v in values):
        return Chart(name, title, "", empty)
    labels = [label for label, _ in values]
    shown = [100 * v if percent else v for _, v in values]
    rows = [
        (label, f"{v:.2f}" if percent else f"{v:g}") for label, v in zip(labels, shown, strict=True)
    ]

    def draw() -> str:
        from matplotlib.ticker import MaxNLocator

        height = max(3.0, 0.32 * len(values) + 1.2) if horizontal else 3.0
        figure, axes = _figure(height)
        colours = [colour(label, n) for n, label in enumerate(labels)]
        if horizontal:
            axes.barh(labels[::-1], shown[::-1], color="#2563eb")
            _style(axes, name, value_title, category_title, value_axis="x")
            if integer:  # as many ticks as the axis has room for: titles leave it narrow
                axes.xaxis.set_major_locator(MaxNLocator("auto", integer=True))
        else:
            axes.bar(labels, shown, color=colours)
            _style(axes, name, category_title, value_title)
            if integer:
                axes.yaxis.set_major_locator(MaxNLocator("auto", integer=True))
        return _svg(figure)

    drawn = (name, labels, shown, category_title, value_title, horizontal, integer)
    svg = _remembered(("bars", *drawn), draw)
    return Chart(name, title, svg, empty, (category_title, value_title), rows)
