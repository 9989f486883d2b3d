from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from skyfleet.imaging.overlay import (
    draw_overlay,
    format_exposure,
    format_overlay_lines,
    format_timestamp,
    format_utc_offset,
    layout_text,
)

CET = timezone(timedelta(hours=1))


def test_timestamp_with_utc_offset():
    assert format_timestamp(datetime(2026, 11, 30, 21, 4, 5, tzinfo=CET)) == "2026-11-30 21:04:05 +01:00"
    assert format_utc_offset(timedelta(hours=-3, minutes=-30)) == "-03:30"
    assert format_utc_offset(timedelta(hours=5, minutes=45)) == "+05:45"
    assert format_utc_offset(timedelta(0)) == "+00:00"
    assert format_timestamp(datetime(2026, 1, 2, 3, 4, 5)) == "2026-01-02 03:04:05"


def test_exposure_format():
    assert format_exposure(30) == "30 s"
    assert format_exposure(2.5) == "2.5 s"
    assert format_exposure(0.00025) == "0.25 ms"
    assert format_exposure(0.1) == "0.1 s"


def test_lines_from_metadata():
    when = datetime(2026, 11, 30, 21, 4, 5, tzinfo=CET)
    lines = format_overlay_lines(when, {"exposure": 12.5, "gain": 90, "temperature": -10.25,
                                        "title": "Roof cam", "extra": ["SQM 21.3"]})
    assert lines == ["Roof cam", "2026-11-30 21:04:05 +01:00", "Exposure 12.5 s", "Gain 90",
                     "Sensor -10.2 C", "SQM 21.3"]
    assert format_overlay_lines(when, {"gain": None, "temperature": "n/a"}) == [
        "2026-11-30 21:04:05 +01:00"]
    assert format_overlay_lines(None, {}) == []


@pytest.mark.parametrize("shape", [(480, 640), (1024, 1280, 3), (3008, 3008, 3)])
def test_overlay_changes_pixels_in_text_area_only(shape):
    rng = np.random.default_rng(0)
    img = rng.integers(60, 70, size=shape, dtype=np.uint8)
    before = img.copy()
    lines = ["2026-11-30 21:04:05 +01:00", "Exposure 30 s", "Gain 90", "Sensor -10.0 C"]
    layout = draw_overlay(img, lines)
    assert layout == layout_text(shape, lines)
    x0, y0, x1, y1 = layout.box
    changed = np.any(img != before, axis=2) if img.ndim == 3 else img != before
    ys, xs = np.nonzero(changed)
    assert ys.size > 0.05 * (x1 - x0) * (y1 - y0)            # a real amount of text
    assert ys.min() >= y0 and ys.max() < y1 and xs.min() >= x0 and xs.max() < x1
    assert img.max() == 255 and img.min() == 0                # white text, black outline
    # text scales with the image: the box height grows with the frame height
    assert (y1 - y0) >= shape[0] / 40 * len(lines)


def test_overlay_rejects_16bit():
    with pytest.raises(TypeError):
        draw_overlay(np.zeros((10, 10), np.uint16), ["x"])
