"""Three small charts drawn as standalone SVG text, with no plotting library: vertical
bars against a maximum (`bars`), a step line over time (`steps`) and labelled
horizontal bars (`hbars`). Every chart is an `<svg>` element with a `<title>`, a
viewBox and classes (`bar`, `bar-max`, `line`, `hbar`) a test or a stylesheet can find.

    bars("Score per chapter", [("ch4", 12, 55)], unit="pts")
    -> '<svg xmlns="http://www.w3.org/2000/svg" ... <rect class="bar" ...'

Text is XML-escaped; numbers are rounded to 0.1 px so the output is stable.
"""

from __future__ import annotations

from datetime import datetime
from xml.sax.saxutils import escape, quoteattr

from rich.cells import cell_len

WIDTH = 720
FONT = "font-family='system-ui, -apple-system, Segoe UI, Noto Sans KR, sans-serif'"
COLOURS = {"passed": "#2e7d32", "partial": "#f9a825", "not_started": "#9e9e9e", "axis": "#616161", "max": "#e0e0e0", "line": "#1565c0"}


def _n(x: float) -> str:
    return f"{x:.1f}".rstrip("0").rstrip(".")


def _open(title: str, height: float, chart_id: str) -> list[str]:
    return [
        f"<svg xmlns='http://www.w3.org/2000/svg' id={quoteattr(chart_id)} class='chart' role='img' "
        f"width='{WIDTH}' height='{_n(height)}' viewBox='0 0 {WIDTH} {_n(height)}' {FONT} font-size='12'>",
        f"<title>{escape(title)}</title>",
        f"<text x='0' y='16' font-size='15' font-weight='bold'>{escape(title)}</text>",
    ]


def _legend(items: list[tuple[str, str]], y: float) -> list[str]:
    """Colour swatches with their labels, right-aligned on the title's line."""
    out, x = ["<g class='legend'>"], float(WIDTH)
    for colour, label in reversed(items):
        x -= 8 + 7 * cell_len(label) + 14
        out.append(f"<rect x='{_n(x)}' y='{_n(y - 9)}' width='10' height='10' fill='{COLOURS.get(colour, colour)}'/>")
        out.append(f"<text x='{_n(x + 14)}' y='{_n(y)}'>{escape(label)}</text>")
    out.append("</g>")
    return out


def bars(title: str, items: list[tuple[str, float, float]], chart_id: str = "bars", empty: str = "",
         legend: list[tuple[str, str]] | None = None) -> str:
    """One vertical bar per (label, value, maximum), each drawn against its own maximum:
    the grey bar is the maximum (full height), the coloured one the share of it reached,
    so a finished item's bar is full whatever its maximum."""
    height, top, bottom, left = 260.0, 40.0, 40.0, 40.0
    out = _open(title, height, chart_id)
    if legend and items:
        out += _legend(legend, 16)
    plot_h = height - top - bottom
    slot = (WIDTH - left) / max(len(items), 1)
    bar_w = min(44.0, slot * 0.7)
    base = height - bottom
    out.append(f"<line x1='{_n(left)}' y1='{_n(base)}' x2='{WIDTH}' y2='{_n(base)}' stroke='{COLOURS['axis']}'/>")
    for i, (label, value, maximum) in enumerate(items):
        x = left + i * slot + (slot - bar_w) / 2
        share = min(value, maximum) / maximum if maximum else 0.0
        h_max, h_val = plot_h, plot_h * share
        colour = COLOURS["passed"] if maximum and value >= maximum else COLOURS["partial"]
        out.append(f"<rect class='bar-max' x='{_n(x)}' y='{_n(base - h_max)}' width='{_n(bar_w)}' height='{_n(h_max)}' fill='{COLOURS['max']}'/>")
        out.append(
            f"<rect class='bar' data-label={quoteattr(label)} data-value='{value:g}' data-max='{maximum:g}' x='{_n(x)}' "
            f"y='{_n(base - h_val)}' width='{_n(bar_w)}' height='{_n(h_val)}' fill='{colour}'><title>{escape(f'{label}: {value:g} / {maximum:g}')}</title></rect>"
        )
        out.append(f"<text x='{_n(x + bar_w / 2)}' y='{_n(base - h_max - 4)}' text-anchor='middle' font-size='10'>{value:g}/{maximum:g}</text>")
        out.append(f"<text x='{_n(x + bar_w / 2)}' y='{_n(base + 16)}' text-anchor='middle'>{escape(label)}</text>")
    if not items and empty:
        out.append(f"<text x='{WIDTH / 2}' y='{height / 2}' text-anchor='middle' fill='{COLOURS['axis']}'>{escape(empty)}</text>")
    out.append("</svg>")
    return "\n".join(out)


