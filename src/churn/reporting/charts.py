"""The inline-SVG charts of the marketers' pages: horizontal bars, vertical bars, a histogram,
lines over periods, curves over a numeric axis, and expected against observed rates with
their intervals.

Every chart is drawn for a given width in pixels, because SVG text does not reflow: a chart
drawn 920 px wide and shrunk onto a phone has unreadable 5 px labels. :func:`responsive`
therefore draws a chart twice, wide and narrow, and the stylesheet shows the one that suits
the screen (no JavaScript). Each SVG has ``role="img"`` and a ``<title>`` naming the chart.

Every label and value text given to a chart is plain text: it is HTML-escaped here, and the
result is :class:`markupsafe.Markup` for the templates to insert as it is.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape

from markupsafe import Markup

WIDE = 920
NARROW = 400
BAR_COLOUR = "#2f6db5"
GRID_COLOUR = "#e4e7eb"
AXIS_COLOUR = "#52606d"
EXPECTED_COLOUR = "#c3d3e8"
OBSERVED_COLOUR = "#1f2933"
# An x-axis label takes about this many pixels; fewer labels are shown when they would crowd.
LABEL_SPACE = 74

Draw = Callable[..., str]


def responsive(draw: Draw, chart_id: str, *args: object, **kwargs: object) -> Markup:
    """``draw(chart_id, ..., width=...)`` twice: wide for screens, narrow for phones.

    The narrow copy's id is ``<chart_id>-narrow``; the stylesheet shows one of the two.
    """
    wide = draw(chart_id, *args, width=WIDE, **kwargs)
    narrow = draw(f"{chart_id}-narrow", *args, width=NARROW, **kwargs)
    return Markup(
        f'<figure class="chart">\n<div class="wide">{wide}</div>\n'
        f'<div class="narrow">{narrow}</div>\n</figure>'
    )


def _text(value: object) -> str:
    return escape(str(value), quote=True)


def _open(chart_id: str, title: str, width: int, height: float) -> list[str]:
    title = _text(title)
    height = round(height)
    return [
        f'<svg id="{_text(chart_id)}" role="img" aria-label="{title}" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}">',
        f"<title>{title}</title>",
        f'<text class="title" x="0" y="18">{title}</text>',
    ]


def _close(parts: list[str]) -> str:
    return "\n".join([*parts, "</svg>"])


def _shorten(label: str, limit: int) -> str:
    """``label`` cut to ``limit`` characters with an ellipsis; SVG text does not wrap."""
    return label if len(label) <= limit else label[: limit - 1].rstrip() + "…"


def nice_step(biggest: float, ticks: int = 4) -> float:
    """A round step (1, 2, 2.5 or 5 times a power of ten) giving at most about ``ticks``
    gridlines up to ``biggest``."""
    raw = biggest / ticks if biggest > 0 else 1.0
    power = 10 ** math.floor(math.log10(raw))
    return next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw * (1 - 1e-9))


def _axis_max(biggest: float, whole: bool = False) -> tuple[float, float]:
    """The step and top of a y axis from 0 to a round value at or above ``biggest``."""
    step = nice_step(biggest or 1.0)
    if whole:
        step = max(step, 1.0)
    return step, step * max(1, math.ceil(biggest / step - 1e-9))


def _legend(items: Sequence[tuple[str, str]], y: float, width: int) -> tuple[list[str], float]:
    """Swatches with names, wrapped over rows; returns the parts and the y below them."""
    parts, x = [], 0.0
    for name, colour in items:
        # SVG text does not wrap: the width is guessed from the number of characters.
        item_w = 26 + 7.5 * len(name)
        if x and x + item_w > width:
            x, y = 0.0, y + 20
        parts.append(
            f'<rect x="{x:.0f}" y="{y + 2:.0f}" width="12" height="12" rx="2" fill="{colour}"/>'
            f'<text x="{x + 18:.0f}" y="{y + 13:.0f}">{_text(name)}</text>'
        )
        x += item_w + 14
    return parts, y + 22


def hbars(
    chart_id: str,
    title: str,
    bars: Sequence[tuple[str, float, str]],
    empty: str,
    width: int = WIDE,
) -> str:
    """Horizontal bars from ``(label, value, value text)``, in the given order.

    Wide, each label sits left of its bar; narrow, above it, so that long labels keep
    their words.
    """
    beside = width >= 600
    label_w = round(width * 0.36) if beside else 0
    value_w = 110 if beside else 90
    row_h = 30 if beside else 44
    top = 34
    bar_w = width - label_w - value_w
    height = top + max(len(bars), 1) * row_h + 8
    biggest = max((v for _, v, _ in bars), default=0) or 1
    parts = _open(chart_id, title, width, height)
    if not bars:
        parts.append(f'<text class="muted" x="0" y="{top + 18}">{_text(empty)}</text>')
    limit = round(label_w / 7.2) if beside else round(width / 7.2)
    for i, (label, value, value_text) in enumerate(bars):
        y = top + i * row_h
        length = max(bar_w * value / biggest, 0)
        shown = _text(_shorten(str(label), limit))
        if beside:
            label_part = f'<text x="{label_w - 10}" y="{y + 19}" text-anchor="end">{shown}</text>'
            bar_y = y + 5
        else:
            label_part = f'<text x="0" y="{y + 14}">{shown}</text>'
            bar_y = y + 20
        parts.append(
            f"{label_part}"
            f'<rect class="bar" x="{label_w}" y="{bar_y}" width="{length:.1f}" '
            f'height="{row_h - 10 if beside else 18}" rx="3" fill="{BAR_COLOUR}">'
            f"<title>{_text(label)}: {_text(value_text)}</title></rect>"
            f'<text x="{label_w + length + 8:.1f}" y="{bar_y + 14}">{_text(value_text)}</text>'
        )
    return _close(parts)


def histogram(
    chart_id: str,
    title: str,
    edges: Sequence[float],
    counts: Sequence[int],
    colours: Sequence[str],
    legend: Sequence[tuple[str, str]],
    x_title: str,
    y_title: str,
    count_text: Callable[[float], str],
    edge_text: Callable[[float], str],
    width: int = WIDE,
) -> str:
    """Vertical bars of counts per bin between ``edges``, each bin in its colour.

    ``count_text`` and ``edge_text`` write a count and an edge as plain text.
    """
    if len(edges) != len(counts) + 1 or len(colours) != len(counts):
        raise ValueError(
            f"the histogram needs one more edge than counts and a colour per count, got "
            f"{len(edges)} edges, {len(counts)} counts and {len(colours)} colours"
        )
    narrow = width < 600
    height = 300 if narrow else 330
    parts = _open(chart_id, title, width, height)
    legend_parts, top = _legend(legend, 28, width)
    parts += legend_parts
    top += 14
    left, right, bottom = (62 if narrow else 70), (18 if narrow else 20), 50
    plot_w, plot_h = width - left - right, height - top - bottom
    lo_edge, hi_edge = float(edges[0]), float(edges[-1])
    span = (hi_edge - lo_edge) or 1.0
    step, y_max = _axis_max(max(counts, default=0), whole=True)

    def x_of(edge: float) -> float:
        return left + plot_w * (edge - lo_edge) / span

    def y_of(n: float) -> float:
        return top + plot_h * (1 - n / y_max)

    parts += _y_grid(y_max, step, y_of, left, width - right, count_text)
    for lo, hi, n, colour in zip(edges[:-1], edges[1:], counts, colours, strict=True):
        x0, x1 = x_of(lo), x_of(hi)
        y = y_of(n)
        parts.append(
            f'<rect class="bar" x="{x0 + 1.5:.1f}" y="{y:.1f}" width="{max(x1 - x0 - 3, 1):.1f}" '
            f'height="{top + plot_h - y:.1f}" fill="{colour}">'
            f"<title>{_text(edge_text(lo))}–{_text(edge_text(hi))}: "
            f"{_text(count_text(n))}</title></rect>"
        )
        if x1 - x0 >= 8 * len(count_text(n)):
            parts.append(
                f'<text class="axis" x="{(x0 + x1) / 2:.1f}" y="{y - 5:.1f}" '
                f'text-anchor="middle">{_text(count_text(n))}</text>'
            )
    every = max(1, math.ceil(len(edges) * 40 / plot_w))
    for i, edge in enumerate(edges):
        if i % every == 0 or i == len(edges) - 1:
            parts.append(
                f'<text class="axis" x="{x_of(edge):.1f}" y="{top + plot_h + 16}" '
                f'text-anchor="middle">{_text(edge_text(edge))}</text>'
            )
    parts.append(
        f'<line x1="{left}" x2="{width - right}" y1="{top + plot_h}" y2="{top + plot_h}" '
        f'stroke="{AXIS_COLOUR}"/>'
        f'<text x="{left + plot_w / 2:.1f}" y="{height - 8}" text-anchor="middle">'
        f"{_text(x_title)}</text>"
        f'<text x="12" y="{top + plot_h / 2:.1f}" text-anchor="middle" '
        f'transform="rotate(-90 12 {top + plot_h / 2:.1f})">{_text(y_title)}</text>'
    )
    return _close(parts)


def _y_grid(
    y_max: float,
    step: float,
    y_of: Callable[[float], float],
    left: float,
    right: float,
    tick_text: Callable[[float], str],
    y_min: float = 0.0,
) -> list[str]:
    """Horizontal grid lines from ``y_min`` (a multiple of ``step``) to ``y_max`` every
    ``step``, each with its tick label left of the plot."""
    parts = []
    first = round(y_min / step)
    for i in range(round((y_max - y_min) / step) + 1):
        # A whole multiple of the step, so that the zero tick is exactly 0 (never "-0").
        value = (first + i) * step
        y = y_of(value)
        parts.append(
            f'<line x1="{left}" x2="{right}" y1="{y:.1f}" y2="{y:.1f}" '
            f'stroke="{GRID_COLOUR}"/><text class="axis" x="{left - 6}" y="{y + 4:.1f}" '
            f'text-anchor="end">{_text(tick_text(value))}</text>'
        )
    return parts


def _x_axis(
    labels: Sequence[str],
    x_of: Callable[[int], float],
    baseline: float,
    left: float,
    right: float,
) -> list[str]:
    every = max(1, math.ceil(len(labels) / max((right - left) // LABEL_SPACE, 1)))
    parts = [
        f'<line x1="{left}" x2="{right}" y1="{baseline}" y2="{baseline}" stroke="{AXIS_COLOUR}"/>'
    ]
    for i, label in enumerate(labels):
        x = x_of(i)
        shown = i % every == 0
        parts.append(
            f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{baseline}" y2="{baseline + (5 if shown else 3)}"'
            ' stroke="#9aa5b1"/>'
        )
        if shown:
            parts.append(
                f'<text class="axis" x="{x:.1f}" y="{baseline + 18}" text-anchor="middle">'
                f"{_text(label)}</text>"
            )
    return parts


def lines(
    chart_id: str,
    title: str,
    labels: Sequence[str],
    series: Sequence[tuple[str, str, Sequence[float | None]]],
    value_text: Callable[[float], str],
    tick_text: Callable[[float], str],
    empty: str,
    y_max: float | None = None,
    height: int = 320,
    end_labels: bool = True,
    width: int = WIDE,
) -> str:
    """Rates 0-1 as lines over the periods, one per ``(name, colour, values)``.

    A None value leaves a gap. The y axis runs from 0 to ``y_max``, or to a round value above
    the largest rate when ``y_max`` is None. ``value_text`` writes a point's value (its
    tooltip and the line's end label), ``tick_text`` an axis tick.
    """
    parts = _open(chart_id, title, width, height)
    legend, top = _legend([(name, colour) for name, colour, _ in series], 28, width)
    parts += legend
    top += 6
    narrow = width < 600
    left, bottom = (44 if narrow else 56), 34
    right = (52 if narrow else 64) if end_labels else 16
    plot_w, plot_h = width - left - right, height - top - bottom
    count = len(labels)
    if not count:
        parts.append(f'<text class="muted" x="0" y="{top + 18}">{_text(empty)}</text>')
        return _close(parts)
    if y_max is None:
        biggest = max((v for _, _, values in series for v in values if v is not None), default=0)
        step, y_max = _axis_max(biggest)
    else:
        step = nice_step(y_max)
    top_value = y_max

    def x_of(i: int) -> float:
        # Points sit in the middle of equal slots, as the bars of a bar chart do.
        return left + plot_w * (i + 0.5) / count

    def y_of(rate: float) -> float:
        return top + plot_h * (1 - min(max(rate, 0.0), top_value) / top_value)

    parts += _y_grid(y_max, step, y_of, left, width - right, tick_text)
    parts += _x_axis(labels, x_of, top + plot_h, left, width - right)
    dots = count <= plot_w / 12
    for name, colour, values in series:
        runs: list[list[str]] = [[]]
        for i, value in enumerate(values):
            if value is None:
                runs.append([])
            else:
                runs[-1].append(f"{x_of(i):.1f},{y_of(value):.1f}")
        parts += [
            f'<polyline class="line" points="{" ".join(run)}" fill="none" stroke="{colour}" '
            'stroke-width="2" stroke-linejoin="round"/>'
            for run in runs
            if len(run) > 1
        ]
        for i, value in enumerate(values):
            # A lone point between gaps has no line, so it always gets its dot.
            lone = (i == 0 or values[i - 1] is None) and (i + 1 == count or values[i + 1] is None)
            if value is not None and (dots or lone):
                parts.append(
                    f'<circle cx="{x_of(i):.1f}" cy="{y_of(value):.1f}" r="2.5" fill="{colour}">'
                    f"<title>{_text(name)}, {_text(labels[i])}: {_text(value_text(value))}"
                    "</title></circle>"
                )
        last = next((i for i in reversed(range(count)) if values[i] is not None), None)
        if end_labels and last is not None:
            parts.append(
                f'<text x="{x_of(last) + 7:.1f}" y="{y_of(values[last]) + 4:.1f}" '
                f'style="fill:{colour};font-weight:600">{_text(value_text(values[last]))}</text>'
            )
    return _close(parts)


def vbars(
    chart_id: str,
    title: str,
    labels: Sequence[str],
    values: Sequence[float],
    value_text: Callable[[float], str],
    tick_text: Callable[[float], str],
    empty: str,
    height: int = 300,
    width: int = WIDE,
) -> str:
    """Vertical bars, one per label; ``value_text`` and ``tick_text`` write a value as plain
    text for a bar's label and for the y axis."""
    parts = _open(chart_id, title, width, height)
    narrow = width < 600
    left, right, top, bottom = (76 if narrow else 100), 16, 48, 34
    plot_w, plot_h = width - left - right, height - top - bottom
    count = len(labels)
    if not count:
        parts.append(f'<text class="muted" x="0" y="{top + 18}">{_text(empty)}</text>')
        return _close(parts)
    step, y_max = _axis_max(max(max(values), 0.0))
    slot = plot_w / count

    def x_of(i: int) -> float:
        return left + slot * (i + 0.5)

    def y_of(value: float) -> float:
        return top + plot_h * (1 - max(value, 0.0) / y_max)

    parts += _y_grid(y_max, step, y_of, left, width - right, tick_text)
    # Each bar's amount above it when there is room; otherwise only the last one, the rest
    # are in the bars' tooltips (and the pages' tables).
    label_all = slot >= LABEL_SPACE + 6
    bar_w = max(min(slot * 0.7, 48), 1)
    for i, value in enumerate(values):
        y = y_of(value)
        parts.append(
            f'<rect class="bar" x="{x_of(i) - bar_w / 2:.1f}" y="{y:.1f}" width="{bar_w:.1f}" '
            f'height="{top + plot_h - y:.1f}" rx="2" fill="{BAR_COLOUR}">'
            f"<title>{_text(labels[i])}: {_text(value_text(value))}</title></rect>"
        )
        if label_all or i == count - 1:
            # A lone label on the last, narrow bar ends at its right edge to stay on the chart.
            anchor = "middle" if label_all else "end"
            x = x_of(i) + (0 if label_all else bar_w / 2)
            parts.append(
                f'<text class="axis" x="{x:.1f}" y="{y - 6:.1f}" text-anchor="{anchor}">'
                f"{_text(value_text(value))}</text>"
            )
    parts += _x_axis(labels, x_of, top + plot_h, left, width - right)
    return _close(parts)


