"""How times and values are written on the pages."""
from __future__ import annotations

import datetime as dt

import pytest

from skyfleet.timefmt import age_label, local_time_label
from skyfleet.web import present


def test_local_time_label_has_the_cameras_offset():
    assert local_time_label(dt.datetime(2025, 1, 1, 3, 30), 3600) == "2025-01-01 03:30:00 UTC+01:00"
    assert local_time_label(dt.datetime(2024, 12, 31, 19, 0), -18000) == "2024-12-31 19:00:00 UTC-05:00"
    assert local_time_label(dt.datetime(2025, 6, 1, 23, 59, 59), 19800) == "2025-06-01 23:59:59 UTC+05:30"
    assert local_time_label(None, 0) == ""


@pytest.mark.parametrize("seconds,label", [(0, "just now"), (42, "42 s ago"), (300, "5 min ago"),
                                           (3 * 3600 + 5, "3 h ago"), (2 * 86400, "2 d ago"), (-10, "in the future")])
def test_age_label(seconds, label):
    now = dt.datetime(2025, 1, 1, 12, 0)
    assert age_label(now - dt.timedelta(seconds=seconds), now) == label
    assert age_label(None, now) == "never"


@pytest.mark.parametrize("seconds,label", [(15.0, "15 s"), (2.5, "2.5 s"), (0.25, "250.0 ms"),
                                           (0.0001, "100 µs"), (None, "–")])
def test_exposure(seconds, label):
    assert present.exposure(seconds) == label


def test_file_size():
    assert present.file_size(512) == "512 B"
    assert present.file_size(812345) == "793.3 KB"
    assert present.file_size(3 * 1024**3) == "3.0 GB"
    assert present.file_size(0) == "–"
