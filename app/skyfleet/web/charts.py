"""A night's measurements as inline SVG line charts, drawn on the server (no JS chart library).

Only attributes and classes: colours come from the stylesheet, so the pages keep a strict CSP.
"""
from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from statistics import median
from typing import Iterable, Optional, Sequence

from markupsafe import Markup, escape

from .queries import CHART_COLUMNS

WIDTH, HEIGHT = 720, 210
LEFT, RIGHT, TOP, BOTTOM = 58, 14, 12, 30
MAX_POINTS = 720  # a path point per screen pixel is plenty; more only costs bytes
_MINUTE_STEPS = (5, 10, 15, 30, 60, 120, 180, 240, 360, 720, 1440)


@dataclass
class Chart:
    key: str
    title: str
    unit: str
    svg: Markup
    count: int
    low: float
    high: float
    last: float


def clean(points: Iterable) -> list:
    """(time, float) for the points with a time and a finite number, in time order."""
    out = []
    for t, v in points:
        if t is None or v is None or isinstance(v, bool):
            continue
        try:
            f = float(v)
        except (TypeError, ValueError):
            continue
        if math.isfinite(f):
            out.append((t, f))
    out.sort(key=lambda p: p[0])  # linear for rows that come sorted from the query
    return out


def nice_step(span: float, target: int = 5) -> float:
    """A 1-2-5 step that cuts `span` into about `target` parts."""
    if span <= 0:
        return 1.0
    raw = span / target
    mag = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 5, 10):
        if raw <= m * mag:
            return m * mag
    return 10 * mag


def linear_ticks(low: float, high: float, target: int = 5) -> tuple:
    """(axis low, axis high, ticks) with round tick values that enclose [low, high]."""
    if high - low < 1e-12:
        pad = abs(low) * 0.1 or 1.0
        low, high = low - pad, high + pad
    step = nice_step(high - low, target)
    lo = math.floor(low / step + 1e-9) * step
    hi = math.ceil(high / step - 1e-9) * step
    n = int(round((hi - lo) / step))
    return lo, hi, [lo + i * step for i in range(n + 1)]


def log_ticks(low: float, high: float) -> tuple:
    """(log10 low, log10 high, tick values) for positive data spanning decades."""
    lo, hi = math.floor(math.log10(low)), math.ceil(math.log10(high))
    if hi == lo:
        hi += 1
    ticks = [10.0 ** e for e in range(lo, hi + 1)]
    return float(lo), float(hi), ticks


def fmt(value: float) -> str:
    if value == 0:
        return "0"
    if abs(value) < 1e7 and value == int(value):
        return str(int(value))
    if abs(value) >= 1e5 or abs(value) < 0.01:
        return f"{value:.3g}"
    return f"{value:.4g}"


def _time_step(span_minutes: float) -> int:
    for step in _MINUTE_STEPS:
        if span_minutes / step <= 8:
            return step
    return _MINUTE_STEPS[-1]


