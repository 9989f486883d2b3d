"""A camera belongs to the account that registered it: only that account and admins may change the
camera or its assets, or read them through the SyncAPI.  A camera without an owner and without assets
(legacy, or its account was deleted) is claimed by the next account that syncs it; one with assets (the
host's own camera, or one whose owner was deleted) only changes hands through the operator.

The first three tests replay the security review (issue 13, item 5): user B PUT over A's image,
renamed A's camera and DELETEd A's image.
"""
from __future__ import annotations

import logging
import time

import pytest
from sqlalchemy import select, update

from skyfleet import local_assets
from skyfleet.core.errors import SyncError
from skyfleet.extensions import db, skyfleet_state
from skyfleet.models import Asset, Camera, User
from skyfleet.syncapi import cameras
from tests.conftest import add_api_user
from tests.helpers import media
from tests.helpers import metadata as mdh
from tests.helpers.storage import assert_consistent, storage_root
from tests.helpers.wire import CAMERA_UUID, EXAMPLE_USER, Sender

OTHER_USER, OTHER_KEY = "other-sync", "ab" * 32
ADMIN_USER, ADMIN_KEY = "fleet-admin", "cd" * 32
FIRST, SECOND = media.jpeg(2000), media.jpeg(3000)
SCHEMES = ("v1", "skyfleet")


@pytest.fixture
def other(app, client):
    add_api_user(app, OTHER_USER, OTHER_KEY)
    return Sender(client, user=OTHER_USER, key=OTHER_KEY)


@pytest.fixture
def admin(app, client):
    add_api_user(app, ADMIN_USER, ADMIN_KEY, admin=True)
    return Sender(client, user=ADMIN_USER, key=ADMIN_KEY)


@pytest.fixture
def image(sender, camera):
    """A's image on A's camera: its id."""
    resp = sender.send("POST", "image", mdh.asset("image"), FIRST)
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()["id"]


def lookup(asset_id: int) -> dict:
    return {"id": asset_id, "camera_uuid": CAMERA_UUID, "utc_offset": mdh.OFFSET}


def send_lookup(s: Sender, method: str, asset_id: int):
    # A GET and a DELETE of the same id carry the same metadata: in v1 the DELETE is signed in the
    # previous 5-minute bucket, since one v1 MAC with two methods is refused as a replay.
    earlier = time.time() - 300 if method == "DELETE" else None
    return s.send(method, "image", lookup(asset_id), media=b"", media_name="bogus.ext", add_size=False,
                  v1_time=earlier)


def refused(resp, code: str = "not_camera_owner", camera_uuid: str = CAMERA_UUID) -> dict:
    assert resp.status_code == 403, (resp.status_code, resp.get_data(as_text=True))
    assert resp.is_json
    body = resp.get_json()
    assert body["error"] == code
    assert camera_uuid in body["message"]
    assert EXAMPLE_USER not in body["message"]  # the owner is not named to the other account
    return body


def stored_image(app, asset_id: int) -> tuple:
    with app.app_context():
        asset = db.session.get(Asset, asset_id)
        assert asset is not None
        return asset.sha256, (storage_root(app) / asset.filename).read_bytes()


def camera_row(app) -> Camera:
    with app.app_context():
        cam = db.session.scalar(select(Camera).where(Camera.uuid == CAMERA_UUID))
        db.session.expunge(cam)
        return cam


def user_id(app, username: str) -> int:
    with app.app_context():
        return db.session.scalar(select(User.id).where(User.username == username))


def disown(app) -> None:
    with app.app_context():
        db.session.execute(update(Camera).values(registered_by_id=None))
        db.session.commit()


# --- the review's three findings ---------------------------------------------------------------

@pytest.mark.parametrize("scheme", SCHEMES)
def test_other_account_cannot_put_over_an_image(app, image, other, scheme):
    other.scheme = scheme
    before = stored_image(app, image)
    refused(other.send("PUT", "image", mdh.asset("image"), SECOND))
    assert stored_image(app, image) == before
    assert before[1] == FIRST
    assert_consistent(app)


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("method", ["PUT", "POST"])
def test_other_account_cannot_rename_a_camera(app, camera, other, method, scheme):
    other.scheme = scheme
    refused(other.send(method, "camera", mdh.camera("hijacked"), media=b"", media_name="bogus.ext"))
    cam = camera_row(app)
    assert (cam.id, cam.name) == (camera, "ZWO ASI462MC")
    assert cam.registered_by_id == user_id(app, EXAMPLE_USER)


@pytest.mark.parametrize("scheme", SCHEMES)
def test_other_account_cannot_delete_an_image(app, image, other, scheme):
    other.scheme = scheme
    before = stored_image(app, image)
    refused(send_lookup(other, "DELETE", image))
    assert stored_image(app, image) == before
    assert_consistent(app)


# --- the rest of what another account may not do ------------------------------------------------

