"""GET and DELETE honour `id` on every endpoint: indi-allsky's client sends `id` + `camera_uuid`
(+ `utc_offset`); an id that does not exist, or belongs to another camera, is 404 even when the uuid
or the asset's key matches, and DELETE then removes nothing."""
import time

import pytest
from sqlalchemy import func, select

from skyfleet.extensions import db
from skyfleet.models import Asset
from tests.helpers import metadata as mdh
from tests.helpers.media import fake
from tests.helpers.storage import assert_consistent
from tests.helpers.wire import CAMERA_UUID

OTHER_UUID = "0b9f1c2e-3d4a-4b5c-8d6e-7f8091a2b3c4"


def lookup(sender, method, segment, v1_time=None, **meta):
    return sender.send(method, segment, meta, media=b"", media_name="bogus.ext", add_size=False, v1_time=v1_time)


@pytest.fixture
def two_cameras(sender, camera):
    other = sender.send("PUT", "camera", mdh.camera("Other", camera_uuid=OTHER_UUID), b"", media_name="bogus.ext")
    assert other.status_code == 200
    return camera, other.get_json()["id"]


def test_camera_get_by_id_and_uuid(sender, two_cameras):
    mine, other = two_cameras
    assert lookup(sender, "GET", "camera", id=mine, camera_uuid=CAMERA_UUID).get_json() == {"id": mine}
    assert lookup(sender, "GET", "camera", id=other).get_json() == {"id": other}
    assert lookup(sender, "GET", "camera", camera_uuid=OTHER_UUID).get_json() == {"id": other}


@pytest.mark.parametrize("which", ["other camera's id", "unknown id"])
def test_camera_get_with_an_id_that_is_not_this_cameras_is_404(sender, two_cameras, which):
    mine, other = two_cameras
    camera_id = other if which == "other camera's id" else other + 100
    resp = lookup(sender, "GET", "camera", id=camera_id, camera_uuid=CAMERA_UUID)
    assert resp.status_code == 404 and resp.get_json()["error"] == "camera_missing"


@pytest.mark.parametrize("value", ["1", 0, -1, 1.5, True, 10**400, [1]])
def test_camera_get_with_a_bad_id_names_it(sender, two_cameras, value):
    resp = lookup(sender, "GET", "camera", id=value, camera_uuid=CAMERA_UUID)
    assert resp.status_code == 422 and "'id'" in resp.get_json()["message"]


@pytest.fixture
def images(app, sender, two_cameras):
    """One image per camera at the same createDate: the same key, different ids."""
    ids = []
    for camera_uuid in (CAMERA_UUID, OTHER_UUID):
        resp = sender.send("POST", "image", mdh.asset("image", camera_uuid=camera_uuid),
                           fake(".jpg", camera_uuid.encode()))
        assert resp.status_code == 200, resp.get_json()
        ids.append(resp.get_json()["id"])
    return ids


def asset_count(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count(Asset.id)))


@pytest.mark.parametrize("method", ["GET", "DELETE"])
def test_another_cameras_asset_id_is_404_even_when_the_key_matches(app, sender, images, method):
    mine, others = images
    resp = lookup(sender, method, "image", id=others, camera_uuid=CAMERA_UUID, utc_offset=mdh.OFFSET,
                  createDate=mdh.NIGHT_START)
    assert resp.status_code == 404 and resp.get_json()["error"] == "file_missing"
    assert asset_count(app) == 2
    assert_consistent(app)


@pytest.mark.parametrize("method", ["GET", "DELETE"])
def test_unknown_id_is_404_even_when_the_key_matches(app, sender, images, method):
    resp = lookup(sender, method, "image", id=max(images) + 10, camera_uuid=CAMERA_UUID,
                  createDate=mdh.NIGHT_START)
    assert resp.status_code == 404
    assert asset_count(app) == 2


@pytest.mark.parametrize("method", ["GET", "DELETE"])
def test_id_and_the_key_of_another_asset_is_404(app, sender, images, method):
    mine, _ = images
    later = mdh.NIGHT_START + 60
    assert sender.send("POST", "image", mdh.asset("image", when=later), fake(".jpg", b"later")).status_code == 200
    resp = lookup(sender, method, "image", id=mine, camera_uuid=CAMERA_UUID, createDate=later)
    assert resp.status_code == 404
    assert asset_count(app) == 3


def test_id_of_another_kind_is_404(sender, images):
    mine, _ = images
    assert lookup(sender, "GET", "video", id=mine, camera_uuid=CAMERA_UUID).status_code == 404


def test_indi_allsky_get_and_delete_by_id(app, sender, images):
    mine, others = images
    meta = {"id": mine, "camera_uuid": CAMERA_UUID, "utc_offset": mdh.OFFSET}  # what its client sends
    found = lookup(sender, "GET", "image", **meta)
    assert found.status_code == 200 and found.get_json()["id"] == mine
    # The same metadata as the GET: signed in the previous 5-minute bucket, as the client would sign it a
    # few minutes later (one v1 MAC with two methods is refused as a replay, test_v1_replay.py).
    assert lookup(sender, "DELETE", "image", v1_time=time.time() - 300, **meta).get_json() == {}
    assert lookup(sender, "GET", "image", v1_time=time.time() - 600, **meta).status_code == 404
    with app.app_context():
        assert [a.id for a in db.session.scalars(select(Asset))] == [others]
    assert_consistent(app)


@pytest.mark.parametrize("value", ["7", 0, 1.5, False, 10**400, {"id": 1}])
def test_asset_lookup_with_a_bad_id_names_it(sender, images, value):
    resp = lookup(sender, "GET", "image", id=value, camera_uuid=CAMERA_UUID)
    assert resp.status_code == 422 and "'id'" in resp.get_json()["message"]
