"""Serving stored media under the URL the SyncAPI returns (images/<path>, below /indi-allsky/)."""
from __future__ import annotations

from flask import Blueprint, abort, current_app, send_from_directory

bp = Blueprint("media", __name__)


@bp.route("/images/<path:relpath>")
def media(relpath: str):
    if any(part.startswith(".") for part in relpath.split("/")):
        abort(404)  # never the staging folder or other hidden files
    storage = current_app.extensions["skyfleet"].storage
    return send_from_directory(storage.root, relpath, conditional=True, max_age=3600)
