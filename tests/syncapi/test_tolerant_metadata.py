"""Fields that decide neither identity, a path nor a size are never refused: a value that fits its column
is stored there, anything else is kept as received under data["_received"][<key>]."""
import pytest
from sqlalchemy import select

from skyfleet.extensions import db
from skyfleet.models import Asset, Camera, LongTermKeogram
from tests.helpers import metadata as mdh
from tests.helpers.media import fake
from tests.helpers.storage import assert_consistent
from tests.helpers.wire import CAMERA_UUID

HUGE = 10**400  # valid JSON, and an int beyond float range once parsed


def stored(app, resp) -> Asset:
    assert resp.status_code == 200, resp.get_json()
    assert_consistent(app)
    with app.app_context():
        asset = db.session.get(Asset, resp.get_json()["id"])
        db.session.expunge(asset)
        return asset


def stored_camera(app) -> Camera:
    with app.app_context():
        camera = db.session.scalar(select(Camera).where(Camera.uuid == CAMERA_UUID))
        db.session.expunge(camera)
        return camera


def test_adu_roi_list_is_stored(app, sender, camera):
    empty = stored(app, sender.send("PUT", "image", mdh.asset("image", adu_roi=[]), fake(".jpg", b"a" * 10)))
    assert empty.adu_roi == [] and "_received" not in empty.data
    later = mdh.NIGHT_START + 60
    box = stored(app, sender.send("PUT", "image", mdh.asset("image", when=later, adu_roi=[10, 20, 630, 460]),
                                     fake(".jpg", b"b")))
    assert box.adu_roi == [10, 20, 630, 460]


def test_adu_roi_false_from_older_clients_means_no_roi(app, sender, camera):
    assert stored(app, sender.send("PUT", "image", mdh.asset("image", adu_roi=False), fake(".jpg", b"a"))).adu_roi == []


@pytest.mark.parametrize("key,value,column", [
    ("exposure", 300, 300.0), ("binmode", 2.0, 2), ("stable", 1, True), ("moonmode", 0, False),
    ("temp", None, None), ("sqm", float("nan"), None), ("gain", float("inf"), None),
])
def test_values_that_convert_cleanly_go_to_their_column(app, sender, camera, key, value, column):
    asset = stored(app, sender.send("PUT", "image", mdh.asset("image", **{key: value}), fake(".jpg", b"x")))
    assert getattr(asset, key) == column and type(getattr(asset, key)) is type(column)
    assert "_received" not in asset.data


KEPT = [("exposure", "long"), ("exposure", HUGE), ("exposure", [15.0]), ("exposure", {"s": 15}), ("exposure", True),
        ("stars", 1.5), ("stars", 2**40), ("stars", "412"), ("binmode", -HUGE), ("stable", "yes"), ("stable", 2),
        ("adu_roi", True), ("adu_roi", "0,0,10,10"), ("adu_roi", [1, "a"]), ("adu_roi", {"x": 1}),
        ("width", 2**31), ("height", "1080"), ("remote_url", "https://x/" + "u" * 600), ("s3_key", 7),
        ("kpindex", "2.33"), ("exclude", [])]


def test_values_that_fit_no_column_are_kept_as_received(app, sender, camera):
    for n, (key, value) in enumerate(KEPT):
        asset = stored(app, sender.send("PUT", "image", mdh.asset("image", **{key: value}),
                                        fake(".jpg", b"x" * (n + 1))))
        assert getattr(asset, key) is None, key
        assert asset.data["_received"] == {key: value}, key
        assert asset.data["uptime"] == 86400  # the client's own data is untouched


@pytest.mark.parametrize("value", ["a\x00b", "\ud800", "x" * 513])
def test_strings_a_column_cannot_hold_are_kept(app, sender, camera, value):
    asset = stored(app, sender.send("PUT", "image", mdh.asset("image", s3_key=value), fake(".jpg", b"x")))
    assert asset.s3_key is None and asset.data["_received"] == {"s3_key": value}


def test_nan_inside_kept_values_becomes_null(app, sender, camera):
    asset = stored(app, sender.send("PUT", "image", mdh.asset("image", exposure=[float("nan"), 1]), fake(".jpg", b"x")))
    assert asset.data["_received"] == {"exposure": [None, 1]}


@pytest.mark.parametrize("value", [[1, 2], "text", 5, True])
def test_data_that_is_not_an_object_is_kept(app, sender, camera, value):
    asset = stored(app, sender.send("PUT", "image", mdh.asset("image", data=value), fake(".jpg", b"x")))
    assert asset.data == {"_received": {"data": value}}