def test_other_account_cannot_add_an_asset_to_the_camera(app, camera, other):
    refused(other.send("POST", "image", mdh.asset("image"), FIRST))
    refused(other.send("PUT", "keogram", mdh.asset("keogram"), FIRST, media_name="k.jpg"))
    with app.app_context():
        assert db.session.scalars(select(Asset)).all() == []
    assert_consistent(app)


def test_refusal_does_not_update_the_camera_offset(app, camera, other):
    refused(other.send("POST", "image", mdh.asset("image", utc_offset=3600.0), FIRST))
    assert camera_row(app).utc_offset == int(mdh.OFFSET)


def test_other_account_cannot_read_the_camera_or_its_assets(app, camera, image, other):
    refused(send_lookup(other, "GET", image))
    by_uuid = other.send("GET", "camera", {"camera_uuid": CAMERA_UUID}, media=b"", add_size=False)
    refused(by_uuid)
    # Named by id alone, another account's camera looks like no camera at all (no uuid, no existence).
    by_id = other.send("GET", "camera", {"id": camera}, media=b"", add_size=False)
    assert by_id.status_code == 404 and by_id.get_json()["error"] == "camera_missing"
    assert CAMERA_UUID not in by_id.get_data(as_text=True)
    missing = other.send("GET", "camera", {"id": camera + 100}, media=b"", add_size=False)
    assert missing.status_code == 404 and missing.get_json() == by_id.get_json()


def test_refusals_are_logged_with_both_accounts(app, camera, other, caplog):
    caplog.set_level(logging.WARNING)
    refused(other.send("PUT", "camera", mdh.camera("hijacked"), media=b"", media_name="bogus.ext"))
    assert OTHER_USER in caplog.text and EXAMPLE_USER in caplog.text and CAMERA_UUID in caplog.text


# --- what the owner and admins still may do -----------------------------------------------------

def test_owner_still_can_overwrite_rename_read_and_delete(app, sender, image):
    assert sender.send("PUT", "image", mdh.asset("image"), SECOND).status_code == 200
    assert stored_image(app, image)[1] == SECOND
    renamed = sender.send("PUT", "camera", mdh.camera("Backyard"), media=b"", media_name="bogus.ext")
    assert renamed.status_code == 200 and camera_row(app).name == "Backyard"
    got = sender.send("GET", "camera", {"camera_uuid": CAMERA_UUID}, media=b"", add_size=False)
    assert got.status_code == 200
    assert send_lookup(sender, "GET", image).status_code == 200
    assert send_lookup(sender, "DELETE", image).status_code == 200
    assert camera_row(app).registered_by_id == user_id(app, EXAMPLE_USER)
    assert_consistent(app)


@pytest.mark.parametrize("scheme", SCHEMES)
def test_admin_may_manage_every_camera(app, image, admin, scheme):
    admin.scheme = scheme
    assert admin.send("PUT", "image", mdh.asset("image"), SECOND).status_code == 200
    assert stored_image(app, image)[1] == SECOND
    renamed = admin.send("PUT", "camera", mdh.camera("Renamed by admin"), media=b"", media_name="bogus.ext")
    assert renamed.status_code == 200
    assert send_lookup(admin, "GET", image).status_code == 200
    assert send_lookup(admin, "DELETE", image).status_code == 200
    cam = camera_row(app)
    assert cam.name == "Renamed by admin"
    assert cam.registered_by_id == user_id(app, EXAMPLE_USER)  # managing is not taking over
    assert_consistent(app)


def test_new_camera_belongs_to_the_account_that_registered_it(app, other):
    resp = other.send("PUT", "camera", mdh.camera(), media=b"", media_name="bogus.ext")
    assert resp.status_code == 200
    assert camera_row(app).registered_by_id == user_id(app, OTHER_USER)


def test_cameras_of_different_accounts_do_not_interfere(app, sender, camera, other):
    mine = "0b7c4d2e-1f3a-4b5c-9d6e-7f8091a2b3c4"
    assert other.send("PUT", "camera", mdh.camera("Backyard", mine), media=b"",
                      media_name="bogus.ext").status_code == 200
    assert other.send("POST", "image", mdh.asset("image", camera_uuid=mine), FIRST).status_code == 200
    assert sender.send("POST", "image", mdh.asset("image"), FIRST).status_code == 200
    resp = sender.send("POST", "image", mdh.asset("image", camera_uuid=mine, createDate=mdh.NIGHT_START + 60),
                       FIRST)
    assert resp.status_code == 403 and mine in resp.get_json()["message"]


# --- cameras without an owner ----------------------------------------------------------------------

def test_camera_without_owner_or_assets_is_claimed_by_the_next_sync(app, camera, other, caplog):
    disown(app)
    caplog.set_level(logging.INFO)
    resp = other.send("PUT", "camera", mdh.camera("Claimed"), media=b"", media_name="bogus.ext")
    assert resp.status_code == 200, resp.get_json()
    cam = camera_row(app)
    assert (cam.registered_by_id, cam.name) == (user_id(app, OTHER_USER), "Claimed")
    assert "claimed" in caplog.text and OTHER_USER in caplog.text and CAMERA_UUID in caplog.text


