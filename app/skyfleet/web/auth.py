"""Logging in and out (Flask-Login); sessions end when the password changes or the user is deactivated."""
from __future__ import annotations

import hashlib
import hmac
from typing import Optional
from urllib.parse import urlsplit

from flask import Blueprint, redirect, render_template, request, session, url_for
from flask_login import UserMixin, current_user, login_user, logout_user
from sqlalchemy import select
from werkzeug.security import check_password_hash, generate_password_hash

from .. import accounts
from ..extensions import app_settings, db, login_manager
from ..models import User
from .access import unauthorized_response
from .forms import LoginForm
from .throttle import Throttle

bp = Blueprint("auth", __name__)


def session_token(user: User) -> str:
    """Changes with the password hash, so a new password logs out every other session."""
    return hashlib.sha256(user.password_hash.encode()).hexdigest()[:16]


class WebUser(UserMixin):
    """The logged-in user as Flask-Login sees it (the model stays free of Flask)."""

    def __init__(self, user: User):
        self.id = user.id
        self.username = user.username
        self.is_admin = bool(user.is_admin)
        self._active = bool(user.is_active)
        self._token = session_token(user)

    @property
    def is_active(self) -> bool:
        return self._active

    def get_id(self) -> str:
        return f"{self.id}:{self._token}"


@login_manager.user_loader
def load_user(user_id: str) -> Optional[WebUser]:
    uid, _, token = user_id.partition(":")
    if not uid.isdigit():
        return None
    user = db.session.get(User, int(uid))
    if user is None or not user.is_active or not hmac.compare_digest(token, session_token(user)):
        return None
    return WebUser(user)


login_manager.unauthorized_handler(unauthorized_response)

_dummy_hash: list = []


def authenticate(username: str, password: str) -> Optional[User]:
    user = db.session.scalar(select(User).where(User.username == username))
    if user is None:
        if not _dummy_hash:
            _dummy_hash.append(generate_password_hash("no such user, same work"))
        check_password_hash(_dummy_hash[0], password)  # an unknown name takes as long as a wrong password
        return None
    if not accounts.verify_password(user, password) or not user.is_active:
        return None
    return user


def safe_next(target: Optional[str]) -> str:
    """Only a path on this site: never another host (no open redirect)."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc:
            return target
    return url_for("web.now")


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated and request.method == "GET":
        return redirect(safe_next(request.args.get("next")))
    form = LoginForm()
    if not form.validate_on_submit():
        return render_template("login.html", form=form, error=None)
    throttle = Throttle.from_settings(app_settings().web)
    # one cut here, so the stored, queried and cleared address are the same string
    username, address = form.username.data, (request.remote_addr or "unknown")[:64]
    wait = throttle.wait_seconds(db.session, username, address)
    if wait:
        minutes = -(-wait // 60)
        error = f"Too many failed logins from this address. Try again in {minutes} minute{'s' * (minutes != 1)}."
        return render_template("login.html", form=form, error=error), 429, {"Retry-After": str(wait)}
    user = authenticate(username, form.password.data)
    if user is None:
        throttle.failed(db.session, username, address)
        db.session.commit()
        return render_template("login.html", form=form, error="Wrong user name or password."), 401
    throttle.succeeded(db.session, username, address)
    db.session.commit()
    session.clear()
    login_user(WebUser(user))
    return redirect(safe_next(request.args.get("next")))


@bp.route("/logout", methods=["POST"])
def logout():
    logout_user()
    session.clear()
    return redirect(url_for("web.now"))
