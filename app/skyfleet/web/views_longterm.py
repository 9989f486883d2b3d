"""A camera's long-term keogram: months of nights on one picture, a month or a year at a time."""
from __future__ import annotations

import calendar
import datetime as dt
from pathlib import Path
from typing import Optional

from flask import abort, render_template, request, send_file
from sqlalchemy import func, select

from ..extensions import db, skyfleet_state
from ..models import LongTermKeogram
from . import latest
from . import longterm_picture as picture
from .access import revalidated_by_viewers
from .blueprint import bp
from .params import camera_or_404

RECENT_NIGHTS = 90
YEARS = range(1970, 3000)


def _newest_night(camera_id: int, utc_offset: int) -> Optional[dt.date]:
    ts = db.session.scalar(select(func.max(LongTermKeogram.ts)).where(LongTermKeogram.camera_id == camera_id))
    if ts is None:
        return None
    return latest.tonight(dt.datetime.fromtimestamp(ts, dt.timezone.utc).replace(tzinfo=None), utc_offset)


def _span(newest: dt.date) -> tuple:
    """(Span, what it is called) from ?year=YYYY or ?month=YYYY-MM, else the last RECENT_NIGHTS nights."""
    year, month = request.args.get("year", ""), request.args.get("month", "")
    try:
        if month:
            y, m = (int(p) for p in month.split("-"))
            if y not in YEARS:
                abort(404)
            first = dt.date(y, m, 1)
            return picture.Span(first, calendar.monthrange(y, m)[1]), f"{first:%B %Y}"
        if year:
            if int(year) not in YEARS:
                abort(404)
            first = dt.date(int(year), 1, 1)
            return picture.Span(first, 366 if calendar.isleap(first.year) else 365), str(first.year)
    except ValueError:
        abort(404)
    first = newest - dt.timedelta(days=RECENT_NIGHTS - 1)
    return picture.Span(first, RECENT_NIGHTS), f"the last {RECENT_NIGHTS} nights"


@bp.route("/camera/<int:camera_id>/longterm")
def longterm(camera_id: int):
    cam = camera_or_404(camera_id)
    newest = _newest_night(cam.id, cam.utc_offset or 0)
    if newest is None:
        return render_template("longterm.html", cam=cam, span=None)
    span, title = _span(newest)
    shown = span.first.replace(day=1)
    before = (shown - dt.timedelta(days=1)).replace(day=1)
    after = (span.last + dt.timedelta(days=1)).replace(day=1)
    return render_template(
        "longterm.html", cam=cam, span=span, title=title, newest=newest, query=request.query_string.decode(),
        before=before, after=after if after <= newest else None, year=span.first.year,
        height=picture.BINS * picture.ROW_HEIGHT, width=picture.column_width(span.nights) * span.nights)


@bp.route("/camera/<int:camera_id>/longterm.png")
def longterm_png(camera_id: int):
    cam = camera_or_404(camera_id)
    offset = cam.utc_offset or 0
    newest = _newest_night(cam.id, offset)
    if newest is None:
        abort(404)
    span, _ = _span(newest)
    key = picture.cache_key(db.session, cam.id, span, offset)
    folder = Path(skyfleet_state().settings.data_dir) / "cache" / "longterm"
    path = picture.cached(folder, key, lambda: picture.render(picture.grid(db.session, cam.id, span, offset)))
    response = send_file(path, mimetype="image/png", conditional=True, etag=key)
    return revalidated_by_viewers(response)
