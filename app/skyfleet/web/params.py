"""Reading the parts of page URLs: the camera, a night's date and period, cursors."""
from __future__ import annotations

import datetime as dt
from typing import Optional

from flask import abort, request

from ..extensions import db
from ..models import Camera
from . import queries
from .access import can_see_hidden

PERIODS = {"night": True, "day": False}


def camera_or_404(camera_id: int) -> Camera:
    cam = queries.camera(db.session, camera_id, include_hidden=can_see_hidden())
    if cam is None:
        abort(404)
    return cam


def day_or_404(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        abort(404)


def night_or_404(period: str) -> bool:
    if period not in PERIODS:
        abort(404)
    return PERIODS[period]


def int_arg(name: str) -> Optional[int]:
    value = request.args.get(name, "")
    return int(value) if value.isdigit() and len(value) < 19 else None


def month_arg(default: dt.date) -> dt.date:
    """?month=YYYY-MM as the first day of that month (the default's month when absent or invalid)."""
    try:
        year, month = (int(p) for p in request.args.get("month", "").split("-"))
        return dt.date(year, month, 1)
    except ValueError:
        return default.replace(day=1)


def add_months(month: dt.date, n: int) -> dt.date:
    """The first day of the month `n` months after `month`'s."""
    index = month.year * 12 + month.month - 1 + n
    return dt.date(index // 12, index % 12 + 1, 1)
