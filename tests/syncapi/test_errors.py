"""Bad input: a precise JSON error with the right status, and nothing written."""
import os
import subprocess
import time

import pytest

from skyfleet.extensions import db
from tests.conftest import PG_URL, add_api_user
from tests.helpers import metadata as mdh
from tests.helpers.media import fake
from tests.helpers.storage import assert_consistent, assert_nothing_stored
from tests.helpers.wire import (
    EXAMPLE_KEY,
    EXAMPLE_USER,
    Sender,
    dumps,
    multipart,
    sized,
    v1_headers,
    v2_headers,
)

IMAGE = "/indi-allsky/sync/v1/image"


def check(resp, status, code):
    assert resp.status_code == status, (resp.status_code, resp.get_data()[:300])
    assert resp.is_json, resp.get_data()[:300]
    body = resp.get_json()
    assert body["error"] == code and body["message"], body
    return body


def raw_post(client, body: bytes, ctype: str, metadata: bytes = b"", headers=None, path=IMAGE):
    auth = v1_headers(EXAMPLE_USER, EXAMPLE_KEY, metadata)
    auth.update(headers or {})
    return client.post(path, data=body, content_type=ctype, headers=auth)


def test_missing_metadata_part(app, client, camera):
    body, ctype = multipart(None, b"jpeg")
    check(raw_post(client, body, ctype), 400, "metadata_missing")
    assert_nothing_stored(app)


def test_malformed_multipart(app, client, camera):
    check(raw_post(client, b"this is not multipart at all", "multipart/form-data; boundary=abc"),
          400, "multipart_invalid")
    check(raw_post(client, b"{}", "application/json"), 400, "multipart_invalid")
    body, ctype = multipart(dumps(sized(mdh.asset("image"), b"x")), b"x")
    check(raw_post(client, body[:-40], ctype, metadata=dumps(sized(mdh.asset("image"), b"x"))),
          400, "multipart_invalid")  # closing boundary cut off
    assert_nothing_stored(app)


def test_non_json_metadata(app, sender, camera):
    check(sender.send("POST", "image", None, b"x", raw_metadata=b"not json {"), 422, "metadata_not_json")
    check(sender.send("POST", "image", None, b"x", raw_metadata=b"[1, 2]"), 422, "metadata_not_json")
    assert_nothing_stored(app)


def test_unknown_asset_type(app, sender, camera):
    check(sender.send("POST", "hologram", mdh.asset("image"), b"x"), 404, "unknown_asset_type")
    assert_nothing_stored(app)


def test_missing_media(app, sender, camera):
    check(sender.send("POST", "image", mdh.asset("image"), None), 400, "media_missing")
    assert_nothing_stored(app)


@pytest.mark.parametrize("declared", [0, 99, 101, -1])
def test_media_size_not_matching_file_size(app, sender, camera, declared):
    meta = dict(mdh.asset("image"), file_size=declared)
    resp = sender.send("POST", "image", meta, b"x" * 100, add_size=False)
    if declared < 0:
        check(resp, 422, "metadata_invalid")
    else:
        check(resp, 400, "size_mismatch")
    assert_nothing_stored(app)


@pytest.mark.parametrize("key", ["createDate", "dayDate", "night", "camera_uuid"])
def test_missing_required_key_names_it(app, sender, camera, key):
    meta = mdh.asset("image")
    del meta[key]
    body = check(sender.send("POST", "image", meta, b"x"), 422, "metadata_missing_key")
    assert repr(key) in body["message"]
    assert_nothing_stored(app)


# Only keys that decide identity, a path or a size are refused; see test_tolerant_metadata.py for the rest.
@pytest.mark.parametrize("key,value", [("createDate", "yesterday"), ("createDate", True), ("dayDate", "2024-12-31"),
                                       ("dayDate", "20241231\n"), ("night", "yes"), ("camera_uuid", 5),
                                       ("thumbnail_uuid", "not-a-uuid")])
def test_wrongly_typed_key_values_name_the_key(app, sender, camera, key, value):
    meta = dict(mdh.asset("image"), **{key: value})
    body = check(sender.send("POST", "image", meta, b"x"), 422, "metadata_invalid")
    assert repr(key) in body["message"]
    assert_nothing_stored(app)


