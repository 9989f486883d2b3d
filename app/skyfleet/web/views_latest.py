"""Stable "latest" URLs to embed: /latest/<camera>/<kind>[/tonight] answers the newest file itself.

Club sites, displays and apps poll one URL that never changes (indi-allsky's /latestimage, AllSky's
image.jpg).  The answer is the stored file with its fixed type and the media headers, `Cache-Control:
no-cache`, and the file's ETag and Last-Modified, so a poller sending If-None-Match gets a 304 until a
newer file exists.  /api/latest/... answers the same choice as JSON.  Both follow `[web] public`; the
file answers a plain 401 without a login (an <img> cannot follow a redirect).  A public site lets other
sites' scripts read both (CORS, without credentials).
"""
from __future__ import annotations

from typing import Optional

from flask import Blueprint, abort, jsonify, url_for

from ..core import media_types
from ..core.errors import StorageUnavailable
from ..extensions import db
from ..models import utcnow
from . import latest
from .access import can_see_hidden, public, require_media_viewer, require_viewer, revalidated_by_viewers, wants_json
from .media import MEDIA_HEADERS
from .present import media_file_url
from .stored_media import send_stored, unavailable

bp = Blueprint("latest", __name__)
bp.register_error_handler(StorageUnavailable, unavailable)


@bp.before_request
def _require_viewer():
    return require_viewer() if wants_json() else require_media_viewer()


def _not_found(message: str):
    if wants_json():
        return jsonify(error="not_found", message=message), 404, {"Cache-Control": "no-cache"}
    return message + "\n", 404, {"Content-Type": "text/plain; charset=utf-8", "Cache-Control": "no-cache"}


def _choose(camera_ref: str, kind: str, only_tonight: bool):
    """(camera, night date or None, Choice) or a 404 response."""
    if kind not in latest.KINDS:
        return None, None, _not_found(f"no such kind {kind!r}: one of {', '.join(latest.KINDS)}")
    cam = latest.find_camera(db.session, camera_ref, can_see_hidden())
    if cam is None:
        return None, None, _not_found(f"no camera named or numbered {camera_ref!r}")
    night_of = latest.tonight(utcnow(), cam.utc_offset or 0) if only_tonight else None
    choice = latest.newest(db.session, cam, kind, night_of)
    if choice is None:
        when = f" for the night of {night_of.isoformat()}" if night_of else ""
        return cam, night_of, _not_found(f"camera {cam.name!r} has no {kind}{when} yet")
    return cam, night_of, choice


def _send(choice: latest.Choice):
    mimetype = media_types.served_type(choice.filename)
    if mimetype is None:  # a file an older release stored under another extension: not to embed
        abort(404)
    response = send_stored(choice.filename, mimetype=mimetype, store_cache_control="no-cache")
    response.headers.update(MEDIA_HEADERS)
    response.headers["Link"] = f'<{media_file_url(choice.filename)}>; rel="canonical"'
    return _open_to_other_sites(revalidated_by_viewers(response))


def _open_to_other_sites(response):
    """On a public site any page may fetch these (a club site's script, a display); never with credentials."""
    if public():
        response.headers["Access-Control-Allow-Origin"] = "*"
    return response


@bp.route("/latest/<camera_ref>/<kind>", defaults={"only_tonight": False})
@bp.route("/latest/<camera_ref>/<kind>/tonight", defaults={"only_tonight": True})
def latest_file(camera_ref: str, kind: str, only_tonight: bool):
    _, _, choice = _choose(camera_ref, kind, only_tonight)
    return _send(choice) if isinstance(choice, latest.Choice) else choice


@bp.route("/api/latest/<camera_ref>/<kind>", defaults={"only_tonight": False})
@bp.route("/api/latest/<camera_ref>/<kind>/tonight", defaults={"only_tonight": True})
def latest_json(camera_ref: str, kind: str, only_tonight: bool):
    cam, night_of, choice = _choose(camera_ref, kind, only_tonight)
    if not isinstance(choice, latest.Choice):
        return choice
    resp = jsonify(_describe(cam, kind, choice, night_of, only_tonight))
    resp.headers["Cache-Control"] = "no-cache"
    return _open_to_other_sites(resp)


def _describe(cam, kind: str, choice: latest.Choice, night_of: Optional[object], only_tonight: bool) -> dict:
    a = choice.asset
    return {
        "camera": {"id": cam.id, "name": cam.name},
        "kind": kind,
        "tonight": night_of.isoformat() if night_of else None,
        "url": media_file_url(choice.filename),
        "latest_url": url_for("latest.latest_file", camera_ref=str(cam.id), kind=kind, only_tonight=only_tonight),
        "taken_utc": a.create_date_utc.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "day_date": a.day_date.isoformat(),
        "night": bool(a.night),
        "exposure": a.exposure,
        "width": a.width,
        "height": a.height,
        "page": url_for("web.image", camera_id=cam.id, asset_id=a.id) if a.kind == "image" else None,
    }
