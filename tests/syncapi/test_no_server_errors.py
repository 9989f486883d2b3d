"""Inputs that once gave HTTP 500, each now a precise 4xx JSON error, or accepted where the value decides
nothing (through the Flask test client; tests/syncapi/test_gunicorn_broken_bodies.py covers what only a
real server sees)."""
import datetime as dt
import json

import pytest
from sqlalchemy import select

from skyfleet.extensions import db
from skyfleet.models import Asset, Camera
from tests.conftest import add_api_user
from tests.helpers import metadata as mdh
from tests.helpers.media import fake
from tests.helpers.storage import assert_consistent, assert_nothing_stored
from tests.helpers.wire import (
    CAMERA_UUID,
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
HUGE = 10**400


def error(resp, status, code=None):
    assert resp.status_code == status, (resp.status_code, resp.get_data()[:300])
    assert resp.is_json, resp.get_data()[:300]
    body = resp.get_json()
    assert code is None or body["error"] == code, body
    return body


def nested(depth: int, shape: str) -> str:
    return "[" * depth + "]" * depth if shape == "arrays" else '{"k": ' * depth + "1" + "}" * depth


def with_raw_value(meta: dict, key: str, raw_json: str) -> bytes:
    """The metadata as Python writes it, with `key` set to JSON text json.dumps cannot produce."""
    return dumps(dict(meta, **{key: "@@RAW@@"})).replace(b'"@@RAW@@"', raw_json.encode())


@pytest.fixture
def roomy(app_factory):
    """A server whose metadata limit lets 100,000 levels of objects through to the parser."""
    app = app_factory(syncapi={"max_metadata_kb": 1024})
    add_api_user(app)
    sender = Sender(app.test_client())
    assert sender.send("PUT", "camera", mdh.camera(), b"").status_code == 200
    return app, sender


@pytest.mark.parametrize("depth", [1000, 10_000, 100_000])
@pytest.mark.parametrize("shape", ["arrays", "objects"])
def test_deeply_nested_field_is_kept(roomy, depth, shape):
    app, sender = roomy
    media = fake(".jpg", b"deep")
    raw = with_raw_value(sized(mdh.asset("image"), media), "exposure", nested(depth, shape))
    resp = sender.send("PUT", "image", None, media, raw_metadata=raw)
    assert resp.status_code == 200, resp.get_json()
    with app.app_context():
        asset = db.session.get(Asset, resp.get_json()["id"])
        assert asset.exposure is None and "exposure" in asset.data["_received"]
    assert_consistent(app)


@pytest.mark.parametrize("depth", [1000, 100_000])
def test_deeply_nested_data_is_kept(roomy, depth):
    app, sender = roomy
    media = fake(".jpg", b"deep")
    raw = with_raw_value(sized(mdh.asset("image"), media), "data", '{"uptime": 5, "deep": ' + nested(depth, "arrays")
                         + "}")
    resp = sender.send("PUT", "image", None, media, raw_metadata=raw)
    assert resp.status_code == 200, resp.get_json()
    with app.app_context():
        assert db.session.get(Asset, resp.get_json()["id"]).data["uptime"] == 5


@pytest.mark.parametrize("depth", [1000, 100_000])
@pytest.mark.parametrize("shape", ["arrays", "objects"])
def test_deeply_nested_document_is_refused(roomy, depth, shape):
    app, sender = roomy
    body = error(sender.send("PUT", "image", None, b"x", raw_metadata=nested(depth, shape).encode()), 422)
    # an array is no metadata object; an object of objects lacks every key
    assert body["error"] == ("metadata_not_json" if shape == "arrays" else "metadata_missing_key")
    assert_nothing_stored(app)


@pytest.mark.parametrize("key", ["createDate", "camera_uuid", "dayDate", "night", "file_size"])
def test_deeply_nested_key_field_names_the_key(roomy, key):
    app, sender = roomy
    raw = with_raw_value(sized(mdh.asset("image"), b"x"), key, nested(5000, "arrays"))
    body = error(sender.send("PUT", "image", None, b"x", raw_metadata=raw), 422)
    assert repr(key) in body["message"]
    assert_nothing_stored(app)


def test_skyfleet_date_must_be_ascii_digits(app, client, camera):
    meta = dumps(sized(mdh.asset("image"), b"x"))
    body, ctype = multipart(meta, b"x")
    for date in ["²", "١٧٣٥٦٨٩٨٤٥", "9" * 400, "9" * 5000, "1735689845.0", "-5", "+5", " 5"]:
        headers = v2_headers(EXAMPLE_USER, EXAMPLE_KEY, "POST", IMAGE, meta, b"x")
        headers["X-Skyfleet-Date"] = date
        resp = client.post(IMAGE, data=body, content_type=ctype, headers=headers)
        assert "X-Skyfleet-Date" in error(resp, 401, "authentication failed")["message"], date
    assert_nothing_stored(app)


def test_boundary_outside_rfc_2046_is_refused(app, client, camera):
    meta = dumps(sized(mdh.asset("image"), b"x"))
    for ctype in ["multipart/form-data; boundary*=UTF-8''%E2%82%AC", "multipart/form-data; boundary*=UTF-8''%00abc",
                  "multipart/form-data; boundary*0*=UTF-8''%C3%A9; boundary*1=x",
                  'multipart/form-data; boundary="ends with space "', "multipart/form-data; boundary=" + "b" * 201]:
        resp = client.post(IMAGE, data=b"--x\r\n", headers={**v1_headers(EXAMPLE_USER, EXAMPLE_KEY, meta),
                                                           "Content-Type": ctype})
        assert "boundary" in error(resp, 400, "multipart_invalid")["message"], ctype
    assert_nothing_stored(app)


def test_rfc_2231_boundary_with_plain_characters_works(app, client, camera):
    media = fake(".jpg", b"x")
    meta = dumps(sized(mdh.asset("image"), media))
    body, _ = multipart(meta, media, boundary="plain-boundary")
    ctype = "multipart/form-data; boundary*=UTF-8''plain-boundary"
    resp = client.post(IMAGE, data=body, headers={**v1_headers(EXAMPLE_USER, EXAMPLE_KEY, meta), "Content-Type": ctype})
    assert resp.status_code == 200, resp.get_json()


BEYOND = ["1" + "0" * 400, "-1" + "0" * 400, "1e400", "-1e400", "NaN", "Infinity", "9" * 5000]


@pytest.mark.parametrize("key", ["exposure", "stars", "utc_offset", "width", "calibrated"])
def test_numbers_beyond_range_in_fields_are_accepted(app, sender, camera, key):
    for raw in BEYOND:
        media = fake(".jpg", raw[:8].encode())  # new bytes each time: PUT replaces the row
        meta = with_raw_value(sized(mdh.asset("image"), media), key, raw)
        resp = sender.send("PUT", "image", None, media, raw_metadata=meta)
        assert resp.status_code == 200, (raw[:10], resp.get_json())
        with app.app_context():
            asset = db.session.get(Asset, resp.get_json()["id"])
            assert getattr(asset, key) == (-18000 if key == "utc_offset" else None), raw[:10]
        assert_consistent(app)


@pytest.mark.parametrize("key", ["createDate", "file_size", "night", "dayDate", "camera_uuid"])
def test_numbers_beyond_range_in_key_fields_name_the_key(app, sender, camera, key):
    for raw in BEYOND:
        meta = with_raw_value(sized(mdh.asset("image"), b"x"), key, raw)
        body = error(sender.send("PUT", "image", None, b"x", raw_metadata=meta), 422)
        assert repr(key) in body["message"], raw[:10]
    assert_nothing_stored(app)


def test_huge_id_in_a_lookup_names_it(sender, camera):
    raw = with_raw_value({"camera_uuid": CAMERA_UUID}, "id", "1" + "0" * 400)
    for segment in ("camera", "image"):
        body = error(sender.send("GET", segment, None, b"", raw_metadata=raw), 422)
        assert "'id'" in body["message"]


@pytest.mark.parametrize("key,value", [("width", 2**40), ("stars", -(2**31) - 1), ("origin", 2**31)])
def test_integers_beyond_the_32_bit_columns_are_kept(app, sender, camera, key, value):
    kind = "thumbnail" if key == "origin" else "image"
    resp = sender.send("PUT", kind, mdh.asset(kind, **{key: value}), fake(".jpg", b"x"))
    assert resp.status_code == 200, resp.get_json()
    with app.app_context():
        assert db.session.get(Asset, resp.get_json()["id"]).data["_received"] == {key: value}


@pytest.mark.parametrize("value", ["nul\x00inside", "lone \ud800 surrogate", "z" * 129])
def test_camera_text_a_database_cannot_hold_is_kept(app, sender, value):
    resp = sender.send("PUT", "camera", dict(mdh.camera(), driver=value, owner=value, location=value), b"")
    assert resp.status_code == 200, resp.get_json()
    with app.app_context():
        camera = db.session.scalar(select(Camera))
        assert camera.driver is None and camera.data["_received"]["owner"] == value


def test_camera_tz_longer_than_its_column_is_kept(app, sender):
    tz = "America/" + "Argentina/" * 7  # 78 characters: the column holds 64
    assert sender.send("PUT", "camera", dict(mdh.camera(), tz=tz), b"").status_code == 200
    with app.app_context():
        camera = db.session.scalar(select(Camera))
        assert camera.tz is None and camera.data["_received"] == {"tz": tz}


@pytest.mark.parametrize("where", ["preamble", "epilogue"])
def test_megabytes_of_framing_are_refused_not_buffered(app, client, camera, where):
    meta = dumps(sized(mdh.asset("image"), b"x"))
    body, ctype = multipart(meta, b"x")
    junk = b"j" * (2 * 1024 * 1024)
    body = junk + b"\r\n" + body if where == "preamble" else body + junk
    resp = client.post(IMAGE, data=body, content_type=ctype, headers=v1_headers(EXAMPLE_USER, EXAMPLE_KEY, meta))
    error(resp, 400, "multipart_invalid")
    assert_nothing_stored(app)


def test_body_longer_than_announced_media_is_refused(app, sender, camera):
    meta = dumps(dict(mdh.asset("image"), file_size=3))
    error(sender.send("PUT", "image", None, b"four", raw_metadata=meta), 400, "size_mismatch")
    assert_nothing_stored(app)


def test_lookup_metadata_is_never_a_server_error(sender, camera):
    for meta in ({"camera_uuid": CAMERA_UUID, "createDate": "x"}, {"camera_uuid": CAMERA_UUID, "dayDate": 5},
                 {"camera_uuid": 5}, {"uuid": []}, {}):
        for segment in ("camera", "image", "video", "thumbnail", "minivideo"):
            resp = sender.send("GET", segment, None, b"", raw_metadata=json.dumps(meta).encode())
            assert resp.status_code < 500 and resp.is_json, (segment, meta, resp.get_data()[:200])


def test_asset_stored_by_a_concurrent_request_is_409_not_500(app, sender, camera, monkeypatch):
    from skyfleet.syncapi import service
    real_free_name = service._free_name

    def other_request_commits_first(session, stem, ext, natural_key, existing):
        with db.engine.begin() as conn:  # the winner of the race, on its own connection
            conn.execute(Asset.__table__.insert().values(
                kind="image", camera_id=camera, natural_key=natural_key, create_date_utc=dt.datetime(2025, 1, 1),
                create_date=dt.datetime(2025, 1, 1), utc_offset=0, day_date=dt.date(2024, 12, 31), night=True,
                file_size=0, data={}, uploaded_at=dt.datetime(2025, 1, 1)))
        return real_free_name(session, stem, ext, natural_key, existing)

    monkeypatch.setattr(service, "_free_name", other_request_commits_first)
    error(sender.send("POST", "image", mdh.asset("image"), fake(".jpg", b"loser")), 409, "file_exists")
    with app.app_context():
        assert [a.filename for a in db.session.scalars(select(Asset))] == [None]  # the winner's row only
    assert_consistent(app)


def test_camera_created_by_a_concurrent_request_is_updated(app, sender, monkeypatch):
    from skyfleet.syncapi import cameras
    real_name = cameras._name

    def other_request_commits_first(fields, current):
        if not getattr(other_request_commits_first, "done", False):
            other_request_commits_first.done = True
            with db.engine.begin() as conn:
                conn.execute(Camera.__table__.insert().values(
                    uuid=CAMERA_UUID, name="winner", utc_offset=0, hidden=False, data={},
                    created_at=dt.datetime(2025, 1, 1)))
        return real_name(fields, current)

    monkeypatch.setattr(cameras, "_name", other_request_commits_first)
    resp = sender.send("PUT", "camera", mdh.camera(), b"")
    assert resp.status_code == 200, resp.get_json()
    with app.app_context():
        assert [(c.id, c.name) for c in db.session.scalars(select(Camera))] == [(resp.get_json()["id"],
                                                                                  "ZWO ASI462MC")]
