"""What one upload writes (issue 18, item 4): one durable transaction, nothing before the row is whole.

A v1 upload's MAC record commits with its asset; a skyfleet-signed upload commits its nonce before
the body is read (a replay is refused unread) and then the asset.  Expired nonces and MACs are swept
once a minute, not on every upload.  SQLite commits are durable (WAL with synchronous=FULL).
"""
from __future__ import annotations

import os
import time

import pytest
from sqlalchemy import event, select, text

from skyfleet.db_setup import session_factory
from skyfleet.extensions import db, skyfleet_state
from skyfleet.models import Asset, SyncV1Mac
from tests.helpers import metadata as mdh
from tests.helpers.media import fake


class Writes:
    """The commits and the write statements on an engine while it is watched."""

    def __init__(self, engine):
        self.engine, self.commits, self.statements = engine, 0, []

    def __enter__(self):
        event.listen(self.engine, "commit", self._commit)
        event.listen(self.engine, "before_cursor_execute", self._statement)
        return self

    def __exit__(self, *exc):
        event.remove(self.engine, "commit", self._commit)
        event.remove(self.engine, "before_cursor_execute", self._statement)

    def _commit(self, conn):
        self.commits += 1

    def _statement(self, conn, cursor, statement, parameters, context, executemany):
        if statement.split(None, 1)[0].upper() in ("INSERT", "UPDATE", "DELETE"):
            self.statements.append(statement.split("(")[0].split(" WHERE")[0].strip())


@pytest.mark.parametrize("scheme,commits", [("v1", 1), ("skyfleet", 2)])
def test_an_image_upload_is_one_transaction_after_the_authentication(app, sender, camera, scheme, commits):
    sender.scheme = scheme
    sweeps = skyfleet_state(app).sweeps
    sweeps.due("sync_nonce"), sweeps.due("sync_v1_mac")  # both swept a moment ago
    with app.app_context():
        engine = db.engine
    with Writes(engine) as writes:
        resp = sender.send("POST", "image", mdh.asset("image"), fake(".jpg", os.urandom(5000)))
    assert resp.status_code == 200, resp.get_json()
    assert writes.commits == commits, writes.statements
    assert not any(s.startswith("DELETE") for s in writes.statements), writes.statements
    with app.app_context():
        assert db.session.scalar(select(Asset.id)) == resp.get_json()["id"]
        if scheme == "v1":
            assert db.session.scalar(select(SyncV1Mac.method).where(SyncV1Mac.method == "POST")) == "POST"


def test_a_refused_v1_upload_still_has_its_mac_recorded(app, sender, camera):
    """A captured request refused once (409 here) must not come back with another method or media."""
    first = sender.send("POST", "image", mdh.asset("image"), fake(".jpg", b"a" * 3000))
    assert first.status_code == 200
    refused = sender.send("POST", "image", mdh.asset("image"), fake(".jpg", b"b" * 3000), v1_time=time.time() - 300)
    assert refused.status_code == 409, refused.get_json()
    with app.app_context():
        methods = db.session.scalars(select(SyncV1Mac.method)).all()
    assert sorted(methods) == ["POST", "POST", "PUT"]  # both uploads' MACs and the camera's


def test_sqlite_commits_are_durable(tmp_path):
    sessions = session_factory(f"sqlite:///{tmp_path / 'x.db'}")
    with sessions() as session:
        assert session.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert session.execute(text("PRAGMA synchronous")).scalar() == 2  # FULL
