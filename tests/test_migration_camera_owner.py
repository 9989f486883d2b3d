"""Migration 0005: cameras get the account that uploaded their first asset as owner, and rebuilding
the camera table (SQLite batch mode) keeps every asset that references it.  Runs on SQLite and, with
SKYFLEET_TEST_DATABASE_URL, on PostgreSQL."""
import datetime as dt

import sqlalchemy as sa
from flask_migrate import downgrade, upgrade

from skyfleet.extensions import db

EARLY = dt.datetime(2025, 1, 1)
LATE = dt.datetime(2025, 1, 2)


def _table(conn, name):
    return sa.Table(name, sa.MetaData(), autoload_with=conn)


def _user(conn, name):
    users = _table(conn, "users")
    return conn.execute(sa.insert(users).values(
        username=name, password_hash="x", is_admin=False, is_active=True, created_at=EARLY,
    ).returning(users.c.id)).scalar_one()


def _camera(conn, uuid):
    camera = _table(conn, "camera")
    return conn.execute(sa.insert(camera).values(
        uuid=uuid, name=uuid[:8], utc_offset=0, hidden=False, data={}, created_at=EARLY,
    ).returning(camera.c.id)).scalar_one()


def _asset(conn, camera_id, key, uploader, when):
    conn.execute(sa.insert(_table(conn, "asset")).values(
        kind="image", camera_id=camera_id, natural_key=key, create_date_utc=when, create_date=when,
        utc_offset=0, day_date=when.date(), night=True, file_size=0, data={}, uploaded_at=when,
        uploaded_by_id=uploader))


def test_0005_owner_is_the_first_uploader_and_no_asset_is_lost(app):
    with app.app_context():
        downgrade(revision="0004")
        with db.engine.begin() as conn:
            alice, bob = _user(conn, "alice"), _user(conn, "bob")
            shared = _camera(conn, "11111111-1111-4111-8111-111111111111")
            empty = _camera(conn, "22222222-2222-4222-8222-222222222222")
            _asset(conn, shared, "late", bob, LATE)
            _asset(conn, shared, "early", alice, EARLY)
        upgrade()
        with db.engine.connect() as conn:
            owners = {r.id: r.registered_by_id for r in conn.execute(sa.select(_table(conn, "camera")))}
            keys = sorted(r.natural_key for r in conn.execute(sa.select(_table(conn, "asset"))))
        assert owners == {shared: alice, empty: None}
        assert keys == ["early", "late"]

        downgrade(revision="0004")
        with db.engine.connect() as conn:
            keys = sorted(r.natural_key for r in conn.execute(sa.select(_table(conn, "asset"))))
            columns = {c["name"] for c in sa.inspect(conn).get_columns("camera")}
        assert keys == ["early", "late"]
        assert "registered_by_id" not in columns
        upgrade()
