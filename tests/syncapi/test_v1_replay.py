"""v1 signatures cover neither the method nor the media (issue 13, item 7).

A v1 MAC is HMAC(key, bucket + metadata), so a captured request can be sent again with another method
or other media of the same size for the half hour its bucket is accepted.  The server refuses a v1
DELETE that does not name its asset by id, and remembers each v1 MAC with the method and media it came
with: the same MAC with another method or other media is refused; the identical request again (a
retry) is accepted.
"""
from __future__ import annotations

import datetime as dt
import hashlib

import pytest
from sqlalchemy import func, select

from skyfleet.core import signing
from skyfleet.core.sweeps import Sweeps
from skyfleet.extensions import db, skyfleet_state
from skyfleet.models import Asset, SyncV1Mac, User
from skyfleet.syncapi import views
from tests.helpers import metadata as mdh
from tests.helpers.storage import assert_consistent, storage_root
from tests.helpers.wire import BASE, CAMERA_UUID, EXAMPLE_KEY, EXAMPLE_USER, dumps, multipart, sized, v1_headers

IMAGE = f"{BASE}/sync/v1/image"


def jpeg_bytes(size: int, fill: bytes = b"z") -> bytes:
    return b"\xff\xd8\xff\xe0" + fill * (size - 4)


class Captured:
    """One v1 request as it went over the wire: sent again as is, with another method or other media."""

    def __init__(self, meta: dict, media: bytes, unix_time: float | None = None):
        self.raw = dumps(sized(meta, media))
        self.media = media
        self.headers = v1_headers(EXAMPLE_USER, EXAMPLE_KEY, self.raw, unix_time)
        self.mac = self.headers["Authorization"].split(":")[1]

    def send(self, client, method: str, media: bytes | None = None, path: str = IMAGE):
        body, ctype = multipart(self.raw, self.media if media is None else media, "sky.jpg")
        return client.open(path, method=method, data=body, content_type=ctype, headers=self.headers)


def refused(resp, status: int, code: str) -> dict:
    assert resp.status_code == status, (resp.status_code, resp.get_data()[:300])
    body = resp.get_json()
    assert body["error"] == code and body["message"], body
    return body


def images(app) -> list[tuple[int, int, str]]:
    with app.app_context():
        return [(a.id, a.file_size, a.sha256) for a in db.session.scalars(select(Asset).order_by(Asset.id))]


def remembered(app, request: Captured | None = None) -> list[tuple[str, str]]:
    """(method, media sha256) of the remembered v1 MACs: of one request's MAC, or all of them."""
    with app.app_context():
        query = select(SyncV1Mac).order_by(SyncV1Mac.id)
        if request is not None:
            query = query.where(SyncV1Mac.mac == hashlib.sha256(request.mac.encode()).hexdigest())
        return [(r.method, r.media_sha256) for r in db.session.scalars(query)]


@pytest.mark.parametrize("original", ["arrived", "intercepted"])
def test_captured_v1_upload_replayed_as_delete_is_refused(app, client, camera, original):
    """If the upload arrived its MAC is known (refused as a replay); if it was held back on the way,
    the DELETE still needs an id, which upload metadata never has."""
    upload = Captured(mdh.asset("image"), jpeg_bytes(1000))
    if original == "arrived":
        assert upload.send(client, "PUT").status_code == 200
    else:  # an earlier upload of the same image (other size, so another MAC) is what the replay targets
        assert Captured(mdh.asset("image"), jpeg_bytes(500)).send(client, "PUT").status_code == 200
    before = images(app)
    resp = upload.send(client, "DELETE")
    if original == "arrived":
        assert "PUT" in refused(resp, 401, "replayed")["message"]
    else:
        body = refused(resp, 422, "metadata_missing_key")
        assert "'id'" in body["message"] and "DELETE" in body["message"]
    assert images(app) == before and len(before) == 1
    assert_consistent(app)


def test_v1_delete_without_id_is_refused_naming_it(app, client, sender, camera):
    """By id a v1 DELETE works; a skyfleet DELETE (its signature covers the method) may still go by key."""
    stored = sender.send("PUT", "image", mdh.asset("image"), jpeg_bytes(500))
    assert stored.status_code == 200
    by_key = {"camera_uuid": CAMERA_UUID, "createDate": mdh.NIGHT_START, "utc_offset": mdh.OFFSET}
    resp = sender.send("DELETE", "image", by_key, b"", media_name="bogus.ext", add_size=False)
    assert "'id'" in refused(resp, 422, "metadata_missing_key")["message"]
    assert len(images(app)) == 1
    resp = sender.send("DELETE", "image", by_key, b"", media_name="bogus.ext", add_size=False, scheme="skyfleet")
    assert resp.status_code == 200 and images(app) == []
    stored = sender.send("PUT", "image", mdh.asset("image"), jpeg_bytes(600))
    resp = sender.send("DELETE", "image", dict(by_key, id=stored.get_json()["id"]), b"", media_name="bogus.ext",
                       add_size=False)
    assert resp.status_code == 200 and resp.get_json() == {}
    assert images(app) == []


def test_same_v1_mac_with_other_media_is_refused(app, client, camera):
    upload = Captured(mdh.asset("image"), jpeg_bytes(1000, b"a"))
    assert upload.send(client, "PUT").status_code == 200
    before = images(app)
    swapped = jpeg_bytes(1000, b"b")  # the same size, so file_size (which the MAC covers) still matches
    body = refused(upload.send(client, "PUT", media=swapped), 401, "replayed")
    assert "media" in body["message"]
    assert images(app) == before and before[0][2] == hashlib.sha256(upload.media).hexdigest()
    assert [p for p in storage_root(app).rglob("*.jpg") if p.read_bytes() == swapped] == []
    assert_consistent(app)


