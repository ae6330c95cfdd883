"""Charts as inline SVG strings, for a report that opens with no network: stacked columns,
horizontal bars and a heatmap. Every label is HTML-escaped here; callers pass plain text.

Each chart is drawn in a fixed coordinate box (`viewBox`) and scales to the width of its page.
Hovering a bar or cell shows its exact value (an SVG <title>).
"""

from __future__ import annotations

import math
from html import escape

# Tableau's ten categorical colours: distinct, and readable on white.
PALETTE = ("#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
           "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac")
WIDTH = 760
FONT = 12  # px, in the chart's own coordinates
# px, a typical character at FONT in the page's widest likely face, DejaVu Sans: a name with
# capitals ('Vostochny Cosmodrome') averages 7.3 there.
CHAR_WIDTH = 7.4


def colour(index: int) -> str:
    return PALETTE[index % len(PALETTE)]


def nice_ticks(largest: float, count: int = 5) -> list[float]:
    """Round tick values (1, 2 or 5 times a power of ten) from 0 to at least `largest`."""
    if largest <= 0:
        return [0, 1]
    raw = largest / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    if step < 1:
        step = 1  # counts: no fractional ticks
    return [step * i for i in range(int(math.ceil(largest / step)) + 1)]


def shorten(text: str, characters: int) -> str:
    return text if len(text) <= characters else text[:characters - 1] + "…"


def number(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"


def svg(height: float, body: list[str], label: str) -> str:
    return (f'<svg class="chart" viewBox="0 0 {WIDTH} {height:.0f}" role="img" aria-label="{escape(label)}" '
            f'xmlns="http://www.w3.org/2000/svg" font-size="{FONT}">' + "".join(body) + "</svg>")


def text(x: float, y: float, content: str, anchor: str = "start", css: str = "", rotate: float | None = None) -> str:
    transform = f' transform="rotate({rotate} {x:.1f} {y:.1f})"' if rotate is not None else ""
    css = f' class="{css}"' if css else ""
    return f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}"{css}{transform}>{escape(content)}</text>'


def rect(x: float, y: float, width: float, height: float, fill: str, tooltip: str) -> str:
    return (f'<rect x="{x:.1f}" y="{y:.1f}" width="{max(width, 0):.1f}" height="{max(height, 0):.1f}" '
            f'fill="{fill}"><title>{escape(tooltip)}</title></rect>')


def stacked_columns(categories: list[str], series: dict[str, list[float]], colours: dict[str, str],
                    label: str, height: int = 260) -> str:
    """One column per category, the series stacked in it (in the order given) from the bottom.
    When the category names do not all fit below the columns, every n-th one is written."""
    left, right, top, bottom = 48, 12, 12, 22
    totals = [sum(values[i] for values in series.values()) for i in range(len(categories))]
    ticks = nice_ticks(max(totals, default=0))
    plot_height = height - top - bottom
    scale = plot_height / ticks[-1]
    slot = (WIDTH - left - right) / max(len(categories), 1)
    bar = min(slot * 0.72, 56)
    longest = max((len(c) for c in categories), default=1) * CHAR_WIDTH + 12
    every = max(1, math.ceil(longest / slot))
    body = []
    for tick in ticks:
        y = top + plot_height - tick * scale
        body.append(f'<line x1="{left}" x2="{WIDTH - right}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>')
        body.append(text(left - 6, y + 4, number(tick), "end", "axis"))
    for i, category in enumerate(categories):
        x = left + i * slot + (slot - bar) / 2
        base = top + plot_height
        for name, values in series.items():
            if values[i]:
                base -= values[i] * scale
                body.append(rect(x, base, bar, values[i] * scale, colours[name],
                                 f"{category}: {number(values[i])} {name}"))
        if i % every == 0:
            body.append(text(x + bar / 2, top + plot_height + 15, category, "middle", "axis"))
    return svg(height, body, label)


def horizontal_bars(rows: list[tuple[str, float, str]], label: str, label_characters: int = 34,
                    unit: str = "") -> str:
    """One bar per (label, value, colour) row, longest first as given, the value at its end."""
    row_height, top = 22, 6
    left = min(label_characters, max((len(r[0]) for r in rows), default=1)) * CHAR_WIDTH + 12
    largest = max((r[1] for r in rows), default=0) or 1
    span = WIDTH - left - 56
    body = []
    for i, (name, value, fill) in enumerate(rows):
        y = top + i * row_height
        body.append(text(left - 8, y + 15, shorten(name, label_characters), "end"))
        body.append(rect(left, y + 3, value / largest * span, row_height - 6, fill,
                         f"{name}: {number(value)}{unit}"))
        body.append(text(left + value / largest * span + 6, y + 15, number(value), "start", "value"))
    return svg(top * 2 + len(rows) * row_height, body, label)


def heatmap(names: list[str], counts: dict[tuple[str, str], int], label: str, what: str) -> str:
    """A square grid of `names` by `names`; each cell shaded by its count, the count written in it."""
    label_width = min(max((len(n) for n in names), default=1), 22) * CHAR_WIDTH + 10
    cell = min(40, (WIDTH - label_width - 10) / max(len(names), 1))
    top = label_width * 0.75 + 10
    largest = max(counts.values(), default=0) or 1
    body = []
    for j, name in enumerate(names):
        x = label_width + j * cell + cell / 2
        body.append(text(x, top - 6, shorten(name, 22), "start", rotate=-50))
    for i, row in enumerate(names):
        y = top + i * cell
        body.append(text(label_width - 8, y + cell / 2 + 4, shorten(row, 22), "end"))
        for j, column in enumerate(names):
            count = counts.get((row, column), 0)
            share = count / largest
            fill = f"rgba(78,121,167,{0.08 + 0.92 * share:.3f})" if count else "#f4f4f4"
            tooltip = (f"{row}: {count} {what}" if row == column else f"{row} and {column}: {count} {what}")
            body.append(rect(label_width + j * cell + 1, y + 1, cell - 2, cell - 2, fill, tooltip))
            if count:
                body.append(text(label_width + j * cell + cell / 2, y + cell / 2 + 4, str(count), "middle",
                                 "on-dark" if share > 0.55 else "on-light"))
    return svg(top + len(names) * cell + 4, body, label)
