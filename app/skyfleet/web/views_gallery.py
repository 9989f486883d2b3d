"""The loop (a camera's last N images played in the page) and the gallery (a month of nights at a glance)."""
from __future__ import annotations

from flask import jsonify, render_template, request, url_for

from ..extensions import db
from . import gallery, queries
from .blueprint import bp
from .params import add_months, camera_or_404, month_arg
from .present import id_urls, media_file_url

DEFAULT_FPS, MAX_FPS = 5, 30
LOCAL_TIME = "%Y-%m-%d %H:%M:%S"  # the camera's wall time, as the grids show it


def _count() -> int:
    value = request.args.get("n", type=int) or gallery.LOOP_DEFAULT
    return min(max(value, 2), gallery.LOOP_MAX)


def _frames(cam, count: int) -> list:
    rows, thumbs = gallery.loop_frames(db.session, cam.id, count)
    page_url = id_urls("web.image", camera_id=cam.id)
    return [{"id": r.id, "src": media_file_url(thumbs.get(r.thumbnail_uuid) or r.filename),
             "full": media_file_url(r.filename), "time": r.create_date.strftime(LOCAL_TIME), "page": page_url(r.id)}
            for r in rows]


@bp.route("/camera/<int:camera_id>/loop")
def loop(camera_id: int):
    cam = camera_or_404(camera_id)
    count = _count()
    fps = min(max(request.args.get("fps", type=int) or DEFAULT_FPS, 1), MAX_FPS)
    return render_template("loop.html", cam=cam, frames=_frames(cam, count), count=count, fps=fps,
                           api=url_for("web.loop_json", camera_id=cam.id, n=count))


@bp.route("/api/camera/<int:camera_id>/loop")
def loop_json(camera_id: int):
    cam = camera_or_404(camera_id)
    resp = jsonify(frames=_frames(cam, _count()))
    resp.headers["Cache-Control"] = "no-cache"
    return resp


@bp.route("/camera/<int:camera_id>/gallery")
def camera_gallery(camera_id: int):
    cam = camera_or_404(camera_id)
    first, last = queries.day_date_range(db.session, cam.id)
    if last is None:
        return render_template("gallery.html", cam=cam, month=None, nights=[], thumbs={})
    month = month_arg(last)
    following = add_months(month, 1)
    nights, thumbs = gallery.month_nights(db.session, cam.id, cam.utc_offset or 0, month, following)
    return render_template(
        "gallery.html", cam=cam, month=month, nights=nights, thumbs=thumbs,
        prev_month=add_months(month, -1) if month > first.replace(day=1) else None,
        next_month=following if following <= last else None)
