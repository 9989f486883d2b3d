"""What indi-allsky v2026.08.1's own client sends, through real gunicorn: every recorded request is
accepted at its endpoint, found again with GET by its id, and its row holds every sent value (nothing
left over in data["_received"]) while its file holds the sent bytes."""
from __future__ import annotations

import datetime as dt
import hashlib
import json

import pytest
import requests
from sqlalchemy import select

from skyfleet.extensions import db
from skyfleet.models import Asset, Camera, LongTermKeogram
from tests.helpers.indi_allsky import CAMERA, FIXTURES, fixtures_dir, request_parts
from tests.helpers.live import app_on_server_database, running_server

pytestmark = pytest.mark.slow
ASSET_FIXTURES = [f for f in FIXTURES if f.segment != "camera"]
# Keys that name no column: the request's type code (the path decides), the client's own size field.
NOT_COLUMNS = {"type", "fileSize", "camera_uuid", "keogram_pixels", "data"}
TIMES = {"createDate": "create_date_utc", "targetDate": "target_date", "startDate": "start_date",
         "endDate": "end_date"}
CAMERA_IGNORED = {"type", "hidden", "web_nonlocal_images", "web_local_images_admin", "file_size", "uuid"}
CAMERA_COLUMNS = {"name", "driver", "tz", "location", "owner", "latitude", "longitude", "elevation", "width",
                  "height", "utc_offset"}


def test_every_recorded_request_has_an_endpoint_here():
    assert sorted(p.name for p in fixtures_dir().glob("*.json")) == sorted(f.file for f in FIXTURES)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with running_server(tmp_path_factory.mktemp("indi-allsky")) as srv:
        yield srv


@pytest.fixture(scope="module")
def database(server):
    """An app on the live server's database, to look at the rows it wrote."""
    with app_on_server_database(server) as app:
        yield app


def put(server, fixture, media: bytes):
    body, headers = request_parts(server.user, server.key, fixture.raw, media, fixture.media_name)
    return requests.put(f"{server.url}/indi-allsky/sync/v1/{fixture.segment}", data=body, headers=headers,
                        timeout=60)


def get(server, segment: str, meta: dict):
    body, headers = request_parts(server.user, server.key, json.dumps(meta).encode(), b"", "bogus.ext")
    return requests.get(f"{server.url}/indi-allsky/sync/v1/{segment}", data=body, headers=headers, timeout=60)


@pytest.fixture(scope="module")
def camera_id(server):
    resp = put(server, CAMERA, b"")
    assert resp.status_code == 200, resp.text
    return resp.json()["id"]


def utc(epoch: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(epoch, dt.timezone.utc).replace(tzinfo=None)


def test_camera_sync_is_stored_and_found_by_id(server, database, camera_id):
    sent = CAMERA.meta
    found = get(server, "camera", {"id": camera_id, "camera_uuid": sent["uuid"]})
    assert found.status_code == 200 and found.json() == {"id": camera_id}, found.text
    with database.app_context():
        camera = db.session.get(Camera, camera_id)
        assert camera.uuid == sent["uuid"]
        for key in CAMERA_COLUMNS:
            assert getattr(camera, key) == sent[key], key
        assert "_received" not in camera.data
        assert {k: camera.data[k] for k in sent["data"]} == sent["data"]
        extras = {k: v for k, v in sent.items() if k not in CAMERA_COLUMNS | CAMERA_IGNORED | {"data"}}
        assert camera.data["camera"] == extras


@pytest.mark.parametrize("fixture", ASSET_FIXTURES, ids=lambda f: f.file)
def test_recorded_request_is_stored_and_found_by_id(server, database, camera_id, fixture):
    media = fixture.media()
    resp = put(server, fixture, media)
    assert resp.status_code == 200, resp.text
    asset_id = resp.json()["id"]
    sent = fixture.meta

    found = get(server, fixture.segment, {"id": asset_id, "camera_uuid": sent["camera_uuid"],
                                          "utc_offset": sent["utc_offset"]})
    assert found.status_code == 200, found.text
    assert found.json() == {"id": asset_id, "url": resp.json()["url"], "file_size": len(media),
                            "sha256": hashlib.sha256(media).hexdigest(), "kind": fixture.segment}
    if media:
        stored = requests.get(f"{server.url}/indi-allsky/{resp.json()['url']}", timeout=30)
        assert stored.status_code == 200 and stored.content == media
    else:
        assert resp.json()["url"] is None  # EMPTY_FILE: the row without a file

    with database.app_context():
        row = db.session.get(Asset, asset_id)
        assert (row.kind, row.camera_id, row.file_size) == (fixture.segment, camera_id, len(media))
        assert (row.filename is None) == (not media)
        assert row.data == sent.get("data", {})  # all of it, and nothing kept as not understood
        assert row.day_date.strftime("%Y%m%d") == sent["dayDate"]
        for key, value in sent.items():
            if key in TIMES:
                assert getattr(row, TIMES[key]) == utc(value), key
            elif key not in NOT_COLUMNS | {"dayDate"}:
                assert getattr(row, key) == value, key
        if "keogram_pixels" in sent:
            pixels = db.session.scalars(select(LongTermKeogram).where(
                LongTermKeogram.camera_id == camera_id, LongTermKeogram.ts == sent["createDate"])).one()
            assert pixels.pixels == sent["keogram_pixels"]
