"""Now: the latest image of every camera, kept fresh by static/js/now.js polling /api/now."""
from __future__ import annotations

from flask import jsonify, render_template, request, url_for

from ..extensions import app_settings, db
from ..models import utcnow
from . import host_status, queries
from .access import can_see_hidden
from .blueprint import bp
from .present import image_json

DEFAULT_REFRESH_SECONDS = 15


def _refresh_seconds() -> int:
    value = request.args.get("refresh", type=int) or DEFAULT_REFRESH_SECONDS
    return min(max(value, 2), 600)


def _host_status():
    settings = app_settings()
    if not host_status.is_camera_host(settings):
        return None
    cams = queries.cameras(db.session, include_hidden=True)
    return {"capture": host_status.capture_states(db.session, cams),
            "service": host_status.capture_service_state(settings),
            "upload": host_status.upload_state(db.session, settings)}


@bp.route("/")
def now():
    cards = [(cam, queries.latest(db.session, cam.id)) for cam in queries.cameras(db.session, can_see_hidden())]
    return render_template("now.html", cards=cards, refresh=_refresh_seconds(), host_status=_host_status())


@bp.route("/api/now")
def now_json():
    cams = queries.cameras(db.session, can_see_hidden())
    payload = [{"id": cam.id, "name": cam.name, "page": url_for("web.camera", camera_id=cam.id),
                "image": image_json(queries.latest(db.session, cam.id))} for cam in cams]
    resp = jsonify(cameras=payload, generated=utcnow().strftime("%Y-%m-%dT%H:%M:%SZ"))
    resp.headers["Cache-Control"] = "no-store"
    return resp
