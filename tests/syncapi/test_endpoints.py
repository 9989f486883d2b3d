"""Every endpoint and method: GET returns id + URL, POST adds and never overwrites, PUT adds or
overwrites, DELETE deletes; a repeated identical upload answers with the existing id."""
import os
import time

import pytest
from sqlalchemy import select

from skyfleet.extensions import db
from skyfleet.models import Asset, Camera, LongTermKeogram
from tests.helpers import metadata as mdh
from tests.helpers.media import fake
from tests.helpers.storage import assert_consistent, stored_files
from tests.helpers.wire import CAMERA_UUID

KIND_AND_SCHEME = [(k, s) for k in mdh.ALL_KINDS for s in ("v1", "skyfleet")]


def media_for(kind: str, salt: bytes = b"") -> bytes:
    return fake(mdh.EXTENSION[kind], (kind.encode() + salt) * 1000 + os.urandom(16))


def fetch(client, url):
    resp = client.get(f"/indi-allsky/{url}")
    assert resp.status_code == 200, url
    return resp.get_data()


@pytest.mark.parametrize("kind,scheme", KIND_AND_SCHEME)
def test_every_kind_round_trips_post_get_put_delete(app, client, sender, camera, kind, scheme):
    sender.scheme = scheme
    meta = mdh.asset(kind)
    name = "x" + mdh.EXTENSION[kind]
    first = media_for(kind)

    resp = sender.send("POST", kind, meta, first, media_name=name)
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    assert set(body) == {"id", "url"} and body["url"].startswith("images/ccd_" + CAMERA_UUID)
    assert body["url"].endswith(mdh.EXTENSION[kind])
    assert fetch(client, body["url"]) == first

    got = sender.send("GET", kind, {"id": body["id"], "camera_uuid": CAMERA_UUID, "utc_offset": mdh.OFFSET},
                      media=b"", media_name="bogus.ext", add_size=False)
    assert got.status_code == 200, got.get_json()
    assert got.get_json()["id"] == body["id"] and got.get_json()["url"] == body["url"]

    again = sender.send("POST", kind, meta, first, media_name=name)
    assert again.status_code == 200 and again.get_json() == body  # identical repeat: existing id

    other = media_for(kind, b"-v2")
    refused = sender.send("POST", kind, meta, other, media_name=name)
    assert refused.status_code == 409 and refused.get_json()["error"] == "file_exists"
    assert fetch(client, body["url"]) == first

    # the refused POST's metadata and media, but PUT: signed anew (one v1 MAC, one method)
    replaced = sender.send("PUT", kind, meta, other, media_name=name, v1_time=time.time() - 300)
    assert replaced.status_code == 200, replaced.get_json()
    assert replaced.get_json()["id"] == body["id"]
    assert fetch(client, replaced.get_json()["url"]) == other
    assert_consistent(app)

    gone = sender.send("DELETE", kind, {"id": body["id"], "camera_uuid": CAMERA_UUID},
                       media=b"", media_name="bogus.ext", add_size=False)
    assert gone.status_code == 200 and gone.get_json() == {}
    assert client.get(f"/indi-allsky/{body['url']}").status_code == 404
    missing = sender.send("GET", kind, {"id": body["id"], "camera_uuid": CAMERA_UUID},
                          media=b"", add_size=False, v1_time=time.time() - 300)  # the DELETE's metadata
    assert missing.status_code == 404 and missing.get_json()["error"] == "file_missing"
    assert [f for f in stored_files(app) if not f.startswith(".staging")] == []


@pytest.mark.parametrize("kind", mdh.ALL_KINDS)
def test_put_adds_when_missing(app, sender, camera, kind):
    resp = sender.send("PUT", kind, mdh.asset(kind), media_for(kind), media_name="a" + mdh.EXTENSION[kind])
    assert resp.status_code == 200, resp.get_json()
    with app.app_context():
        asset = db.session.get(Asset, resp.get_json()["id"])
        assert asset.kind == kind and asset.camera_id == camera


def test_image_columns_and_camera_local_time(app, sender, camera):
    resp = sender.send("POST", "image", mdh.asset("image"), fake(".jpg", b"jpeg" * 100))
    assert resp.status_code == 200
    with app.app_context():
        img = db.session.get(Asset, resp.get_json()["id"])
        # 2025-01-01 00:00 UTC is 2024-12-31 19:00 at a UTC-5 camera (protocol section 4, step 5)
        assert str(img.create_date) == "2024-12-31 19:00:00"
        assert str(img.create_date_utc) == "2025-01-01 00:00:00"
        assert img.utc_offset == -18000 and str(img.day_date) == "2024-12-31" and img.night is True
        assert (img.exposure, img.gain, img.binmode, img.temp, img.stars) == (15.0, 250.0, 1, -3.5, 412)
        assert img.stable is True and img.moonmode is False and img.data == {"uptime": 86400}
        assert img.filename == (f"ccd_{CAMERA_UUID}/exposures/20241231/night/31_19/"
                                f"ccd{camera}_20241231_190000.jpg")
        pixels = db.session.scalars(select(LongTermKeogram)).all()
        assert len(pixels) == 1 and pixels[0].ts == mdh.NIGHT_START


