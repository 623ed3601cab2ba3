"""Small inline SVG charts for the HTML reports and the arena's pages (no matplotlib, no network).

Every function returns one ``<svg>`` element as a string: dot-and-whisker interval plots, heat
maps, line plots, bar charts and a reliability diagram.  All text (item names included) is
XML-escaped here, so a hostile name cannot break out of the drawing; every chart carries an
``aria-label`` and each mark a ``<title>`` tooltip with its exact values.  Non-finite values are
left out (an empty cell, a gap in a line), never drawn as NaN.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

LABEL_CHARS = 28
FONT = 'font-family="system-ui,sans-serif" font-size="11"'
PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2",
           "#7f7f7f")


def _e(text: object) -> str:
    return escape(str(text), quote=True)


def _short(label: object, width: int = LABEL_CHARS) -> str:
    text = str(label)
    return text if len(text) <= width else text[: width - 1] + "…"


def _finite(x: float | None) -> bool:
    return x is not None and math.isfinite(float(x))


def _fmt(x: float | None, digits: int = 3) -> str:
    return "—" if not _finite(x) else f"{float(x):.{digits}g}"


def _svg(width: float, height: float, label: str, body: list[str]) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
            f'viewBox="0 0 {width:.0f} {height:.0f}" role="img" aria-label="{_e(label)}" '
            f'class="chart" {FONT}>' + "".join(body) + "</svg>")


def _ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    """About ``n`` round tick values covering [lo, hi]."""
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        return [lo]
    raw = (hi - lo) / max(n, 1)
    mag = 10 ** math.floor(math.log10(raw))
    step = min((m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw), default=raw)
    first = math.ceil(lo / step - 1e-9) * step
    out, t = [], first
    while t <= hi + 1e-9 * step:
        out.append(round(t, 12))
        t += step
    return out


def _range(values: Sequence[float], pad: float = 0.05) -> tuple[float, float]:
    finite = [float(v) for v in values if _finite(v)]
    if not finite:
        return 0.0, 1.0
    lo, hi = min(finite), max(finite)
    if hi - lo < 1e-12:
        lo, hi = lo - 0.5, hi + 0.5
    span = hi - lo
    return lo - pad * span, hi + pad * span


def _x_axis(x0: float, x1: float, y: float, lo: float, hi: float, label: str,
            grid_top: float | None = None) -> list[str]:
    out = [f'<line x1="{x0:.1f}" y1="{y:.1f}" x2="{x1:.1f}" y2="{y:.1f}" stroke="#444"/>']
    for t in _ticks(lo, hi):
        x = x0 + (t - lo) / (hi - lo) * (x1 - x0)
        if grid_top is not None:
            out.append(f'<line x1="{x:.1f}" y1="{grid_top:.1f}" x2="{x:.1f}" y2="{y:.1f}" '
                       'stroke="#e5e5e5"/>')
        out.append(f'<text x="{x:.1f}" y="{y + 14:.1f}" text-anchor="middle">{t:g}</text>')
    out.append(f'<text x="{(x0 + x1) / 2:.1f}" y="{y + 30:.1f}" text-anchor="middle">'
               f"{_e(label)}</text>")
    return out


def interval_svg(labels: Sequence[object], values: Sequence[float],
                 low: Sequence[float | None] | None = None,
                 high: Sequence[float | None] | None = None, *, xlabel: str = "",
                 title: str = "", ref: float | None = None, xlim: tuple[float, float] | None = None,
                 width: int = 640) -> str:
    """Dot-and-whisker plot, one row per label, first label at the top (e.g. ratings with
    intervals, best first).  ``ref``: a dashed vertical reference line."""
    n = len(labels)
    low = list(low) if low is not None else [None] * n
    high = list(high) if high is not None else [None] * n
    left = 12 + 6.2 * min(LABEL_CHARS, max((len(str(x)) for x in labels), default=4))
    row, top = 18, 28 if title else 10
    height = top + row * n + 44
    lo, hi = xlim or _range([*values, *[v for v in low if v is not None],
                             *[v for v in high if v is not None]]
                            + ([ref] if ref is not None else []))
    x0, x1 = left, width - 16

    def X(v: float) -> float:
        return x0 + (float(v) - lo) / (hi - lo) * (x1 - x0)

    body = []
    if title:
        body.append(f'<text x="{width / 2:.0f}" y="16" text-anchor="middle" font-weight="bold">'
                    f"{_e(title)}</text>")
    axis_y = top + row * n + 4
    body += _x_axis(x0, x1, axis_y, lo, hi, xlabel, grid_top=top)
    if ref is not None and lo <= ref <= hi:
        body.append(f'<line x1="{X(ref):.1f}" y1="{top}" x2="{X(ref):.1f}" y2="{axis_y:.1f}" '
                    'stroke="#888" stroke-dasharray="4 3"/>')
    for k, (name, v) in enumerate(zip(labels, values, strict=True)):
        y = top + row * k + row / 2
        body.append(f'<text x="{x0 - 6:.1f}" y="{y + 4:.1f}" text-anchor="end">'
                    f"<title>{_e(name)}</title>{_e(_short(name))}</text>")
        if not _finite(v):
            continue
        tip = f"{name}: {_fmt(v, 4)}"
        if _finite(low[k]) and _finite(high[k]):
            tip += f" [{_fmt(low[k], 4)}, {_fmt(high[k], 4)}]"
            body.append(f'<line x1="{X(low[k]):.1f}" y1="{y:.1f}" x2="{X(high[k]):.1f}" '
                        f'y2="{y:.1f}" stroke="{PALETTE[0]}" stroke-width="2"/>')
        body.append(f'<circle cx="{X(v):.1f}" cy="{y:.1f}" r="4" fill="{PALETTE[0]}">'
                    f"<title>{_e(tip)}</title></circle>")
    return _svg(width, height, title or xlabel or "interval plot", body)


def _diverging(t: float) -> str:
    """Blue (0) – white (½) – red (1)."""
    t = min(max(t, 0.0), 1.0)
    if t < 0.5:
        s = t / 0.5
        r, g, b = 33 + s * (247 - 33), 102 + s * (247 - 102), 172 + s * (247 - 172)
    else:
        s = (t - 0.5) / 0.5
        r, g, b = 247 + s * (178 - 247), 247 + s * (24 - 247), 247 + s * (43 - 247)
    return f"rgb({r:.0f},{g:.0f},{b:.0f})"


def _sequential(t: float) -> str:
    """White (0) – dark blue (1)."""
    t = min(max(t, 0.0), 1.0)
    return f"rgb({247 - t * 239:.0f},{251 - t * 203:.0f},{255 - t * 148:.0f})"


def heatmap_svg(matrix: Sequence[Sequence[float | None]], labels: Sequence[object], *,
                title: str = "", diverging: bool = True, vmin: float | None = None,
                vmax: float | None = None, digits: int = 2, cell: int = 28) -> str:
    """Square heat map (row ≻ column), labels on the left and on top; empty cells for missing
    values.  ``diverging``: blue–white–red around the middle of [vmin, vmax] (win fractions),
    else white to blue (counts)."""
    n = len(labels)
    values = [float(v) for r in matrix for v in r if _finite(v)]
    lo = vmin if vmin is not None else (min(values) if values else 0.0)
    hi = vmax if vmax is not None else (max(values) if values else 1.0)
    if hi <= lo:
        hi = lo + 1.0
    margin = 12 + 6.2 * min(LABEL_CHARS, max((len(str(x)) for x in labels), default=4))
    top = margin + (24 if title else 4)
    width, height = margin + cell * n + 12, top + cell * n + 12
    body = []
    if title:
        body.append(f'<text x="{width / 2:.0f}" y="16" text-anchor="middle" font-weight="bold">'
                    f"{_e(title)}</text>")
    for k, name in enumerate(labels):
        y = top + cell * k + cell / 2 + 4
        x = margin + cell * k + cell / 2 + 4
        body.append(f'<text x="{margin - 6:.1f}" y="{y:.1f}" text-anchor="end">'
                    f"<title>{_e(name)}</title>{_e(_short(name))}</text>")
        body.append(f'<text x="{x:.1f}" y="{top - 6:.1f}" text-anchor="start" '
                    f'transform="rotate(-60 {x:.1f} {top - 6:.1f})">'
                    f"<title>{_e(name)}</title>{_e(_short(name))}</text>")
    small = 'font-size="9"' if cell < 30 else ""
    for i, row in enumerate(matrix):
        for j, v in enumerate(row):
            if not _finite(v):
                continue
            t = (float(v) - lo) / (hi - lo)
            fill = _diverging(t) if diverging else _sequential(t)
            x, y = margin + cell * j, top + cell * i
            tip = f"{labels[i]} vs {labels[j]}: {_fmt(v, 4)}"
            body.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{cell}" height="{cell}" '
                        f'fill="{fill}" stroke="#fff"><title>{_e(tip)}</title></rect>')
            if n <= 20:
                dark = (t > 0.8 or t < 0.2) if diverging else (t > 0.5)
                ink = "#fff" if dark else "#222"
                text = f"{float(v):.{digits}f}" if digits else f"{float(v):.0f}"
                body.append(f'<text x="{x + cell / 2:.1f}" y="{y + cell / 2 + 3:.1f}" '
                            f'text-anchor="middle" fill="{ink}" {small}>{text}</text>')
    return _svg(width, height, title or "heat map", body)


def line_svg(x: Sequence[float], series: dict[str, Sequence[float | None]], *,
             xlabel: str = "", ylabel: str = "", title: str = "", width: int = 640,
             height: int = 260) -> str:
    """Lines of ``series`` (name → values aligned with ``x``), with a legend; gaps at
    non-finite values."""
    left, right, top, bottom = 56, 16, 28 if title else 12, 44
    xs = [float(v) for v in x]
    lo_x, hi_x = _range(xs, 0.0)
    lo_y, hi_y = _range([v for s in series.values() for v in s if v is not None])
    x0, x1, y0, y1 = left, width - right, height - bottom, top

    def X(v: float) -> float:
        return x0 + (v - lo_x) / (hi_x - lo_x) * (x1 - x0)

    def Y(v: float) -> float:
        return y0 + (v - lo_y) / (hi_y - lo_y) * (y1 - y0)

    body = []
    if title:
        body.append(f'<text x="{width / 2:.0f}" y="16" text-anchor="middle" font-weight="bold">'
                    f"{_e(title)}</text>")
    body += _x_axis(x0, x1, y0, lo_x, hi_x, xlabel)
    body.append(f'<line x1="{x0}" y1="{y0}" x2="{x0}" y2="{y1}" stroke="#444"/>')
    for t in _ticks(lo_y, hi_y):
        body.append(f'<line x1="{x0}" y1="{Y(t):.1f}" x2="{x1}" y2="{Y(t):.1f}" '
                    'stroke="#eee"/>')
        body.append(f'<text x="{x0 - 4}" y="{Y(t) + 4:.1f}" text-anchor="end">{t:g}</text>')
    body.append(f'<text x="12" y="{(y0 + y1) / 2:.1f}" text-anchor="middle" '
                f'transform="rotate(-90 12 {(y0 + y1) / 2:.1f})">{_e(ylabel)}</text>')
    for k, (name, ys) in enumerate(series.items()):
        color = PALETTE[k % len(PALETTE)]
        parts: list[list[str]] = [[]]
        for xv, yv in zip(xs, ys, strict=True):
            if _finite(yv):
                parts[-1].append(f"{X(xv):.1f},{Y(float(yv)):.1f}")
            elif parts[-1]:
                parts.append([])
        for pts in parts:
            if len(pts) == 1:
                cx, cy = pts[0].split(",")
                body.append(f'<circle cx="{cx}" cy="{cy}" r="2.5" fill="{color}"/>')
            elif pts:
                body.append(f'<polyline points="{" ".join(pts)}" fill="none" stroke="{color}" '
                            f'stroke-width="1.6"><title>{_e(name)}</title></polyline>')
        body.append(f'<rect x="{x1 - 150}" y="{y1 + 4 + 14 * k}" width="10" height="10" '
                    f'fill="{color}"/><text x="{x1 - 136}" y="{y1 + 13 + 14 * k}">'
                    f"{_e(_short(name, 22))}</text>")
    return _svg(width, height, title or ylabel or "line plot", body)


def bars_svg(labels: Sequence[object], values: Sequence[float], *, xlabel: str = "",
             title: str = "", xlim: tuple[float, float] | None = None, width: int = 640) -> str:
    """Horizontal bars, one per label, first at the top."""
    n = len(labels)
    left = 12 + 6.2 * min(LABEL_CHARS, max((len(str(x)) for x in labels), default=4))
    row, top = 20, 28 if title else 10
    height = top + row * n + 44
    lo, hi = xlim or (min(0.0, *[float(v) for v in values if _finite(v)] or [0.0]),
                      max([float(v) for v in values if _finite(v)] or [1.0]) * 1.05 or 1.0)
    x0, x1 = left, width - 16

    def X(v: float) -> float:
        return x0 + (float(v) - lo) / (hi - lo) * (x1 - x0)

    body = []
    if title:
        body.append(f'<text x="{width / 2:.0f}" y="16" text-anchor="middle" font-weight="bold">'
                    f"{_e(title)}</text>")
    body += _x_axis(x0, x1, top + row * n + 4, lo, hi, xlabel, grid_top=top)
    for k, (name, v) in enumerate(zip(labels, values, strict=True)):
        y = top + row * k
        body.append(f'<text x="{x0 - 6:.1f}" y="{y + row / 2 + 4:.1f}" text-anchor="end">'
                    f"<title>{_e(name)}</title>{_e(_short(name))}</text>")
        if _finite(v):
            a, b = sorted((X(max(lo, 0.0)), X(v)))
            body.append(f'<rect x="{a:.1f}" y="{y + 3}" width="{max(b - a, 1):.1f}" '
                        f'height="{row - 6}" fill="{PALETTE[0]}"><title>{_e(name)}: '
                        f"{_fmt(v, 4)}</title></rect>")
    return _svg(width, height, title or xlabel or "bar chart", body)


def reliability_svg(mean_predicted: Sequence[float | None], observed: Sequence[float | None],
                    counts: Sequence[float], *, title: str = "reliability diagram",
                    size: int = 320) -> str:
    """Observed frequency against mean prediction per bin (dot area ∝ the bin's weight), with
    the diagonal of perfect calibration."""
    pad = 44
    x0, x1, y0, y1 = pad, size - 12, size - pad + (24 if title else 0), 28 if title else 10
    height = y0 + 40

    def X(v: float) -> float:
        return x0 + float(v) * (x1 - x0)

    def Y(v: float) -> float:
        return y0 + float(v) * (y1 - y0)

    body = []
    if title:
        body.append(f'<text x="{size / 2:.0f}" y="16" text-anchor="middle" font-weight="bold">'
                    f"{_e(title)}</text>")
    body += _x_axis(x0, x1, y0, 0.0, 1.0, "mean predicted P(a ≻ b)")
    body.append(f'<line x1="{x0}" y1="{y0}" x2="{x0}" y2="{y1}" stroke="#444"/>')
    for t in (0.0, 0.25, 0.5, 0.75, 1.0):
        body.append(f'<text x="{x0 - 4}" y="{Y(t) + 4:.1f}" text-anchor="end">{t:g}</text>')
    body.append(f'<text x="12" y="{(y0 + y1) / 2:.1f}" text-anchor="middle" '
                f'transform="rotate(-90 12 {(y0 + y1) / 2:.1f})">observed frequency</text>')
    body.append(f'<line x1="{X(0):.1f}" y1="{Y(0):.1f}" x2="{X(1):.1f}" y2="{Y(1):.1f}" '
                'stroke="#888" stroke-dasharray="4 3"/>')
    total = max(sum(float(c) for c in counts), 1e-12)
    pts = []
    for m, o, c in zip(mean_predicted, observed, counts, strict=True):
        if not (_finite(m) and _finite(o)) or float(c) <= 0:
            continue
        r = 2.5 + 9 * math.sqrt(float(c) / total)
        pts.append(f"{X(m):.1f},{Y(o):.1f}")
        body.append(f'<circle cx="{X(m):.1f}" cy="{Y(o):.1f}" r="{r:.1f}" fill="{PALETTE[0]}" '
                    f'fill-opacity="0.7"><title>predicted {_fmt(m)}, observed {_fmt(o)}, '
                    f"weight {_fmt(c, 5)}</title></circle>")
    if len(pts) > 1:
        body.append(f'<polyline points="{" ".join(pts)}" fill="none" stroke="{PALETTE[0]}"/>')
    return _svg(size, height, title, body)