def steps(title: str, points: list[tuple[float, float]], maximum: float, chart_id: str = "steps", empty: str = "") -> str:
    """A step line of (time, value) points, value axis from 0 to `maximum`, time axis
    from the first point to the last, labelled with their dates."""
    height, top, bottom, left, right = 260.0, 40.0, 40.0, 48.0, 16.0
    out = _open(title, height, chart_id)
    plot_w, plot_h, base = WIDTH - left - right, height - top - bottom, height - bottom
    top_value = max([maximum] + [v for _, v in points]) or 1
    out.append(f"<line x1='{_n(left)}' y1='{_n(base)}' x2='{_n(WIDTH - right)}' y2='{_n(base)}' stroke='{COLOURS['axis']}'/>")
    out.append(f"<line x1='{_n(left)}' y1='{_n(top)}' x2='{_n(left)}' y2='{_n(base)}' stroke='{COLOURS['axis']}'/>")
    for frac in (0, 0.5, 1):
        y = base - plot_h * frac
        out.append(f"<text x='{_n(left - 6)}' y='{_n(y + 4)}' text-anchor='end' font-size='10'>{top_value * frac:.0f}</text>")
    if points:
        t0, t1 = points[0][0], points[-1][0]
        span = (t1 - t0) or 1.0
        coords, prev_y = [], None
        for t, v in points:
            x = left + plot_w * (t - t0) / span if t1 > t0 else left + plot_w / 2
            y = base - plot_h * v / top_value
            if prev_y is not None:
                coords.append((x, prev_y))  # hold the previous total until this check
            coords.append((x, y))
            prev_y = y
        line = " ".join(f"{_n(x)},{_n(y)}" for x, y in coords)
        out.append(f"<polyline class='line' points='{line}' fill='none' stroke='{COLOURS['line']}' stroke-width='2'/>")
        for x, y in coords[::2] if len(coords) > 1 else coords:
            out.append(f"<circle cx='{_n(x)}' cy='{_n(y)}' r='2.5' fill='{COLOURS['line']}'/>")
        for t, anchor, x in ((t0, "start", left), (t1, "end", WIDTH - right)):
            label = datetime.fromtimestamp(t).strftime("%Y-%m-%d %H:%M")
            out.append(f"<text x='{_n(x)}' y='{_n(base + 16)}' text-anchor='{anchor}' font-size='10'>{label}</text>")
    elif empty:
        out.append(f"<text x='{WIDTH / 2}' y='{height / 2}' text-anchor='middle' fill='{COLOURS['axis']}'>{escape(empty)}</text>")
    out.append("</svg>")
    return "\n".join(out)


def hbars(title: str, items: list[tuple[str, float, str]], chart_id: str = "hbars", empty: str = "",
          legend: list[tuple[str, str]] | None = None) -> str:
    """One horizontal bar per (label, value, colour key of COLOURS), longest scaled to the width."""
    row, top, left, right = 18.0, 30.0, 230.0, 40.0
    height = top + row * max(len(items), 2) + 10
    out = _open(title, height, chart_id)
    if legend and items:
        out += _legend(legend, 16)
    largest = max((v for _, v, _ in items), default=0) or 1
    for i, (label, value, colour) in enumerate(items):
        y = top + i * row
        w = (WIDTH - left - right) * value / largest
        out.append(f"<text x='{_n(left - 8)}' y='{_n(y + 12)}' text-anchor='end'>{escape(label)}</text>")
        out.append(
            f"<rect class='hbar' data-label={quoteattr(label)} data-value='{value:g}' x='{_n(left)}' y='{_n(y + 2)}' "
            f"width='{_n(max(w, 1))}' height='{_n(row - 5)}' fill='{COLOURS.get(colour, colour)}'/>"
        )
        out.append(f"<text x='{_n(left + w + 6)}' y='{_n(y + 12)}' font-size='10'>{value:g}</text>")
    if not items and empty:
        out.append(f"<text x='{WIDTH / 2}' y='{_n(top + row)}' text-anchor='middle' fill='{COLOURS['axis']}'>{escape(empty)}</text>")
    out.append("</svg>")
    return "\n".join(out)