@pytest.mark.parametrize("first, then", [("POST", "PUT"), ("PUT", "POST"), ("GET", "DELETE")])
def test_same_v1_mac_with_another_method_is_refused_before_the_media_is_read(app, client, camera, first, then,
                                                                            monkeypatch):
    if first == "GET":
        stored = Captured(mdh.asset("image"), jpeg_bytes(300)).send(client, "PUT")
        request = Captured({"id": stored.get_json()["id"], "camera_uuid": CAMERA_UUID}, b"")
    else:
        request = Captured(mdh.asset("image"), jpeg_bytes(1000))
    assert request.send(client, first).status_code == 200
    before = images(app)
    from skyfleet.syncapi import multipart as mp
    staged = []
    monkeypatch.setattr(mp._MediaWriter, "write", lambda self, data: staged.append(len(data)))
    body = refused(request.send(client, then), 401, "replayed")
    assert first in body["message"]
    assert staged == []
    assert images(app) == before
    assert remembered(app, request) == [(first, hashlib.sha256(request.media).hexdigest())]


def test_identical_v1_retry_is_accepted_and_remembered_once(app, client, camera):
    upload = Captured(mdh.asset("image"), jpeg_bytes(1000))
    first = upload.send(client, "PUT")
    again = upload.send(client, "PUT")
    assert first.status_code == again.status_code == 200
    assert again.get_json() == first.get_json()
    assert remembered(app, upload) == [("PUT", hashlib.sha256(upload.media).hexdigest())]


def test_v1_mac_is_remembered_for_as_long_as_it_is_accepted(app, client, camera, monkeypatch):
    """Signed at the start of a bucket, a MAC is still accepted 24 minutes later (the server tries
    four older buckets): a replay then must still be refused."""
    signed_at = signing.v1_bucket(mdh.NIGHT_START) * signing.V1_BUCKET_SECONDS + 1
    upload = Captured(mdh.asset("image"), jpeg_bytes(1000, b"a"), unix_time=signed_at)
    monkeypatch.setattr(views, "clock", lambda: signed_at)
    assert upload.send(client, "PUT").status_code == 200
    monkeypatch.setattr(views, "clock", lambda: signed_at + 24 * 60)
    refused(upload.send(client, "PUT", media=jpeg_bytes(1000, b"b")), 401, "replayed")
    monkeypatch.setattr(views, "clock", lambda: signed_at + 35 * 60)  # no bucket matches any more
    refused(upload.send(client, "PUT", media=jpeg_bytes(1000, b"b")), 401, "authentication failed")


def test_v1_macs_older_than_the_window_are_swept_once_a_minute(app, client, camera):
    """Not on every upload (a write less each): the first v1 request after a minute has passed does it."""
    seconds = [1000.0]
    skyfleet_state(app).sweeps = Sweeps(every_seconds=60, clock=lambda: seconds[0])
    with app.app_context():
        user_id = db.session.scalar(select(User.id).where(User.username == EXAMPLE_USER))
    long_ago = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None) - dt.timedelta(hours=2)

    def add_stale_row() -> None:
        with app.app_context():
            db.session.add(SyncV1Mac(user_id=user_id, mac="0" * 64, method="PUT", media_sha256="0" * 64,
                                     seen_at=long_ago))
            db.session.commit()

    def upload(offset: int, size: int) -> int:
        meta = mdh.asset("image", when=mdh.NIGHT_START + offset)
        return Captured(meta, jpeg_bytes(size)).send(client, "PUT").status_code

    def stale_rows() -> int:
        with app.app_context():
            return db.session.scalar(select(func.count()).select_from(SyncV1Mac).where(SyncV1Mac.mac == "0" * 64))

    add_stale_row()
    assert upload(0, 1000) == 200
    assert stale_rows() == 0  # the first sweep of this process
    add_stale_row()
    seconds[0] += 59
    assert upload(60, 1001) == 200
    assert stale_rows() == 1  # swept less than a minute ago
    seconds[0] += 2
    assert upload(120, 1002) == 200
    assert stale_rows() == 0
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(SyncV1Mac)) == 4  # the camera's, three images'


def test_a_v1_mac_recorded_by_a_concurrent_request_is_still_checked(app, client, camera, monkeypatch):
    """Two connections with the same MAC at once: the one that loses the insert compares with the
    winner's record (other media: refused)."""
    from skyfleet.syncapi import auth
    upload = Captured(mdh.asset("image"), jpeg_bytes(1000, b"a"))
    real_seen = auth.Authenticator._seen_v1_mac
    calls = []

    def winner_commits_first(self, state):
        found = real_seen(self, state)
        calls.append(found)
        if len(calls) == 2:  # the lookup in check_media: the other request's row lands just after it
            with db.engine.begin() as conn:
                conn.execute(SyncV1Mac.__table__.insert().values(
                    user_id=state.user.id, mac=auth.v1_mac_id(state.signature), method="PUT",
                    media_sha256=hashlib.sha256(b"other media").hexdigest(),
                    seen_at=dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)))
        return found

    monkeypatch.setattr(auth.Authenticator, "_seen_v1_mac", winner_commits_first)
    refused(upload.send(client, "PUT"), 401, "replayed")
    assert images(app) == []