def test_keogram_pixels_are_not_duplicated_by_repeats(app, sender, camera):
    meta = mdh.asset("image")
    sender.send("POST", "image", meta, fake(".jpg", b"a" * 10))
    sender.send("PUT", "image", meta, fake(".jpg", b"b" * 10))
    with app.app_context():
        assert len(db.session.scalars(select(LongTermKeogram)).all()) == 1


def test_minivideos_of_one_night_do_not_replace_each_other(sender, camera):
    first = sender.send("POST", "minivideo", mdh.asset("minivideo", when=mdh.NIGHT_START),
                        fake(".mp4", b"m1" * 50), media_name="m.mp4")
    second = sender.send("POST", "minivideo", mdh.asset("minivideo", when=mdh.NIGHT_START + 3600),
                         fake(".mp4", b"m2" * 50), media_name="m.mp4")
    assert first.status_code == second.status_code == 200
    assert first.get_json()["id"] != second.get_json()["id"]


def test_get_by_natural_key_reports_size_and_digest(sender, camera):
    media = fake(".mp4", b"night video" * 99)
    sender.send("POST", "video", mdh.asset("video"), media, media_name="t.mp4")
    resp = sender.send("GET", "video", {"camera_uuid": CAMERA_UUID, "dayDate": "20241231", "night": True},
                       media=b"", add_size=False)
    assert resp.status_code == 200, resp.get_json()
    import hashlib
    assert resp.get_json()["file_size"] == len(media)
    assert resp.get_json()["sha256"] == hashlib.sha256(media).hexdigest()


def test_camera_post_creates_put_updates_get_finds(app, sender):
    created = sender.send("POST", "camera", mdh.camera("First name"), b"", media_name="bogus.ext")
    assert created.status_code == 200 and set(created.get_json()) == {"id"}
    updated = sender.send("PUT", "camera", mdh.camera("Renamed"), b"", media_name="bogus.ext")
    assert updated.get_json() == created.get_json()
    with app.app_context():
        cam = db.session.scalar(select(Camera))
        assert cam.name == "Renamed"  # no " <id>" suffix
        assert cam.utc_offset == -18000 and cam.latitude == 40.1 and cam.data["vs_enabled"] is True
        assert cam.connect_date is not None
    found = sender.send("GET", "camera", {"id": created.get_json()["id"], "camera_uuid": CAMERA_UUID},
                        b"", add_size=False)
    assert found.status_code == 200 and found.get_json() == created.get_json()
    unknown = sender.send("GET", "camera", {"camera_uuid": "11111111-2222-4333-8444-555555555555"},
                          b"", add_size=False)
    assert unknown.status_code == 404 and unknown.get_json()["error"] == "camera_missing"
    deleting = sender.send("DELETE", "camera", {"camera_uuid": CAMERA_UUID}, b"", add_size=False)
    assert deleting.status_code == 405 and deleting.get_json()["error"] == "not_implemented"


def test_empty_file_mode_stores_the_row_without_a_file(app, sender, camera):
    resp = sender.send("PUT", "image", mdh.asset("image", s3_key="a/b.jpg"), b"", media_name="real.jpg")
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json()["url"] is None
    with app.app_context():
        asset = db.session.get(Asset, resp.get_json()["id"])
        assert asset.filename is None and asset.s3_key == "a/b.jpg"
    assert_consistent(app)


def test_media_part_before_metadata_is_refused(app, sender, camera):
    """The signed metadata part comes first, as every client sends it (tests/syncapi/test_preauth_work.py)."""
    resp = sender.send("POST", "image", mdh.asset("image"), fake(".jpg", b"z" * 5000), media_first=True)
    assert resp.status_code == 400 and resp.get_json()["error"] == "metadata_missing", resp.get_json()
    assert [f for f in stored_files(app) if not f.startswith(".staging")] == []


def test_other_methods_get_json_405(client, sender):
    resp = client.open("/indi-allsky/sync/v1/image", method="PATCH")
    assert resp.status_code == 405 and resp.get_json()["error"] == "method_not_allowed"


def test_media_url_does_not_serve_staging(app, client):
    staging = app.extensions["skyfleet"].storage.staging
    staging.mkdir(parents=True, exist_ok=True)
    (staging / "upload-x.part").write_bytes(b"secret")
    assert client.get("/indi-allsky/images/.staging/upload-x.part").status_code == 404


@pytest.mark.parametrize("path", ["../secret.key", "../data/secret.key", "%2e%2e/secret.key", "..%2fsecret.key",
                                  "ccd_x/../../secret.key", "ccd_x/%2e%2e/%2e%2e/secret.key"])
def test_media_url_does_not_serve_files_outside_storage(app, client, path):
    root = app.extensions["skyfleet"].storage.root
    # Real files where a traversal from the storage folder would land: the server secret beside it,
    # and one more at <data>/data/secret.key for the doubled name.
    secret = (root / ".." / "secret.key").resolve()
    assert secret.is_file() and root not in secret.parents
    other = (root / ".." / "data" / "secret.key").resolve()
    other.parent.mkdir(exist_ok=True)
    other.write_bytes(b"not for the web " + os.urandom(8))
    resp = client.get(f"/indi-allsky/images/{path}")
    assert resp.status_code == 404
    assert secret.read_bytes() not in resp.get_data() and other.read_bytes() not in resp.get_data()
