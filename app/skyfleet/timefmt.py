"""Formatting of camera-local times."""
from __future__ import annotations


def utc_offset_label(seconds: int) -> str:
    """-18000 -> '-05:00', 19800 -> '+05:30', -16200 -> '-04:30'."""
    sign = "-" if seconds < 0 else "+"
    minutes = abs(int(seconds)) // 60
    return f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"