def test_a_clients_own_received_key_is_kept_beside_the_servers(app, sender, camera):
    asset = stored(app, sender.send("PUT", "image", mdh.asset("image", data={"_received": 1, "a": 2}, stars="x"),
                                    fake(".jpg", b"x")))
    assert asset.data == {"a": 2, "_received": {"data._received": 1, "stars": "x"}}


def test_keys_without_a_column_are_kept(app, sender, camera):
    asset = stored(app, sender.send("PUT", "video", mdh.asset("video", aurora=[1, 2], exposure=15.0),
                                    fake(".mp4", b"v"), media_name="v.mp4"))
    assert asset.data["_received"] == {"aurora": [1, 2], "exposure": 15.0}


def test_missing_or_unusable_utc_offset_falls_back_to_the_cameras(app, sender, camera):
    meta = mdh.asset("image")
    del meta["utc_offset"]
    asset = stored(app, sender.send("PUT", "image", meta, fake(".jpg", b"x")))
    assert asset.utc_offset == -18000 and str(asset.create_date) == "2024-12-31 19:00:00"
    later = mdh.NIGHT_START + 60
    odd = stored(app, sender.send("PUT", "image", mdh.asset("image", when=later, utc_offset=99999), fake(".jpg", b"y")))
    assert odd.utc_offset == -18000 and odd.data["_received"] == {"utc_offset": 99999}
    assert stored_camera(app).utc_offset == -18000


def test_bad_keogram_pixels_are_kept_and_make_no_keogram_row(app, sender, camera):
    pixels = [[1, 2, 3], [4, 5]]
    asset = stored(app, sender.send("PUT", "image", mdh.asset("image", keogram_pixels=pixels), fake(".jpg", b"x")))
    assert asset.data["_received"] == {"keogram_pixels": pixels}
    with app.app_context():
        assert db.session.scalars(select(LongTermKeogram)).all() == []


def test_bad_thumbnail_origin_means_indi_allskys_default(app, sender, camera):
    meta = mdh.asset("thumbnail", origin="image")
    asset = stored(app, sender.send("PUT", "thumbnail", meta, fake(".jpg", b"t")))
    assert asset.origin == -1 and asset.data["_received"] == {"origin": "image"}
    assert "/exposures/" in asset.filename


def test_minivideo_note_and_target_date_are_tolerant(app, sender, camera):
    meta = mdh.asset("minivideo", note=["meteor"], targetDate="soon")
    asset = stored(app, sender.send("PUT", "minivideo", meta, fake(".mp4", b"m"), media_name="m.mp4"))
    assert asset.note is None and asset.target_date is None
    assert asset.data["_received"] == {"note": ["meteor"], "targetDate": "soon"}


def test_camera_values_that_fit_no_column_are_kept(app, sender):
    meta = dict(mdh.camera(), latitude="north", elevation=HUGE, tz="Europe/" + "x" * 60, width=1.5,
                driver=None, minExposure=float("nan"))
    resp = sender.send("PUT", "camera", meta, b"", media_name="bogus.ext")
    assert resp.status_code == 200, resp.get_json()
    camera = stored_camera(app)
    assert camera.latitude is None and camera.elevation is None and camera.tz is None and camera.width is None
    assert camera.longitude == -75.2 and camera.name == "ZWO ASI462MC"
    assert camera.data["_received"] == {"latitude": "north", "elevation": HUGE, "tz": meta["tz"], "width": 1.5}
    assert camera.data["camera"] == {"minExposure": None} and camera.data["vs_enabled"] is True
    # the next clean sync stores the values and forgets what the last one could not store
    assert sender.send("PUT", "camera", mdh.camera(), b"", media_name="bogus.ext").status_code == 200
    camera = stored_camera(app)
    assert camera.latitude == 40.1 and "_received" not in camera.data


def test_camera_name_is_cut_to_its_column_and_kept_whole(app, sender):
    name = "N" * 300
    assert sender.send("PUT", "camera", mdh.camera(name=name), b"").status_code == 200
    camera = stored_camera(app)
    assert camera.name == "N" * 128 and camera.data["_received"] == {"name": name}


@pytest.mark.parametrize("name", [None, 5, "", "\ud800"])
def test_camera_without_a_usable_name_is_still_synced(app, sender, name):
    meta = mdh.camera()
    meta["name"] = name
    assert sender.send("PUT", "camera", meta, b"").status_code == 200
    assert stored_camera(app).name == f"camera {CAMERA_UUID}"
