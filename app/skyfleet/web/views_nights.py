"""Nights: a calendar of a camera's nights, and one night's page (products and a paged thumbnail grid)."""
from __future__ import annotations

import calendar
import datetime as dt

from flask import abort, render_template, request

from ..extensions import db
from . import queries
from .blueprint import bp
from .params import add_months, camera_or_404, day_or_404, int_arg, month_arg, night_or_404


@bp.route("/camera/<int:camera_id>/nights")
def nights(camera_id: int):
    cam = camera_or_404(camera_id)
    first, last = queries.day_date_range(db.session, cam.id)
    if last is None:
        return render_template("nights.html", cam=cam, month=None, weeks=[], summaries=[])
    month = month_arg(last)
    following = add_months(month, 1)
    summaries = queries.nights(db.session, cam.id, month, following)
    by_day: dict = {}
    for s in summaries:
        by_day.setdefault(s.day, {})["night" if s.night else "day"] = s
    weeks = calendar.Calendar(firstweekday=0).monthdatescalendar(month.year, month.month)
    return render_template(
        "nights.html", cam=cam, month=month, weeks=weeks, by_day=by_day, summaries=summaries,
        prev_month=add_months(month, -1) if month > first.replace(day=1) else None,
        next_month=following if following <= last else None,
        months=_month_list(first, last))


def _month_list(first: dt.date, last: dt.date) -> list:
    out, month = [], last.replace(day=1)
    while month >= first.replace(day=1) and len(out) < 120:
        out.append(month)
        month = add_months(month, -1)
    return out


@bp.route("/camera/<int:camera_id>/<period>/<date>")
def night(camera_id: int, period: str, date: str):
    cam = camera_or_404(camera_id)
    is_night, day = night_or_404(period), day_or_404(date)
    kind = request.args.get("kind", queries.IMAGE)
    if kind not in queries.GRID_KINDS:
        abort(404)
    page = queries.night_page(db.session, cam.id, kind, day, is_night, after=int_arg("after"),
                              before=int_arg("before"), last=request.args.get("last") == "1")
    counts = {k: queries.night_count(db.session, cam.id, k, day, is_night) for k in queries.GRID_KINDS}
    prev_night, next_night = queries.adjacent_nights(db.session, cam.id, day, is_night)
    return render_template(
        "night.html", cam=cam, day=day, is_night=is_night, kind=kind, page=page, counts=counts,
        thumbs=queries.thumbnails(db.session, cam.id, page.items),
        products=queries.products(db.session, cam.id, day, is_night),
        prev_night=prev_night, next_night=next_night)
