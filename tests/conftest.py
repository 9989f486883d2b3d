"""Shared fixtures: an app on a temporary database and storage, a SyncAPI user, a synced camera.

Set SKYFLEET_TEST_DATABASE_URL (e.g. postgresql+psycopg://...) to run the same tests on PostgreSQL;
script/test does that with a throw-away cluster.
"""
from __future__ import annotations

import functools
import os
import shutil
import sqlite3
import tempfile
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from flask_migrate import upgrade
from sqlalchemy import inspect, text

from skyfleet import accounts
from skyfleet.extensions import db, migrate
from skyfleet.factory import create_app
from skyfleet.models import Base
from tests.helpers import metadata as mdh
from tests.helpers.retention import KEEP_EVERYTHING
from tests.helpers.wire import EXAMPLE_KEY, EXAMPLE_USER, Sender

PG_URL = os.environ.get("SKYFLEET_TEST_DATABASE_URL")


def app_config(tmp_path: Path, **overrides) -> dict:
    # A test's own [retention] replaces the keep-everything default (tests/helpers/retention.py).
    config = {"data_dir": str(tmp_path / "data"), "log_level": "DEBUG",
              "retention": overrides.pop("retention", dict(KEEP_EVERYTHING))}
    if PG_URL:
        config["database_url"] = PG_URL
    for key, value in overrides.items():
        if isinstance(value, dict):
            config.setdefault(key, {}).update(value)
        else:
            config[key] = value
    return config


# Production hashes take ~0.2 s each of CPU (accounts.PRODUCTION_PASSWORD_HASH, asserted in
# tests/web/test_sessions.py); the tests hash a password for nearly every account they make, so they use a
# cheap scrypt. Processes the tests start (gunicorn, the CLI in a subprocess) hash as deployed.
TEST_PASSWORD_HASH = "scrypt:1024:8:1"


@pytest.fixture(autouse=True)
def cheap_password_hashing(monkeypatch):
    monkeypatch.setattr(accounts, "PASSWORD_HASH_METHOD", TEST_PASSWORD_HASH)


@functools.cache
def migrated_sqlite_template() -> Path:
    """An SQLite database at the head revision, made by the migrations once per test session: copying it
    costs a millisecond where running the migrations for each test's fresh database cost 0.1-0.2 s."""
    folder = Path(tempfile.mkdtemp(prefix="skyfleet-test-template."))
    app = create_app(app_config(folder))
    with app.app_context():
        upgrade()
        db.session.remove()
        db.engine.dispose()
    path = folder / "data" / "skyfleet.db"
    with sqlite3.connect(path) as conn:  # fold the WAL in, so the one file is the whole database
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.execute("PRAGMA journal_mode=DELETE")
    return path


def make_app(tmp_path: Path, **overrides):
    config = app_config(tmp_path, **overrides)
    fresh_sqlite = None if "database_url" in config else Path(config["data_dir"]) / "skyfleet.db"
    migrated = fresh_sqlite is not None and not fresh_sqlite.exists()
    if migrated:  # a new database at head, as `upgrade()` below would make it
        fresh_sqlite.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(migrated_sqlite_template(), fresh_sqlite)
    app = create_app(config)
    app.config["TESTING"] = True
    if not migrated:  # PostgreSQL, a database of the test's own, or the second app on one database
        with app.app_context():
            upgrade()
    return app


@functools.cache
def head_revision() -> str:
    return ScriptDirectory.from_config(migrate.get_config()).get_current_head()


def empty_if_at_head() -> bool:
    """Empty every table of a database at the head revision and say so; leave any other database alone.

    On PostgreSQL a drop and all the migrations cost about half a second a test, where TRUNCATE costs
    milliseconds; a database a test left elsewhere (a downgrade, a half-restored backup) is dropped whole.
    """
    tables = set(inspect(db.engine).get_table_names())
    if tables != set(Base.metadata.tables) | {"alembic_version"}:
        return False
    with db.engine.begin() as conn:
        if conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all() != [head_revision()]:
            return False
        names = ", ".join(conn.dialect.identifier_preparer.quote(name) for name in Base.metadata.tables)
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    return True


def drop_everything(app) -> None:
    with app.app_context():
        db.session.remove()
        if db.engine.dialect.name == "postgresql" and empty_if_at_head():
            db.engine.dispose()
            return
        Base.metadata.drop_all(db.engine)
        with db.engine.begin() as conn:
            conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
        db.engine.dispose()


@pytest.fixture
def app_factory(tmp_path):
    made = []

    def factory(**overrides):
        app = make_app(tmp_path, **overrides)
        made.append(app)
        return app

    yield factory
    for app in made:
        drop_everything(app)


@pytest.fixture
def app(app_factory):
    return app_factory()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


def add_api_user(app, username: str = EXAMPLE_USER, key: str = EXAMPLE_KEY, **flags):
    with app.app_context():
        user = accounts.add(db.session, username, "correct horse battery", admin=flags.get("admin", False))
        accounts.set_api_key(user, key, app.extensions["skyfleet"].keybox)
        user.is_active = flags.get("active", True)
        db.session.commit()


@pytest.fixture
def api_user(app):
    add_api_user(app)
    return EXAMPLE_USER


@pytest.fixture
def sender(client, api_user):
    return Sender(client)


@pytest.fixture
def camera(sender):
    resp = sender.send("PUT", "camera", mdh.camera(), media=b"", media_name="bogus.ext")
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()["id"]
