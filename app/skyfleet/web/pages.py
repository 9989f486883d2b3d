"""A minimal landing page until the web UI lands: cameras and their latest image."""
from __future__ import annotations

from flask import Blueprint, current_app, render_template
from sqlalchemy import func, select

from ..models import Asset, Camera
from ..syncapi.storage import Storage
from ..timefmt import utc_offset_label
from .extensions import db

bp = Blueprint("pages", __name__)


@bp.route("/")
def index():
    rows = []
    for cam in db.session.scalars(select(Camera).where(Camera.hidden.is_(False)).order_by(Camera.name)):
        latest = db.session.scalar(
            select(Asset).where(Asset.camera_id == cam.id, Asset.kind == "image", Asset.filename.is_not(None))
            .order_by(Asset.create_date_utc.desc()).limit(1))
        count = db.session.scalar(
            select(func.count(Asset.id)).where(Asset.camera_id == cam.id, Asset.kind == "image"))
        rows.append((cam, latest, count))
    base = current_app.extensions["skyfleet"].settings.web.base_path.rstrip("/")
    return render_template("index.html", cameras=rows, base=base, url=Storage.url, offset_label=utc_offset_label)