def _downsample(xs: list, ys: list) -> tuple:
    """Keep the min and max of each bucket, in time order, so spikes survive."""
    if len(xs) <= MAX_POINTS:
        return xs, ys
    size = math.ceil(len(xs) / (MAX_POINTS // 2))
    ox, oy = [], []
    for i in range(0, len(xs), size):
        bucket = ys[i:i + size]
        lo, hi = bucket.index(min(bucket)), bucket.index(max(bucket))
        for j in ((lo,) if lo == hi else (min(lo, hi), max(lo, hi))):
            ox.append(xs[i + j])
            oy.append(bucket[j])
    return ox, oy


def line_chart(points: Sequence[tuple], title: str, unit: str = "", log: Optional[bool] = None) -> Optional[Markup]:
    """An SVG of (local datetime, value) points; None when no value is usable.

    `log=None` picks a log axis for positive data spanning more than two decades (exposure day and night).
    """
    return draw(clean(points), title, unit, log)


def draw(pts: list, title: str, unit: str = "", log: Optional[bool] = None) -> Optional[Markup]:
    """line_chart() for points already through clean()."""
    if not pts:
        return None
    values = [v for _, v in pts]
    vmin, vmax = min(values), max(values)
    if log is None:
        log = vmin > 0 and vmax / vmin > 100
    if log and vmin <= 0:
        log = False
    if log:
        ylo, yhi, ticks = log_ticks(vmin, vmax)
        ys = [math.log10(v) for v in values]
    else:
        ylo, yhi, ticks = linear_ticks(vmin, vmax)
        ys = values
    t0, t1 = pts[0][0], pts[-1][0]
    if t1 <= t0:
        t0, t1 = t0 - dt.timedelta(minutes=5), t1 + dt.timedelta(minutes=5)
    span = (t1 - t0).total_seconds()
    xs = [(t - t0).total_seconds() for t, _ in pts]
    pw, ph = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    xk, yk = pw / span, ph / (yhi - ylo)

    def y_of(v: float) -> float:
        return TOP + ph - ((math.log10(v) if log else v) - ylo) * yk

    parts = [f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(title)}">',
             f"<title>{escape(title)}</title>",
             f'<rect class="plot" x="{LEFT}" y="{TOP}" width="{pw}" height="{ph}"/>']
    for tv in ticks:
        yy = y_of(tv)
        parts.append(f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{yy:.1f}" y2="{yy:.1f}"/>')
        parts.append(f'<text class="tick" x="{LEFT - 6}" y="{yy + 4:.1f}" text-anchor="end">{escape(fmt(tv))}</text>')
    step = _time_step(span / 60)
    tick = t0.replace(second=0, microsecond=0)
    tick -= dt.timedelta(minutes=(tick.hour * 60 + tick.minute) % step)
    while tick <= t1:
        if tick >= t0:
            xx = LEFT + (tick - t0).total_seconds() * xk
            parts.append(f'<line class="grid" x1="{xx:.1f}" x2="{xx:.1f}" y1="{TOP}" y2="{TOP + ph}"/>')
            parts.append(f'<text class="tick" x="{xx:.1f}" y="{HEIGHT - 10}" text-anchor="middle">'
                         f"{tick:%H:%M}</text>")
        tick += dt.timedelta(minutes=step)
    if unit:
        parts.append(f'<text class="unit" x="4" y="{TOP + 10}">{escape(unit)}</text>')
    gaps = [b - a for a, b in zip(xs, xs[1:])]
    gap_limit = max(5 * median(gaps), 600) if gaps else 0
    dxs, dys = _downsample(xs, ys)
    d, prev = [], None
    base = TOP + ph + ylo * yk
    for x, v in zip(dxs, dys):
        cmd = "M" if prev is None or x - prev > gap_limit else "L"
        d.append(f"{cmd}{LEFT + x * xk:.1f},{base - v * yk:.1f}")
        prev = x
    parts.append(f'<path class="series" d="{" ".join(d)}"/>')
    if len(dxs) < 60:
        parts.extend(f'<circle class="point" cx="{LEFT + x * xk:.1f}" cy="{base - v * yk:.1f}" r="2.5"/>'
                     for x, v in zip(dxs, dys))
    parts.append("</svg>")
    return Markup("".join(parts))


# Context series, drawn only when they change during the night.
OPTIONAL = ("gain", "moonphase", "detections")

SERIES = (
    # key, title, unit, log axis
    ("exposure", "Exposure", "s", None),
    ("adu", "ADU (mean brightness)", "", False),
    ("temp", "Sensor temperature", "°C", False),
    ("stars", "Stars detected", "", False),
    ("sqm", "Sky brightness (pseudo-SQM)", "", False),
    ("gain", "Gain", "", False),
    ("moonphase", "Moon illumination", "%", False),
    ("detections", "Line detections (meteors, satellites)", "", False),
)


def night_charts(rows: Sequence) -> list:
    """Charts for the series that have data, from queries.chart_rows() rows (time first, then CHART_COLUMNS)."""
    if not rows:
        return []
    columns = list(zip(*rows))  # one pass in C instead of an attribute lookup per row and series
    times = columns[0]
    charts = []
    for key, title, unit, log in SERIES:
        pts = clean(zip(times, columns[2 + CHART_COLUMNS.index(key)]))
        if key in OPTIONAL and len({v for _, v in pts}) < 2:
            continue
        svg = draw(pts, title, unit, log=log)
        if svg is None:
            continue
        values = [v for _, v in pts]
        charts.append(Chart(key, title, unit, svg, len(values), min(values), max(values), values[-1]))
    return charts
