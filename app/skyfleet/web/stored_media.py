"""Answering a stored file with its fixed type, wherever the storage keeps it (web/media.py, the latest URLs).

The storage folder: the file itself (conditional, ranges), as always.  An object store (`[storage] serve`):
- "redirect": a 302 to a presigned GET URL, short-lived, that makes the store answer with the fixed type
  (and as a download where the file is only one), so the bytes never pass through the app; the file then
  comes from the store's origin, without this site's CSP.
- "stream": the app reads the object and streams it with the fixed type and the media headers the caller
  adds; the store's ETag and Last-Modified, If-None-Match/If-Modified-Since (304) and ranges pass through.
The caller's access checks have run before (a private site's media need a login in both modes).
"""
from __future__ import annotations

from dataclasses import replace
from typing import Optional

from flask import Response, abort, current_app, redirect, request, send_from_directory
from werkzeug.http import is_resource_modified

from ..core.errors import InvalidMetadata, StorageUnavailable
from ..extensions import app_settings, skyfleet_state

CHUNK = 256 * 1024


def send_stored(rel: str, *, mimetype: str, download_name: Optional[str] = None, max_age: Optional[int] = None,
                store_cache_control: str = "no-cache") -> Response:
    """`rel` as a response; `store_cache_control` is what a presigned URL's answer says to caches."""
    storage = skyfleet_state().storage
    if storage.root is not None:
        return send_from_directory(storage.root, rel, mimetype=mimetype, as_attachment=download_name is not None,
                                   download_name=download_name, conditional=True, max_age=max_age)
    settings = app_settings().storage
    try:
        if settings.serve == "redirect":
            return _redirect(storage, rel, settings.presign_seconds, mimetype, download_name, max_age,
                             store_cache_control)
        return _stream(storage, rel, mimetype, download_name, max_age)
    except InvalidMetadata:
        abort(404)


def _redirect(storage, rel: str, seconds: int, mimetype: str, download_name: Optional[str],
              max_age: Optional[int], store_cache_control: str) -> Response:
    url = storage.presigned_url(rel, seconds, content_type=mimetype, cache_control=store_cache_control,
                                download_name=download_name)
    response = redirect(url, 302)
    if max_age is not None:  # a cache may keep the redirect only while its URL is still valid
        response.cache_control.max_age = min(max_age, seconds // 2)
    return response


def _stream(storage, rel: str, mimetype: str, download_name: Optional[str], max_age: Optional[int]) -> Response:
    byte_range = request.headers.get("Range") if request.range is not None else None
    if_none_match = request.headers.get("If-None-Match")
    if if_none_match and "W/" in if_none_match:
        if_none_match = None  # the store compares strong ETags only; checked here below instead
    try:
        got = storage.fetch(rel, byte_range=byte_range, if_none_match=if_none_match,
                            if_modified_since=request.if_modified_since)
    except FileNotFoundError:
        abort(404)
    except ValueError:  # object_storage.BadRange
        abort(416)
    if got.body is not None and got.content_range is None and not is_resource_modified(
            request.environ, etag=got.etag, last_modified=got.modified):
        got.body.close()  # the store ignored the condition: answer 304 all the same
        got = replace(got, body=None, size=0)
    if got.body is None:
        response = Response(status=304)
    else:
        response = Response(got.body.iter_chunks(CHUNK), mimetype=mimetype, direct_passthrough=True)
        response.call_on_close(got.body.close)
        response.content_length = got.size
        response.accept_ranges = "bytes"
        if got.content_range:
            response.status_code = 206
            response.headers["Content-Range"] = got.content_range
        if download_name is not None:
            response.headers["Content-Disposition"] = f'attachment; filename="{_ascii(download_name)}"'
    if got.etag:
        response.set_etag(got.etag)
    if got.modified is not None:
        response.last_modified = got.modified
    if max_age is not None:
        response.cache_control.public = True
        response.cache_control.max_age = max_age
    return response


def _ascii(name: str) -> str:
    return "".join(c if 32 <= ord(c) < 127 and c not in '"\\' else "_" for c in name)


def unavailable(exc: StorageUnavailable):
    """The object store is down: a clear 503 (never a 500), retry later."""
    current_app.logger.warning("%s %s: %s", request.method, request.path, exc.log_detail)
    return (exc.message + "\n", 503, {"Content-Type": "text/plain; charset=utf-8", "Cache-Control": "no-store",
                                      **exc.headers})
