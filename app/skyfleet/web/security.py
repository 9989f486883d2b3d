"""Security headers on every response; the cookie, CSRF and request-body settings of the pages."""
from __future__ import annotations

from typing import Optional
from urllib.parse import urlsplit

from flask import Flask, abort, flash, jsonify, redirect, render_template, request
from flask_wtf.csrf import CSRFError

from ..extensions import app_settings
from .forms import LoginForm

# No inline script or style anywhere: JS and CSS are static files, charts are SVG with attributes.
CONTENT_SECURITY_POLICY = ("default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'self'; "
                           "frame-ancestors 'none'; form-action 'self'")

HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
}

CSRF_EXPIRED = "The CSRF token has expired."  # Flask-WTF's reason


def add_security_headers(response):
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def error_page(code: int, title: str, message: str):
    return render_template("error.html", code=code, title=title, message=message), code


def is_syncapi(sync_prefix: str) -> bool:
    return request.blueprint == "syncapi" or request.path.startswith(sync_prefix)


def _limit_body(limit: int, sync_prefix: str):
    """Before anything reads the body (Flask-WTF's CSRF check parses the form): a body over `limit`
    outside the SyncAPI is refused with 413 unread, and a body without Content-Length (chunked) is
    cut at the limit. The SyncAPI keeps its own limits ([syncapi] max_upload_mb)."""

    def limit_body():
        if is_syncapi(sync_prefix):
            return None
        request.max_content_length = limit  # Flask >= 3.1: per request
        if request.content_length is not None and request.content_length > limit:
            abort(413)
        return None

    return limit_body


def _same_site_referrer() -> Optional[str]:
    """The path of the page the form came from, when it is a page of this site."""
    ref = urlsplit(request.referrer or "")
    if ref.netloc != request.host or ref.scheme not in ("http", "https"):
        return None
    path = ref.path or "/"
    if not path.startswith("/") or path.startswith("//") or "\\" in path:
        return None
    return path + (f"?{ref.query}" if ref.query else "")


def csrf_refused(exc: CSRFError):
    """The login page comes back fresh whatever was wrong with its token; another expired form sends the
    browser back to its page with a message; a missing or forged token elsewhere gets a plain 400."""
    expired = exc.description == CSRF_EXPIRED
    if request.endpoint == "auth.login":  # nothing happens on a fresh form, so it is safe to offer one
        form = LoginForm(formdata=None)
        form.username.data = (request.form.get("username") or "")[:64]
        why = "had expired" if expired else f"could not be accepted ({exc.description})"
        return render_template("login.html", form=form, error=f"The login form {why}. Please log in again."), 400
    if not expired:
        return error_page(400, "Form expired", f"The form could not be accepted ({exc.description}). "
                          "Reload the page and try again.")
    back = _same_site_referrer()
    if back is None:
        return error_page(400, "Form expired", "The form had expired, so nothing was changed. "
                          "Reload the page and try again.")
    flash("The form had expired, so nothing was changed. Please try again.", "error")
    return redirect(back, code=303)


def init_app(app: Flask) -> None:
    web = app_settings(app).web
    limit = web.max_form_kb * 1024
    app.config.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        # a login page left open all evening still works; a token found in a week-old tab does not
        WTF_CSRF_TIME_LIMIT=web.csrf_token_hours * 3600,
    )
    sync_prefix = web.base_path.rstrip("/") + "/sync/"
    # first of all before_request hooks, whatever the order of init_app calls
    app.before_request_funcs.setdefault(None, []).insert(0, _limit_body(limit, sync_prefix))
    app.register_error_handler(CSRFError, csrf_refused)

    def too_large(exc):
        if is_syncapi(sync_prefix):
            return jsonify(error="payload_too_large", message="request body too large"), 413
        return error_page(413, "Request too large", f"This page accepts at most {web.max_form_kb} KiB.")

    app.register_error_handler(413, too_large)
    app.after_request(add_security_headers)
