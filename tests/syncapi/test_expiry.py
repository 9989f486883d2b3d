"""410 asset_expired: what this server does not keep (past its retention, or of a night it pruned) is
refused on upload and answered as expired on lookup; what is here is always found."""
from __future__ import annotations

import datetime as dt
import time

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import sessionmaker

from skyfleet.core.errors import StorageFull
from skyfleet.core.storage import LocalStorage
from skyfleet.extensions import db
from skyfleet.housekeeping.policy import Days, Floor, RetentionPolicy
from skyfleet.housekeeping.prune import LOCK_NAME, Pruner, Report
from skyfleet.models import Asset, ExpiryMark
from tests.conftest import add_api_user
from tests.helpers import metadata as mdh
from tests.helpers.media import fake
from tests.helpers.retention import KEEP_EVERYTHING
from tests.helpers.storage import assert_nothing_stored, asset_count, stored_files
from tests.helpers.wire import Sender

KEEP_30_DAYS = {**KEEP_EVERYTHING, "images_days": 30}
NO_FLOOR = Floor(0, 0)


def assert_consistent(app) -> None:
    """tests.helpers.storage.assert_consistent, but the prune lock (.prune.lock) is no stray file."""
    with app.app_context():
        rows = {a.filename: a.file_size for a in db.session.scalars(select(Asset)) if a.filename}
    files = [f for f in stored_files(app) if f != LOCK_NAME]
    assert sorted(rows) == [f for f in files if not f.startswith(".staging/")]
    assert [f for f in files if f.startswith(".staging/")] == []
    root = app.extensions["skyfleet"].storage.root
    assert all((root / rel).stat().st_size == size for rel, size in rows.items())


def check(resp, status, code=None):
    assert resp.status_code == status, (resp.status_code, resp.get_data()[:300])
    body = resp.get_json()
    if code is not None:
        assert body["error"] == code and body["message"], body
    return body


def night_of(days_ago: int, minute: int = 0) -> dict:
    """A night frame's keys: 22:00 UTC `days_ago` days ago (server date), dayDate that day."""
    day = dt.datetime.now(dt.timezone.utc).date() - dt.timedelta(days=days_ago)
    when = int(dt.datetime(day.year, day.month, day.day, 22, tzinfo=dt.timezone.utc).timestamp()) + 60 * minute
    return {"createDate": when, "dayDate": f"{day:%Y%m%d}", "night": True}


def lookup(meta: dict) -> dict:
    keep = ("camera_uuid", "utc_offset", "createDate", "dayDate", "night", "uuid", "origin")
    return {k: meta[k] for k in keep if k in meta}


@pytest.fixture
def remote(app_factory):
    """A server keeping images 30 days (no floor), a SyncAPI user, the camera synced; skyfleet
    signatures, so one metadata may be sent with several methods."""
    app = app_factory(retention=dict(KEEP_30_DAYS))
    add_api_user(app)
    sender = Sender(app.test_client(), scheme="skyfleet")
    check(sender.send("PUT", "camera", mdh.camera(), media=b"", media_name="bogus.ext"), 200)
    return app, sender


def test_upload_older_than_the_retention_is_refused_as_expired_and_nothing_is_stored(remote):
    app, sender = remote
    old = mdh.asset("image", **night_of(40))
    body = check(sender.send("POST", "image", old, fake(".jpg", b"old sky")), 410, "asset_expired")
    assert "older than this server keeps night frames (30 days)" in body["message"]
    check(sender.send("PUT", "image", old, fake(".jpg", b"old sky")), 410, "asset_expired")
    assert_nothing_stored(app)  # no row, no file, nothing left in staging
    recent = mdh.asset("image", **night_of(2))
    check(sender.send("POST", "image", recent, fake(".jpg", b"new sky")), 200)
    assert asset_count(app) == 1
    assert_consistent(app)


def test_thumbnail_of_an_expired_frame_is_refused_but_a_product_thumbnail_is_kept(remote):
    app, sender = remote
    frame_thumb = mdh.asset("thumbnail", origin=2, **night_of(40))
    check(sender.send("POST", "thumbnail", frame_thumb, fake(".jpg", b"t")), 410, "asset_expired")
    keogram_thumb = mdh.asset("thumbnail", origin=4, **night_of(40))  # products: kept forever here
    check(sender.send("POST", "thumbnail", keogram_thumb, fake(".jpg", b"k")), 200)
    # A lookup without the origin is not taken for expired while it could be a product's thumbnail.
    missing = mdh.asset("thumbnail", **night_of(40))
    missing.pop("origin")
    check(sender.send("GET", "thumbnail", lookup(missing), media=b""), 404, "file_missing")


