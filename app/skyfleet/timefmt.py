"""Formatting of camera-local times."""
from __future__ import annotations

import datetime as dt
from typing import Optional


def utc_offset_label(seconds: int) -> str:
    """-18000 -> '-05:00', 19800 -> '+05:30', -16200 -> '-04:30'."""
    sign = "-" if seconds < 0 else "+"
    minutes = abs(int(seconds)) // 60
    return f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"


def local_time_label(local: Optional[dt.datetime], offset_seconds: Optional[int]) -> str:
    """The camera's wall time with its offset: '2025-01-01 03:30:00 UTC+01:00' ('' without a time)."""
    if local is None:
        return ""
    return f"{local:%Y-%m-%d %H:%M:%S} UTC{utc_offset_label(offset_seconds or 0)}"


def age_label(then_utc: Optional[dt.datetime], now_utc: dt.datetime) -> str:
    """How long ago a naive-UTC time was: 'just now', '42 s ago', '5 min ago', '3 h ago', '2 d ago'."""
    if then_utc is None:
        return "never"
    seconds = int((now_utc - then_utc).total_seconds())
    if seconds < 0:
        return "in the future"
    if seconds < 5:
        return "just now"
    if seconds < 60:
        return f"{seconds} s ago"
    if seconds < 3600:
        return f"{seconds // 60} min ago"
    if seconds < 86400:
        return f"{seconds // 3600} h ago"
    return f"{seconds // 86400} d ago"
