"""Serving stored media under the URL the SyncAPI returns (images/<path>, below /indi-allsky/).

Uploads come from key holders, not from the site, and are served from the site's own origin: each
file goes out with the fixed type of its extension (`core.media_types`, never guessed), `nosniff`
and a sandboxing CSP, so even an image that also parses as HTML cannot run script here.  A file an
older release stored under another extension is only offered as a download.
"""
from __future__ import annotations

import posixpath

from flask import Blueprint, abort, send_from_directory

from ..core import media_types
from ..extensions import skyfleet_state
from .access import public, require_media_viewer
from .security import CONTENT_SECURITY_POLICY

bp = Blueprint("media", __name__)
bp.before_request(require_media_viewer)  # `[web] public = false`: media need a login too

# The site's policy plus `sandbox`: a media file opened as a page gets an opaque origin and runs no script.
MEDIA_HEADERS = {"X-Content-Type-Options": "nosniff", "Content-Security-Policy": f"{CONTENT_SECURITY_POLICY}; sandbox"}


@bp.route("/images/<path:relpath>")
def media(relpath: str):
    if any(part.startswith(".") for part in relpath.split("/")):
        abort(404)  # never the staging folder or other hidden files
    storage = skyfleet_state().storage
    mimetype = media_types.served_type(relpath)
    if mimetype is not None:
        response = send_from_directory(storage.root, relpath, mimetype=mimetype, conditional=True, max_age=3600)
    else:
        response = send_from_directory(storage.root, relpath, mimetype=media_types.DOWNLOAD_TYPE,
                                       as_attachment=True, download_name=posixpath.basename(relpath),
                                       conditional=True, max_age=3600)
    response.headers.update(MEDIA_HEADERS)  # before security.add_security_headers, which only sets defaults
    if not public():  # behind a login: no shared cache may keep a copy
        response.cache_control.public = False
        response.cache_control.private = True
    return response