def intervals(
    chart_id: str,
    title: str,
    labels: Sequence[str],
    expected: Sequence[float | None],
    observed: Sequence[float | None],
    lows: Sequence[float | None],
    highs: Sequence[float | None],
    tips: Sequence[str],
    legend: tuple[str, str],
    tick_text: Callable[[float], str],
    x_title: str,
    empty: str,
    height: int = 320,
    width: int = WIDE,
) -> str:
    """Per label, an expected rate 0-1 as a pale bar and the observed rate as a dot with a
    whisker from ``lows`` to ``highs`` (its interval): where the dot's whisker misses the
    bar's top, what happened differs from what was expected.

    A None leaves the bar, dot or whisker out. ``tips`` are the slots' tooltips and
    ``legend`` names the bars and the dots, all plain text.
    """
    parts = _open(chart_id, title, width, height)
    legend_parts, top = _legend(
        [(legend[0], EXPECTED_COLOUR), (legend[1], OBSERVED_COLOUR)], 28, width
    )
    parts += legend_parts
    top += 10
    narrow = width < 600
    left, right, bottom = (44 if narrow else 56), 12, 50
    plot_w, plot_h = width - left - right, height - top - bottom
    count = len(labels)
    if not count:
        parts.append(f'<text class="muted" x="0" y="{top + 18}">{_text(empty)}</text>')
        return _close(parts)
    values = [v for series in (expected, observed, highs) for v in series if v is not None]
    step, y_max = _axis_max(max(values, default=0.0))
    slot = plot_w / count

    def x_of(i: int) -> float:
        return left + slot * (i + 0.5)

    def y_of(rate: float) -> float:
        return top + plot_h * (1 - min(max(rate, 0.0), y_max) / y_max)

    parts += _y_grid(y_max, step, y_of, left, width - right, tick_text)
    bar_w = max(min(slot * 0.6, 44), 2)
    baseline = top + plot_h
    for i in range(count):
        x = x_of(i)
        group = [f'<g class="slot"><title>{_text(tips[i])}</title>']
        if expected[i] is not None:
            y = y_of(expected[i])
            group.append(
                f'<rect class="bar" x="{x - bar_w / 2:.1f}" y="{y:.1f}" width="{bar_w:.1f}" '
                f'height="{baseline - y:.1f}" rx="2" fill="{EXPECTED_COLOUR}"/>'
            )
        if lows[i] is not None and highs[i] is not None:
            y0, y1 = y_of(lows[i]), y_of(highs[i])
            cap = min(bar_w / 3, 7)
            group.append(
                f'<path class="whisker" d="M{x:.1f},{y0:.1f}V{y1:.1f}'
                f'M{x - cap:.1f},{y0:.1f}H{x + cap:.1f}M{x - cap:.1f},{y1:.1f}H{x + cap:.1f}" '
                f'stroke="{OBSERVED_COLOUR}" stroke-width="1.5" fill="none"/>'
            )
        if observed[i] is not None:
            group.append(
                f'<circle class="dot" cx="{x:.1f}" cy="{y_of(observed[i]):.1f}" r="4" '
                f'fill="{OBSERVED_COLOUR}"/>'
            )
        group.append("</g>")
        parts.append("".join(group))
    # Short labels (a tenth's number) fit every slot; longer ones are thinned.
    longest = max((len(str(label)) for label in labels), default=1)
    every = max(1, math.ceil((longest * 7 + 8) / slot))
    parts.append(
        f'<line x1="{left}" x2="{width - right}" y1="{baseline}" y2="{baseline}" '
        f'stroke="{AXIS_COLOUR}"/>'
    )
    for i, label in enumerate(labels):
        if i % every == 0:
            parts.append(
                f'<text class="axis" x="{x_of(i):.1f}" y="{baseline + 16}" '
                f'text-anchor="middle">{_text(label)}</text>'
            )
    parts.append(
        f'<text x="{left + plot_w / 2:.1f}" y="{height - 8}" text-anchor="middle">'
        f"{_text(x_title)}</text>"
    )
    return _close(parts)


