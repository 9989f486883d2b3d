"""The server-drawn SVG charts."""
from __future__ import annotations

import datetime as dt
import re

from skyfleet.web import charts

T0 = dt.datetime(2024, 12, 31, 18, 0)


def pts(values, step_minutes=1.0):
    return [(T0 + dt.timedelta(minutes=i * step_minutes), v) for i, v in enumerate(values)]


def test_linear_ticks_are_round_and_enclose_the_data():
    lo, hi, ticks = charts.linear_ticks(3.2, 97.5)
    assert lo <= 3.2 and hi >= 97.5 and ticks == [0, 20, 40, 60, 80, 100]
    lo, hi, ticks = charts.linear_ticks(-4.2, -1.1)
    assert ticks[0] <= -4.2 and ticks[-1] >= -1.1 and all(abs(t * 2 - round(t * 2)) < 1e-9 for t in ticks)


def test_flat_series_still_gets_an_axis():
    lo, hi, ticks = charts.linear_ticks(5.0, 5.0)
    assert lo < 5.0 < hi and len(ticks) >= 2


def test_exposure_spanning_day_and_night_gets_a_log_axis():
    svg = charts.line_chart(pts([0.0001, 0.01, 1.0, 15.0, 15.0]), "Exposure", "s")
    labels = re.findall(r'text-anchor="end">([^<]+)<', svg)
    assert "0.0001" in labels or "1e-04" in labels
    assert "10" in labels and "100" in labels


def test_no_usable_value_gives_no_chart():
    assert charts.line_chart(pts([None, float("nan"), float("inf")]), "x") is None
    assert charts.line_chart([], "x") is None


def test_gaps_in_time_break_the_line():
    data = pts([1, 2, 3]) + [(T0 + dt.timedelta(hours=3), 4), (T0 + dt.timedelta(hours=3, minutes=1), 5)]
    d = re.search(r'class="series" d="([^"]+)"', charts.line_chart(data, "x")).group(1)
    assert d.count("M") == 2


def test_long_series_are_thinned_to_the_screen_width():
    data = pts([float(i % 97) for i in range(5000)], step_minutes=0.1)
    d = re.search(r'class="series" d="([^"]+)"', charts.line_chart(data, "x")).group(1)
    assert len(d.split()) <= charts.MAX_POINTS + 2
    assert "circle" not in charts.line_chart(data, "x")


def test_titles_are_escaped():
    svg = charts.line_chart(pts([1, 2]), "<script>alert(1)</script>")
    assert "<script>" not in svg and "&lt;script&gt;" in svg


def test_hour_ticks_are_camera_local_clock_times():
    svg = charts.line_chart(pts(list(range(361))), "ADU")
    labels = re.findall(r'text-anchor="middle">([^<]+)<', svg)
    assert labels[:3] == ["18:00", "19:00", "20:00"]


def test_night_charts_of_no_rows_are_empty():
    assert charts.night_charts([]) == []


def test_night_charts_skip_series_without_values():
    # (create_date, utc_offset, exposure, gain, adu, temp, stars, sqm, moonphase, detections), as
    # queries.chart_rows(): detections that never change (all 0) are not drawn
    rows = [(t, -18000, v, None, v * 2, None, None, None, None, 0) for t, v in pts([1.0, 2.0, 3.0])]
    made = charts.night_charts(rows)
    assert [c.key for c in made] == ["exposure", "adu"]
    assert (made[1].low, made[1].high, made[1].last, made[1].count) == (2.0, 6.0, 6.0, 3)
    with_a_meteor = [row[:-1] + (1 if i == 1 else 0,) for i, row in enumerate(rows)]
    assert [c.key for c in charts.night_charts(with_a_meteor)] == ["exposure", "adu", "detections"]
