"""Observing-time conventions shared with indi-allsky: camera-local time and the night's dayDate."""
from __future__ import annotations

import datetime as dt
from typing import Optional


def local_time(utc: dt.datetime, tz: Optional[dt.tzinfo] = None) -> tuple:
    """(camera-local aware datetime, UTC offset in seconds) of a UTC instant; the host's zone by default."""
    if utc.tzinfo is None:
        utc = utc.replace(tzinfo=dt.timezone.utc)
    local = utc.astimezone(tz) if tz else utc.astimezone()
    return local, int(local.utcoffset().total_seconds())


def day_date(local: dt.datetime, night: bool) -> dt.date:
    """A night belongs to the date it began on: frames after local midnight count for the day before."""
    return (local - dt.timedelta(hours=12)).date() if night else local.date()
