"""A night's charts: exposure, ADU, temperature, stars and SQM as server-drawn SVG."""
from __future__ import annotations

from flask import render_template

from ..extensions import db
from . import charts, queries
from .blueprint import bp
from .params import camera_or_404, day_or_404, night_or_404


@bp.route("/camera/<int:camera_id>/<period>/<date>/charts")
def night_charts(camera_id: int, period: str, date: str):
    cam = camera_or_404(camera_id)
    is_night, day = night_or_404(period), day_or_404(date)
    rows = queries.chart_rows(db.session, cam.id, day, is_night)
    return render_template("charts.html", cam=cam, day=day, is_night=is_night, charts=charts.night_charts(rows),
                           count=len(rows), fmt=charts.fmt)
