"""The Flask application factory: `create_app` binds the extensions, blueprints and CLI groups.

Imports run one way: this module imports the blueprints and CLI groups, they import
`skyfleet.extensions`, and nothing imports this module back except the entry points
(`skyfleet.cli`, gunicorn's `skyfleet.factory:create_app()`).
"""
from __future__ import annotations

import hashlib
import hmac
import logging
import time
from pathlib import Path
from typing import Any, Mapping, Optional, Union

from flask import Flask, jsonify, request
from flask_login import AnonymousUserMixin
from werkzeug.middleware.proxy_fix import ProxyFix

from . import settings as settings_mod
from .accounts_cli import user_cli
from .apikeys import KeyBox, load_or_create_secret
from .assets_cli import asset_cli
from .backup.schema import MIGRATIONS_DIR
from .camera_cli import camera_cli
from .core import staging
from .db_setup import tune_engine
from .extensions import STATE_KEY, SkyfleetState, app_settings, csrf, db, login_manager, migrate
from .health.config import HealthConfigError, HealthSettings, health_from_table
from .housekeeping import policy as retention_policy
from .night_cli import night_cli
from .settings import Settings
from .storage_setup import storage_from_settings
from .sync_cli import sync_cli
from .syncapi.views import bp as syncapi_bp
from .web import health as health_web
from .web import (  # noqa: F401 (routes)
    present,
    security,
    views_cameras,
    views_charts,
    views_gallery,
    views_image,
    views_longterm,
    views_nights,
    views_now,
)
from .web.admin import bp as admin_bp
from .web.auth import bp as auth_bp
from .web.blueprint import bp as web_bp
from .web.media import bp as media_bp
from .web.views_latest import bp as latest_bp

# The appliance's own command groups, on app.cli (`flask --app skyfleet.factory:create_app ...`) and in
# the operator's `skyfleet` command; `db` (Flask-Migrate) joins app.cli through migrate.init_app.
CLI_GROUPS = (user_cli, camera_cli, asset_cli, sync_cli, night_cli)


def create_app(config: Optional[Union[Settings, Mapping[str, Any]]] = None) -> Flask:
    if isinstance(config, Settings):
        settings = config
    elif config is not None:
        settings = settings_mod.from_mapping(config)
    else:
        settings = settings_mod.load()

    app = Flask("skyfleet.web")  # the web package holds the templates and static files
    for folder in (settings.data_dir, settings.storage_dir, settings.staging_dir):
        Path(folder).mkdir(parents=True, exist_ok=True)
    secret = load_or_create_secret(settings.secret_key_file)
    app.config.update(
        SQLALCHEMY_DATABASE_URI=settings.database_url,
        SQLALCHEMY_ENGINE_OPTIONS={} if settings.database_url.startswith("sqlite") else {"pool_pre_ping": True},
        SECRET_KEY=hmac.new(secret, b"flask-session", hashlib.sha256).hexdigest(),
        JSON_SORT_KEYS=False,
        SESSION_COOKIE_SECURE=settings.web.secure_cookies,
        REMEMBER_COOKIE_SECURE=settings.web.secure_cookies,
        SESSION_COOKIE_SAMESITE="Lax",
    )
    if settings.web.trust_proxy_headers:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1)
    storage = storage_from_settings(settings)  # the storage folder, or an S3 bucket ([storage])
    storage.clean_staging(staging.STALE_SECONDS, time.time())
    app.extensions[STATE_KEY] = SkyfleetState(settings=settings, keybox=KeyBox(secret), storage=storage,
                                              retention=_retention(settings))
    app.logger.setLevel(getattr(logging, settings.log_level.upper()))

    db.init_app(app)
    migrate.init_app(app, db, directory=MIGRATIONS_DIR)
    with app.app_context():
        tune_engine(db.engine, settings.sqlite_busy_timeout_ms)

    _init_pages(app)
    health_web.init_app(app, _health(settings))

    base = settings.web.base_path.rstrip("/")
    csrf.exempt(syncapi_bp)  # HMAC-signed machine requests: no session, no form token
    app.register_blueprint(syncapi_bp, url_prefix=base)
    app.register_blueprint(media_bp, url_prefix=base)
    app.register_blueprint(web_bp)
    app.register_blueprint(latest_bp)
    app.register_blueprint(auth_bp)
    app.register_blueprint(admin_bp)
    csrf.exempt(health_web.bp)  # GET only, for machines: no session, no form token
    app.register_blueprint(health_web.bp)
    _json_errors_for_api(app, base + "/sync/")

    for group in CLI_GROUPS:
        app.cli.add_command(group)
    return app


def _retention(settings: Settings) -> retention_policy.RetentionPolicy:
    """The [retention] table, checked where the other settings are (a typo stops the app with its name)."""
    try:
        return retention_policy.from_table(settings.table("retention"))
    except retention_policy.RetentionConfigError as exc:
        raise settings_mod.SettingsError(str(exc)) from None


def _health(settings: Settings) -> HealthSettings:
    """The [health] table (/healthz, /metrics), checked at start like [retention]."""
    try:
        return health_from_table(settings.table("health"))
    except HealthConfigError as exc:
        raise settings_mod.SettingsError(str(exc)) from None


class Anonymous(AnonymousUserMixin):
    username = ""
    is_admin = False


def _init_pages(app: Flask) -> None:
    """Login, CSRF on every form, body limits, security headers, template helpers and error pages."""
    login_manager.init_app(app)
    login_manager.anonymous_user = Anonymous
    login_manager.login_view = "auth.login"
    csrf.init_app(app)
    security.init_app(app)
    present.init_app(app)

    @app.context_processor
    def _site():
        return {"public_site": app_settings(app).web.public}

    app.register_error_handler(403, lambda exc: security.error_page(403, "Forbidden", "This page is for admins only."))


def _json_errors_for_api(app: Flask, prefix: str) -> None:
    """Routing errors and crashes under the API answer JSON too, never an HTML page."""

    def handler(exc):
        code = getattr(exc, "code", 500) or 500
        if not request.path.startswith(prefix):
            return exc if code != 500 else ("Internal Server Error", 500)
        if code == 500:
            app.logger.exception("syncapi %s %s crashed", request.method, request.path)
            db.session.rollback()
        names = {404: "not_found", 405: "method_not_allowed", 500: "internal_error"}
        return jsonify(error=names.get(code, "http_error"), message=getattr(exc, "description", "server error")), code

    for code in (404, 405, 500):
        app.register_error_handler(code, handler)
