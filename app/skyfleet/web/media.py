"""Serving stored media under the URL the SyncAPI returns (images/<path>, below /indi-allsky/)."""
from __future__ import annotations

from flask import Blueprint, abort, send_from_directory

from ..extensions import skyfleet_state
from .access import public, require_media_viewer

bp = Blueprint("media", __name__)
bp.before_request(require_media_viewer)  # `[web] public = false`: media need a login too


@bp.route("/images/<path:relpath>")
def media(relpath: str):
    if any(part.startswith(".") for part in relpath.split("/")):
        abort(404)  # never the staging folder or other hidden files
    storage = skyfleet_state().storage
    response = send_from_directory(storage.root, relpath, conditional=True, max_age=3600)
    if not public():  # behind a login: no shared cache may keep a copy
        response.cache_control.public = False
        response.cache_control.private = True
    return response