def _prune_with_clock_ahead(app, days: int):
    """A real prune of this server, its clock `days` ahead (real rows and files deleted)."""
    state = app.extensions["skyfleet"]
    with app.app_context():
        sessions = sessionmaker(bind=db.engine, expire_on_commit=False)
        ahead = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None) + dt.timedelta(days=days)
        return Pruner(sessions, state.storage, state.retention, clock=lambda: ahead).run()


def test_after_a_prune_the_pruned_nights_are_expired_and_other_missing_assets_are_not(remote):
    app, sender = remote
    pruned = mdh.asset("image", **night_of(20))
    kept = mdh.asset("image", **night_of(10))
    for meta in (pruned, kept):
        check(sender.send("POST", "image", meta, fake(".jpg", str(meta["createDate"]).encode())), 200)
    report = _prune_with_clock_ahead(app, 15)  # cutoff 15 days ago: the night 20 days ago goes
    assert [(n.prune_class, n.reason) for n in report.nights] == [("night_frames", "retention")]
    with app.app_context():
        marks = [(m.prune_class, m.through_day) for m in db.session.scalars(select(ExpiryMark))]
    assert marks == [("night_frames", dt.date.fromisoformat(
        f"{pruned['dayDate'][:4]}-{pruned['dayDate'][4:6]}-{pruned['dayDate'][6:]}"))]
    assert asset_count(app) == 1

    body = check(sender.send("GET", "image", lookup(pruned), media=b""), 410, "asset_expired")
    assert "were pruned here" in body["message"]
    # another frame of the pruned night, never sent: expired too (a resync must not send it)
    sibling = mdh.asset("image", **night_of(20, minute=5))
    check(sender.send("GET", "image", lookup(sibling), media=b""), 410, "asset_expired")
    check(sender.send("POST", "image", sibling, fake(".jpg", b"late")), 410, "asset_expired")
    # a missing frame of a night that was never expired: not found
    never = mdh.asset("image", **night_of(10, minute=5))
    check(sender.send("GET", "image", lookup(never), media=b""), 404, "file_missing")
    # the frame that is here is found
    assert check(sender.send("GET", "image", lookup(kept), media=b""), 200)["id"]
    # a lookup by id alone does not name its night: a plain 404
    check(sender.send("GET", "image", {"id": 999999, "camera_uuid": mdh.CAMERA_UUID, "utc_offset": mdh.OFFSET},
                      media=b""), 404, "file_missing")
    assert asset_count(app) == 1
    assert_consistent(app)


def test_an_asset_that_is_here_is_found_even_past_the_retention(app_factory):
    app = app_factory()  # keeps everything while the frame arrives
    add_api_user(app)
    sender = Sender(app.test_client(), scheme="skyfleet")
    check(sender.send("PUT", "camera", mdh.camera(), media=b"", media_name="bogus.ext"), 200)
    here = mdh.asset("image", **night_of(60))
    check(sender.send("POST", "image", here, fake(".jpg", b"kept")), 200)
    app.extensions["skyfleet"].retention = RetentionPolicy(days=Days(images_days=30), floor=NO_FLOOR,
                                                           emergency=NO_FLOOR)
    assert check(sender.send("GET", "image", lookup(here), media=b""), 200)["file_size"] == len(fake(".jpg", b"kept"))
    gone = mdh.asset("image", **night_of(60, minute=1))
    body = check(sender.send("GET", "image", lookup(gone), media=b""), 410, "asset_expired")
    assert "older than this server keeps" in body["message"]


def test_a_full_disk_at_placing_makes_room_and_tries_once_more(remote, monkeypatch):
    app, sender = remote
    made_room = []
    real_place = LocalStorage.place
    failures = {"left": 1}

    def place(self, source, rel, *, move=True):
        if failures["left"]:
            failures["left"] -= 1
            raise StorageFull("the server's storage is full; the upload was not stored", log_detail="test: ENOSPC")
        return real_place(self, source, rel, move=move)

    def make_room(self):
        made_room.append(time.time())
        return Report()

    monkeypatch.setattr(LocalStorage, "place", place)
    monkeypatch.setattr(Pruner, "make_room", make_room)
    check(sender.send("POST", "image", mdh.asset("image", **night_of(1)), fake(".jpg", b"a")), 200)
    assert len(made_room) == 1 and asset_count(app) == 1
    assert_consistent(app)

    failures["left"] = 2  # still full after making room: 507, nothing half-written
    body = check(sender.send("POST", "image", mdh.asset("image", **night_of(1, minute=1)), fake(".jpg", b"b")),
                 507, "insufficient_storage")
    assert body["message"]
    assert len(made_room) == 2 and asset_count(app) == 1
    assert_consistent(app)
    with app.app_context():
        assert db.session.scalar(select(func.count(Asset.id))) == 1
    assert [f for f in stored_files(app) if f.startswith(".staging/")] == []
