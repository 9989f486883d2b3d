"""Logging in and out (Flask-Login) with server-side sessions.

A login creates a row in `login_session`: the cookie carries a random token, the table only its sha256.
Every request looks the token up, so logout (which deletes the row), deactivating the user or a new
password (accounts.py deletes the user's rows) ends the session even for a copy of the cookie. A
session unused for `[web] session_idle_days` expires.
"""
from __future__ import annotations

import datetime as dt
from typing import Optional
from urllib.parse import urlsplit

from flask import Blueprint, redirect, render_template, request, session, url_for
from flask_login import UserMixin, current_user, login_user, logout_user
from sqlalchemy import select
from werkzeug.security import check_password_hash, generate_password_hash

from .. import accounts
from ..extensions import app_settings, db, login_manager
from ..models import User, utcnow
from .access import unauthorized_response
from .forms import LoginForm
from .throttle import Throttle, client_key

bp = Blueprint("auth", __name__)

# last_seen_at is written at most this often per session: not a database write on every page view.
TOUCH_INTERVAL = dt.timedelta(minutes=5)


class WebUser(UserMixin):
    """The logged-in user as Flask-Login sees it (the model stays free of Flask)."""

    def __init__(self, user: User, token: str):
        self.id = user.id
        self.username = user.username
        self.is_admin = bool(user.is_admin)
        self._active = bool(user.is_active)
        self._token = token

    @property
    def is_active(self) -> bool:
        return self._active

    def get_id(self) -> str:
        """What Flask-Login keeps in the session cookie: the session token, not the user id."""
        return self._token


def idle_limit() -> dt.timedelta:
    return dt.timedelta(days=app_settings().web.session_idle_days)


@login_manager.user_loader
def load_user(token: str) -> Optional[WebUser]:
    now = utcnow()
    found = accounts.find_session(db.session, token, idle_limit(), now)
    if found is None:
        if db.session.deleted:
            db.session.commit()  # an expired or orphaned row: gone for good
        return None
    row, user = found
    if now - row.last_seen_at > TOUCH_INTERVAL:
        row.last_seen_at = now
        db.session.commit()
    return WebUser(user, token)


@bp.before_app_request
def _load_user_first():
    """Look the session up before any view runs, so the loader's commit never carries a view's changes."""
    if request.blueprint != "syncapi" and request.endpoint != "static" and session.get("_user_id"):
        current_user._get_current_object()


login_manager.unauthorized_handler(unauthorized_response)

_dummy_hashes: dict = {}


def authenticate(username: str, password: str) -> Optional[User]:
    user = db.session.scalar(select(User).where(User.username == username))
    if user is None:
        method = accounts.password_hash_method()
        if method not in _dummy_hashes:
            _dummy_hashes[method] = generate_password_hash("no such user, same work", method=method)
        check_password_hash(_dummy_hashes[method], password)  # an unknown name takes as long as a wrong password
        return None
    if not accounts.verify_password(user, password) or not user.is_active:
        return None
    if accounts.needs_rehash(user):
        accounts.rehash(user, password)  # committed with the login
    return user


def safe_next(target: Optional[str]) -> str:
    """Only a path on this site: never another host (no open redirect)."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc:
            return target
    return url_for("web.now")


def login_page(form: LoginForm, error: Optional[str], status: int = 200, headers: Optional[dict] = None):
    return render_template("login.html", form=form, error=error), status, headers or {}


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated and request.method == "GET":
        return redirect(safe_next(request.args.get("next")))
    form = LoginForm()
    if not form.validate_on_submit():
        return login_page(form, None)
    throttle = Throttle.from_settings(app_settings().web)
    # one key here, so the stored, queried and cleared address are the same string
    username, address = form.username.data, client_key(request.remote_addr or "unknown")
    attempt, wait = throttle.attempt(db.session, username, address)
    if wait:
        throttle.waited(db.session, attempt)
        db.session.commit()
        minutes = -(-wait // 60)
        error = f"Too many failed logins from this address. Try again in {minutes} minute{'s' * (minutes != 1)}."
        return login_page(form, error, 429, {"Retry-After": str(wait)})
    user = authenticate(username, form.password.data)
    if user is None:
        db.session.commit()  # the attempt's row stays: it is the failure
        return login_page(form, "Wrong user name or password.", 401)
    throttle.succeeded(db.session, username, address)
    token = accounts.start_session(db.session, user, idle_limit())
    db.session.commit()
    session.clear()
    login_user(WebUser(user, token))
    return redirect(safe_next(request.args.get("next")))


@bp.route("/logout", methods=["POST"])
def logout():
    accounts.end_session(db.session, session.get("_user_id"))
    db.session.commit()
    logout_user()
    session.clear()
    return redirect(url_for("web.now"))