def test_unknown_camera(app, sender):
    body = check(sender.send("POST", "image", mdh.asset("image"), b"x"), 404, "camera not found")
    assert "camera" in body["message"]
    assert_nothing_stored(app)


def test_unknown_user(app, client, camera):
    s = Sender(client, user="nobody")
    check(s.send("POST", "image", mdh.asset("image"), b"x"), 401, "authentication failed")
    check(Sender(client, user="nobody", scheme="skyfleet").send("POST", "image", mdh.asset("image"), b"x"),
          401, "authentication failed")
    assert_nothing_stored(app)


@pytest.mark.parametrize("scheme", ["v1", "skyfleet"])
def test_wrong_key(app, client, camera, scheme, caplog):
    wrong = "0" * 64
    s = Sender(client, key=wrong, scheme=scheme)
    check(s.send("POST", "image", mdh.asset("image"), b"x"), 401, "authentication failed")
    assert_nothing_stored(app)
    assert EXAMPLE_KEY not in caplog.text and wrong not in caplog.text
    assert "rejected" in caplog.text  # the server logs the reason


@pytest.mark.parametrize("header", ["", "Bearer", "Bearer a:b:c", "Bearer user", "Bearer us er:abc",
                                    "Bearer remote-sync:XYZ"])
def test_malformed_authorization(app, client, camera, header):
    meta = dumps(sized(mdh.asset("image"), b"x"))
    body, ctype = multipart(meta, b"x")
    resp = client.post(IMAGE, data=body, content_type=ctype, headers={"Authorization": header})
    check(resp, 401, "authentication failed")


def test_inactive_user_is_refused(app, client):
    add_api_user(app, "sleepy", "1" * 64, active=False)
    s = Sender(client, user="sleepy", key="1" * 64)
    check(s.send("PUT", "camera", mdh.camera(), b""), 401, "authentication failed")


def test_v1_signature_outside_the_time_window(app, client, camera):
    meta = dumps(sized(mdh.asset("image"), b"x"))
    body, ctype = multipart(meta, b"x")
    stale = v1_headers(EXAMPLE_USER, EXAMPLE_KEY, meta, unix_time=time.time() - 40 * 60)
    check(client.post(IMAGE, data=body, content_type=ctype, headers=stale), 401, "authentication failed")
    ahead = v1_headers(EXAMPLE_USER, EXAMPLE_KEY, meta, unix_time=time.time() + 15 * 60)
    check(client.post(IMAGE, data=body, content_type=ctype, headers=ahead), 401, "authentication failed")
    assert_nothing_stored(app)


@pytest.mark.parametrize("skew", [-400, 400])
def test_skyfleet_timestamp_outside_the_allowed_skew(app, client, camera, skew):
    meta = dumps(sized(mdh.asset("image"), b"x"))
    body, ctype = multipart(meta, b"x")
    headers = v2_headers(EXAMPLE_USER, EXAMPLE_KEY, "POST", IMAGE, meta, b"x", unix_time=time.time() + skew)
    resp = check(client.post(IMAGE, data=body, content_type=ctype, headers=headers), 401, "clock_skew")
    assert "NTP" in resp["message"]
    assert_nothing_stored(app)


def test_skyfleet_replayed_request(app, client, camera):
    media = fake(".jpg", b"x")
    meta = dumps(sized(mdh.asset("image"), media))
    body, ctype = multipart(meta, media)
    headers = v2_headers(EXAMPLE_USER, EXAMPLE_KEY, "POST", IMAGE, meta, media)
    first = client.post(IMAGE, data=body, content_type=ctype, headers=headers)
    assert first.status_code == 200
    check(client.post(IMAGE, data=body, content_type=ctype, headers=headers), 401, "replayed")
    assert_consistent(app)


def test_skyfleet_media_swapped_for_equal_size_bytes(app, client, camera):
    meta = dumps(sized(mdh.asset("image"), b"genuine!"))
    headers = v2_headers(EXAMPLE_USER, EXAMPLE_KEY, "POST", IMAGE, meta, b"genuine!")
    body, ctype = multipart(meta, b"tampered")
    check(client.post(IMAGE, data=body, content_type=ctype, headers=headers), 400, "digest_mismatch")
    assert_nothing_stored(app)


