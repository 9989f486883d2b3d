"""Who may see what: viewing pages and media follow `[web] public`; admin pages need an admin.

Each blueprint calls one of these from its before_request, so the rule for a page is visible where
the page is registered.  The SyncAPI never comes here: it has its own HMAC authentication.
"""
from __future__ import annotations

from flask import abort, jsonify, redirect, request, url_for
from flask_login import current_user

from ..extensions import app_settings, login_manager


def public() -> bool:
    return app_settings().web.public


def revalidated_by_viewers(response):
    """Cache-Control of an answer that changes under the same URL (the newest image, a cached picture):
    every cache asks again each time; shared caches may keep it only on a public site."""
    response.cache_control.max_age = None
    response.cache_control.no_cache = True
    response.cache_control.public = public()
    response.cache_control.private = None if public() else True
    return response


def wants_json() -> bool:
    return request.path.startswith("/api/")


def require_viewer():
    """Pages and their JSON: open when `[web] public`, otherwise for logged-in users only."""
    if public() or current_user.is_authenticated:
        return None
    return login_manager.unauthorized()


def require_media_viewer():
    """Media files: an <img> or <video> cannot follow a login redirect, so a plain 401."""
    if public() or current_user.is_authenticated:
        return None
    return "login required\n", 401, {"Content-Type": "text/plain; charset=utf-8", "Cache-Control": "no-store"}


def require_admin():
    if not current_user.is_authenticated:
        return login_manager.unauthorized()
    if not current_user.is_admin:
        abort(403)
    return None


def unauthorized_response():
    """What an anonymous request to a protected page gets: 401 JSON for the API, else the login page."""
    if wants_json():
        return jsonify(error="login_required", message="log in to see this"), 401
    target = request.full_path if request.query_string else request.path
    return redirect(url_for("auth.login", next=target))


def can_see_hidden() -> bool:
    return bool(current_user.is_authenticated and current_user.is_admin)
