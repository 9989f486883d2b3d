"""Serving stored media under the URL the SyncAPI returns (images/<path>, below /indi-allsky/).

Uploads come from key holders, not from the site, and are served from the site's own origin: each
file goes out with the fixed type of its extension (`core.media_types`, never guessed), `nosniff`
and a sandboxing CSP, so even an image that also parses as HTML cannot run script here.  A file an
older release stored under another extension is only offered as a download.  From an object store
they come the same way, or by a redirect to the store (web/stored_media.py).
"""
from __future__ import annotations

import posixpath

from flask import Blueprint, abort

from ..core import media_types
from ..core.errors import StorageUnavailable
from .access import public, require_media_viewer
from .security import CONTENT_SECURITY_POLICY
from .stored_media import send_stored, unavailable

bp = Blueprint("media", __name__)
bp.before_request(require_media_viewer)  # `[web] public = false`: media need a login too
bp.register_error_handler(StorageUnavailable, unavailable)

# The site's policy plus `sandbox`: a media file opened as a page gets an opaque origin and runs no script.
MAX_AGE = 3600
MEDIA_HEADERS = {"X-Content-Type-Options": "nosniff", "Content-Security-Policy": f"{CONTENT_SECURITY_POLICY}; sandbox"}


@bp.route("/images/<path:relpath>")
def media(relpath: str):
    if any(part.startswith(".") for part in relpath.split("/")):
        abort(404)  # never the staging folder or other hidden files
    mimetype = media_types.served_type(relpath)
    cache = f"{'public' if public() else 'private'}, max-age={MAX_AGE}"
    if mimetype is not None:
        response = send_stored(relpath, mimetype=mimetype, max_age=MAX_AGE, store_cache_control=cache)
    else:
        response = send_stored(relpath, mimetype=media_types.DOWNLOAD_TYPE, download_name=posixpath.basename(relpath),
                               max_age=MAX_AGE, store_cache_control=cache)
    response.headers.update(MEDIA_HEADERS)  # before security.add_security_headers, which only sets defaults
    if not public():  # behind a login: no shared cache may keep a copy
        response.cache_control.public = False
        response.cache_control.private = True
    return response
