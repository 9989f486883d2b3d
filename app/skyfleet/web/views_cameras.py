"""Cameras: the list, and each camera's own page (latest image, recent nights)."""
from __future__ import annotations

import datetime as dt

from flask import render_template

from ..extensions import db
from . import queries
from .access import can_see_hidden
from .blueprint import bp
from .params import camera_or_404

RECENT_DAYS = 14


@bp.route("/cameras")
def cameras():
    rows = []
    for cam in queries.cameras(db.session, can_see_hidden()):
        first, last = queries.day_date_range(db.session, cam.id)
        rows.append((cam, queries.latest(db.session, cam.id), first, last))
    return render_template("cameras.html", rows=rows)


@bp.route("/camera/<int:camera_id>")
def camera(camera_id: int):
    cam = camera_or_404(camera_id)
    first, last = queries.day_date_range(db.session, cam.id)
    recent = []
    if last is not None:
        recent = queries.nights(db.session, cam.id, last - dt.timedelta(days=RECENT_DAYS), last + dt.timedelta(days=1))
    return render_template("camera.html", cam=cam, latest=queries.latest(db.session, cam.id), first=first,
                           last=last, recent=recent)