def test_camera_with_images_but_no_owner_is_never_claimed(app, sender, image, other):
    """Like this host's own camera (recorded locally, no uploader): its uuid is public (media URLs), so
    whoever synced it first must not get its images."""
    disown(app)
    body = refused(other.send("PUT", "camera", mdh.camera("Taken"), media=b"", media_name="bogus.ext"),
                   code="camera_unclaimed")
    assert "skyfleet camera owner" in body["message"]
    cam = camera_row(app)
    assert cam.registered_by_id is None and cam.name != "Taken"
    refused(send_lookup(other, "DELETE", image), code="camera_unclaimed")
    assert send_lookup(sender, "GET", image).status_code == 200


def test_the_hosts_own_camera_cannot_be_claimed(app, other, tmp_path):
    with app.app_context():
        storage = skyfleet_state().storage
        own = local_assets.local_camera(db.session, "Rooftop")
        frame = tmp_path / "frame.jpg"
        frame.write_bytes(FIRST)
        local_assets.record_asset(db.session, storage, own, "image", mdh.asset("image", camera_uuid=own.uuid),
                                  frame)
        own_uuid = own.uuid
    refused(other.send("PUT", "camera", mdh.camera("Mine now", own_uuid), media=b"", media_name="bogus.ext"),
            code="camera_unclaimed", camera_uuid=own_uuid)
    with app.app_context():
        assert db.session.scalar(select(Camera).where(Camera.uuid == own_uuid)).registered_by_id is None


def test_the_hosts_own_camera_belongs_to_the_account_it_uploads_with(app, other, tmp_path):
    """On a host that is also the web server, the camera is recorded here (with images) before its
    first sync: it belongs to the first upload account that exists here, so its own sync is accepted."""
    with app.app_context():
        own = local_assets.local_camera(db.session, "Rooftop", ["self"], accounts=["no-such-account", OTHER_USER])
        frame = tmp_path / "frame.jpg"
        frame.write_bytes(FIRST)
        local_assets.record_asset(db.session, skyfleet_state().storage, own, "image",
                                  mdh.asset("image", camera_uuid=own.uuid), frame)
        own_uuid, owner = own.uuid, own.registered_by_id
    assert owner == user_id(app, OTHER_USER)
    resp = other.send("PUT", "camera", mdh.camera("Rooftop", own_uuid), media=b"", media_name="bogus.ext")
    assert resp.status_code == 200, resp.get_json()
    with app.app_context():  # no account of that name here (a plain camera host): no owner
        assert local_assets.local_camera(db.session, "Porch", accounts=["no-such-account"]).registered_by_id is None


def test_camera_whose_owner_was_deleted_is_claimed(app, sender, camera, other):
    with app.app_context():
        db.session.delete(db.session.scalar(select(User).where(User.username == EXAMPLE_USER)))
        db.session.commit()
        db.session.execute(update(Camera).values(registered_by_id=None))  # SQLite without FK enforcement
        db.session.commit()
    assert other.send("POST", "camera", mdh.camera(), media=b"", media_name="bogus.ext").status_code == 200
    assert camera_row(app).registered_by_id == user_id(app, OTHER_USER)


def test_camera_without_owner_takes_assets_only_after_it_is_claimed(app, camera, other, admin):
    disown(app)
    body = refused(other.send("POST", "image", mdh.asset("image"), FIRST), code="camera_unclaimed")
    assert "PUT /sync/v1/camera" in body["message"]
    assert camera_row(app).registered_by_id is None
    got = other.send("GET", "camera", {"camera_uuid": CAMERA_UUID}, media=b"", add_size=False)
    assert got.status_code == 200 and got.get_json() == {"id": camera}  # reading claims nothing
    assert camera_row(app).registered_by_id is None
    assert admin.send("POST", "image", mdh.asset("image"), FIRST).status_code == 200  # admins manage all
    assert camera_row(app).registered_by_id is None
    # now it has an image: no longer claimable by a sync
    refused(other.send("PUT", "camera", mdh.camera(), media=b"", media_name="bogus.ext"), code="camera_unclaimed")


def test_a_claim_lost_to_a_concurrent_request_is_refused(app, camera, other):
    """Two accounts sync an unowned camera at once: the claim is one conditional UPDATE, so one wins."""
    disown(app)
    owner = user_id(app, EXAMPLE_USER)
    with app.app_context():
        cam = db.session.scalar(select(Camera).where(Camera.uuid == CAMERA_UUID))
        intruder = db.session.scalar(select(User).where(User.username == OTHER_USER))
        assert cam.registered_by_id is None  # what this request read
        with db.engine.begin() as conn:  # the other request claims it and commits first
            conn.execute(update(Camera).where(Camera.id == cam.id).values(registered_by_id=owner))
        with pytest.raises(SyncError) as err:
            cameras.authorize(db.session, cam, intruder, "PUT", claim=True)
        assert (err.value.status, err.value.code) == (403, "not_camera_owner")
        db.session.rollback()
    assert camera_row(app).registered_by_id == owner
