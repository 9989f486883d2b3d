"""The image viewer: one image with its metadata and links to the previous and next of its night."""
from __future__ import annotations

from flask import abort, render_template

from ..extensions import db
from . import queries
from .blueprint import bp
from .params import camera_or_404


@bp.route("/camera/<int:camera_id>/image/<int:asset_id>")
def image(camera_id: int, asset_id: int):
    cam = camera_or_404(camera_id)
    current = queries.asset(db.session, cam.id, asset_id)
    if current is None or current.kind not in queries.GRID_KINDS:
        abort(404)
    prev, nxt = queries.neighbours(db.session, current)
    return render_template(
        "image.html", cam=cam, image=current, prev=prev, next=nxt,
        position=queries.position(db.session, current),
        total=queries.night_count(db.session, cam.id, current.kind, current.day_date, current.night))