def test_v1_can_be_switched_off(app_factory):
    app = app_factory(syncapi={"accept_v1_signature": False})
    add_api_user(app)
    client = app.test_client()
    body = check(Sender(client).send("PUT", "camera", mdh.camera(), b""), 401, "authentication failed")
    assert "v1" in body["message"]
    ok = Sender(client, scheme="skyfleet").send("PUT", "camera", mdh.camera(), b"")
    assert ok.status_code == 200


@pytest.mark.parametrize("meta_change,media_name", [
    ({}, "../../../etc/passwd.jpg"), ({}, "sub/dir.jpg"), ({}, "noextension"),
    ({"camera_uuid": "../../etc"}, "a.jpg"), ({"camera_uuid": "a/b"}, "a.jpg"),
    ({"dayDate": "../2024"}, "a.jpg")])
def test_path_escapes_are_refused(app, sender, camera, meta_change, media_name):
    meta = dict(mdh.asset("image"), **meta_change)
    check(sender.send("POST", "image", meta, b"x", media_name=media_name), 422, "invalid_path")
    assert_nothing_stored(app)


def test_thumbnail_uuid_with_slashes_is_refused(app, sender, camera):
    meta = dict(mdh.asset("thumbnail"), uuid="../../../../tmp/owned")
    check(sender.send("POST", "thumbnail", meta, b"x"), 422, "invalid_path")
    assert_nothing_stored(app)


def test_oversize_upload(app_factory):
    app = app_factory(syncapi={"max_upload_mb": 1})
    add_api_user(app)
    s = Sender(app.test_client())
    assert s.send("PUT", "camera", mdh.camera(), b"").status_code == 200
    check(s.send("POST", "image", mdh.asset("image"), b"x" * (2 * 1024 * 1024)), 413, "payload_too_large")
    assert_nothing_stored(app)


def test_oversize_metadata(app, sender, camera):
    meta = dict(mdh.asset("image"), data={"padding": "x" * 300_000})
    check(sender.send("POST", "image", meta, b"x"), 413, "payload_too_large")
    assert_nothing_stored(app)


@pytest.mark.skipif(bool(PG_URL), reason="SQLite locking; PostgreSQL row locks do not time out this way")
def test_database_locked_answers_503_and_stores_nothing(app_factory):
    app = app_factory(sqlite_busy_timeout_ms=200)
    add_api_user(app)
    s = Sender(app.test_client())
    assert s.send("PUT", "camera", mdh.camera(), b"").status_code == 200
    with app.app_context():
        blocker = db.engine.raw_connection()
    try:
        blocker.cursor().execute("BEGIN EXCLUSIVE")
        resp = s.send("POST", "image", mdh.asset("image"), fake(".jpg", b"y" * 1000))
        body = check(resp, 503, "database_busy")
        assert resp.headers["Retry-After"] == "5" and "retry" in body["message"]
    finally:
        blocker.rollback()
        blocker.close()
    assert_nothing_stored(app)
    assert s.send("POST", "image", mdh.asset("image"), fake(".jpg", b"y" * 1000)).status_code == 200


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a small tmpfs needs root (CI runs as root)")
def test_disk_full_answers_507_and_leaves_no_partial_file(app_factory, tmp_path):
    small = tmp_path / "small-disk"
    small.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(small)], check=True)
    try:
        app = app_factory(storage_dir=str(small / "images"))
        add_api_user(app)
        s = Sender(app.test_client())
        assert s.send("PUT", "camera", mdh.camera(), b"").status_code == 200
        check(s.send("POST", "image", mdh.asset("image"), os.urandom(3 * 1024 * 1024)), 507, "insufficient_storage")
        assert_nothing_stored(app)
        ok = s.send("POST", "image", mdh.asset("image"), fake(".jpg", b"fits" * 1000))
        assert ok.status_code == 200  # space came back with the failed upload's staging file
        assert_consistent(app)
    finally:
        subprocess.run(["umount", "-l", str(small)], check=False)
