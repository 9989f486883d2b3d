"""Admin pages: sync status, users and API keys; on camera hosts also capture and upload state."""
from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_user
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from .. import accounts, apikeys
from ..extensions import app_settings, db, skyfleet_state
from ..housekeeping import disk, usage
from ..models import AlertState, Camera, PruneEvent, User
from . import host_status, queries
from .access import require_admin
from .auth import WebUser, idle_limit
from .forms import ButtonForm, PasswordSetForm, UserCreateForm

bp = Blueprint("admin", __name__, url_prefix="/admin")
bp.before_request(require_admin)


@bp.after_request
def _never_cache(response):
    response.headers["Cache-Control"] = "no-store"
    return response


def _user_or_404(user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None:
        abort(404)
    return user


@bp.route("/")
def status():
    settings = app_settings()
    cams = queries.cameras(db.session, include_hidden=True)
    camera_host = host_status.is_camera_host(settings)
    return render_template(
        "admin/status.html", sync=queries.sync_status(db.session, cams), camera_host=camera_host,
        capture=host_status.capture_states(db.session, cams) if camera_host else [],
        capture_service=host_status.capture_service_state(settings) if camera_host else None,
        upload=host_status.upload_state(db.session, settings) if camera_host else None,
        storage=_storage(settings))


def _storage(settings) -> dict:
    """The storage folder: free space against the floors, what each camera holds, retention, prunes, alerts."""
    policy = skyfleet_state().retention
    try:
        use = disk.usage(settings.storage_dir)
    except OSError as exc:
        use, disk_error = None, f"cannot read the free space of {settings.storage_dir}: {exc.strerror or exc}"
    else:
        disk_error = None
    try:
        prunes = db.session.execute(
            select(PruneEvent, Camera.name).outerjoin(Camera, Camera.id == PruneEvent.camera_id)
            .order_by(PruneEvent.at.desc(), PruneEvent.id.desc()).limit(10)).all()
        active = list(db.session.scalars(select(AlertState).where(AlertState.active.is_(True))
                                         .order_by(AlertState.since, AlertState.name)))
        per_camera = usage.by_camera(db.session)
    except SQLAlchemyError:
        current_app.logger.exception("admin status: storage tables unreadable")
        db.session.rollback()
        prunes, active, per_camera = [], [], {}
    return {"path": settings.storage_dir, "disk": use, "disk_error": disk_error, "policy": policy,
            "floor_bytes": policy.floor.bytes_for(use.total_bytes) if use else None,
            "emergency_bytes": policy.emergency.bytes_for(use.total_bytes) if use else None,
            "per_camera": per_camera, "prunes": prunes, "alerts": active}


@bp.route("/users", methods=["GET", "POST"])
def users():
    form = UserCreateForm()
    if form.validate_on_submit():
        try:
            accounts.add(db.session, form.username.data.strip(), form.password.data, admin=form.admin.data)
        except accounts.AccountError as exc:
            form.username.errors.append(str(exc))
        else:
            db.session.commit()
            flash(f"Created user {form.username.data.strip()}.", "ok")
            return redirect(url_for("admin.users"))
    listing = list(db.session.scalars(select(User).order_by(User.username)))
    return render_template("admin/users.html", users=listing, form=form, button=ButtonForm()), \
        400 if form.errors else 200


def _not_self(user: User, what: str) -> bool:
    if user.id == current_user.id:
        flash(f"You cannot {what} yourself.", "error")
        return False
    return True


def _switch(user_id: int, field: str, change, taking_away: str, said: dict):
    """Turn a user's flag on or off from the form with `change(user, on)`; an admin cannot take it away
    from themselves."""
    user = _user_or_404(user_id)
    on = request.form.get(field) == "1"
    if on or _not_self(user, taking_away):
        change(user, on)
        db.session.commit()
        flash(f"{user.username}: {said[on]}.", "ok")
    return redirect(url_for("admin.users"))


def _set_admin_flag(user: User, on: bool) -> None:
    user.is_admin = on


@bp.route("/users/<int:user_id>/admin", methods=["POST"])
def set_admin(user_id: int):
    return _switch(user_id, "admin", _set_admin_flag, "remove admin rights from",
                   {True: "admin granted", False: "admin removed"})


@bp.route("/users/<int:user_id>/active", methods=["POST"])
def set_active(user_id: int):
    """Deactivating ends the user's web sessions at once (accounts.set_active)."""
    return _switch(user_id, "active", accounts.set_active, "deactivate",
                   {True: "activated", False: "deactivated, signed out everywhere"})


@bp.route("/users/<int:user_id>/password", methods=["GET", "POST"])
def set_password(user_id: int):
    """A new password ends every web session of the user; an admin changing their own keeps this one."""
    user = _user_or_404(user_id)
    form = PasswordSetForm()
    if form.validate_on_submit():
        accounts.set_password(user, form.password.data)
        own = user.id == current_user.id
        token = accounts.start_session(db.session, user, idle_limit()) if own else None
        db.session.commit()
        if token:
            login_user(WebUser(user, token))
        current_app.logger.info("admin %s set the password of %s", current_user.username, user.username)
        flash(f"{user.username}: password set{', other sessions ended' if own else ', signed out everywhere'}.",
              "ok")
        return redirect(url_for("admin.users"))
    return render_template("admin/password.html", user=user, form=form), 400 if form.errors else 200


@bp.route("/users/<int:user_id>/apikey", methods=["POST"])
def create_api_key(user_id: int):
    """A new SyncAPI key, shown in this one response only (never stored in the session or a flash)."""
    user = _user_or_404(user_id)
    key = apikeys.generate()
    accounts.set_api_key(user, key, skyfleet_state().keybox)
    db.session.commit()
    current_app.logger.info("admin %s created a SyncAPI key for %s (fingerprint %s)", current_user.username,
                            user.username, user.api_key_fingerprint)
    return render_template("admin/apikey.html", user=user, key=key)


@bp.route("/users/<int:user_id>/apikey/revoke", methods=["POST"])
def revoke_api_key(user_id: int):
    user = _user_or_404(user_id)
    if accounts.revoke_api_key(user):
        db.session.commit()
        current_app.logger.info("admin %s revoked the SyncAPI key of %s", current_user.username, user.username)
        flash(f"{user.username}: API key revoked.", "ok")
    else:
        flash(f"{user.username} has no API key.", "error")
    return redirect(url_for("admin.users"))