@dataclass(frozen=True)
class Curve:
    """One curve of :func:`curves`: its name (in the legend and the line's tooltip), colour,
    points ``(x, y)`` in the order they are joined (a None ``y`` leaves a gap), and whether it
    is drawn dashed (a reference line, such as a random list's)."""

    name: str
    colour: str
    points: Sequence[tuple[float, float | None]]
    dashed: bool = False


def curves(
    chart_id: str,
    title: str,
    series: Sequence[Curve],
    x_text: Callable[[float], str],
    y_text: Callable[[float], str],
    x_title: str,
    y_title: str,
    empty: str,
    whole: bool = False,
    height: int = 340,
    width: int = WIDE,
) -> str:
    """Curves of ``y`` against a numeric ``x``, such as a Qini curve (customers gained
    against the share of customers on a list).

    :func:`lines` puts categorical periods in equal slots and starts its axis at 0; here the
    x axis runs from 0 to the largest ``x`` (points may be unevenly spaced, and a straight
    reference line needs only its two ends), and the y axis reaches below 0 when a curve
    does, with the zero line drawn darker. ``x_text`` and ``y_text`` write an axis tick as
    plain text; ``whole`` keeps the y ticks on whole numbers (counts of customers).
    """
    points = [(x, y) for c in series for x, y in c.points if y is not None]
    x_max = max((x for x, _ in points), default=0.0)
    if not points or x_max <= 0:
        # Nothing to draw: the title and a line saying so, not an empty plot's height.
        parts = _open(chart_id, title, width, 56)
        parts.append(f'<text class="muted" x="0" y="44">{_text(empty)}</text>')
        return _close(parts)
    parts = _open(chart_id, title, width, height)
    legend, top = _legend([(c.name, c.colour) for c in series], 28, width)
    parts += legend
    top += 8
    narrow = width < 600
    left, right, bottom = (58 if narrow else 72), (18 if narrow else 24), 52
    plot_w, plot_h = width - left - right, height - top - bottom
    low = min(0.0, min(y for _, y in points))
    high = max(0.0, max(y for _, y in points))
    step = nice_step((high - low) or 1.0, ticks=5)
    if whole:
        step = max(step, 1.0)
    y_lo = step * math.floor(low / step + 1e-9)
    y_hi = step * max(math.ceil(high / step - 1e-9), math.floor(low / step + 1e-9) + 1)

    def x_of(x: float) -> float:
        return left + plot_w * x / x_max

    def y_of(y: float) -> float:
        return top + plot_h * (y_hi - y) / (y_hi - y_lo)

    parts += _y_grid(y_hi, step, y_of, left, width - right, y_text, y_min=y_lo)
    baseline = top + plot_h
    if y_lo < 0:
        parts.append(
            f'<line class="zero" x1="{left}" x2="{width - right}" y1="{y_of(0):.1f}" '
            f'y2="{y_of(0):.1f}" stroke="{AXIS_COLOUR}"/>'
        )
    x_step = nice_step(x_max, ticks=4 if narrow else 5)
    parts.append(
        f'<line x1="{left}" x2="{width - right}" y1="{baseline}" y2="{baseline}" '
        f'stroke="{AXIS_COLOUR}"/>'
    )
    for i in range(math.floor(x_max / x_step + 1e-9) + 1):
        x = x_of(i * x_step)
        parts.append(
            f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{baseline}" y2="{baseline + 5}" '
            f'stroke="#9aa5b1"/><text class="axis" x="{x:.1f}" y="{baseline + 18}" '
            f'text-anchor="middle">{_text(x_text(i * x_step))}</text>'
        )
    for curve in series:
        runs: list[list[str]] = [[]]
        for x, y in curve.points:
            if y is None:
                runs.append([])
            else:
                runs[-1].append(f"{x_of(x):.1f},{y_of(y):.1f}")
        dash = ' stroke-dasharray="6 4"' if curve.dashed else ""
        parts += [
            f'<polyline class="curve" points="{" ".join(run)}" fill="none" '
            f'stroke="{curve.colour}" stroke-width="2.5" stroke-linejoin="round"{dash}>'
            f"<title>{_text(curve.name)}</title></polyline>"
            for run in runs
            if len(run) > 1
        ]
    parts.append(
        f'<text x="{left + plot_w / 2:.1f}" y="{height - 8}" text-anchor="middle">'
        f"{_text(x_title)}</text>"
        f'<text x="12" y="{top + plot_h / 2:.1f}" text-anchor="middle" '
        f'transform="rotate(-90 12 {top + plot_h / 2:.1f})">{_text(y_title)}</text>'
    )
    return _close(parts)
