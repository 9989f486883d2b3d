"""Admin pages: users, API keys (shown once, revocable), sync status, camera-host status."""
from __future__ import annotations

import re

import pytest

from skyfleet.extensions import db
from skyfleet.local_assets import local_camera
from skyfleet.models import Asset, User
from skyfleet.upload import queue
from tests.helpers import metadata as mdh
from tests.helpers.apikey_display import assert_key_shown_once, assert_no_part_of_key, expected_fingerprint
from tests.helpers.wire import EXAMPLE_KEY, EXAMPLE_USER, Sender

from .conftest import ADMIN, add_user, csrf_from, csrf_token, upload_night

KEY_RE = re.compile(r'value="([0-9a-f]{64})"')


def text(resp) -> str:
    return resp.get_data(as_text=True)


def create_user(client, username, password="a long password", admin=False, token=None):
    token = token if token is not None else csrf_token(client, "/admin/users")
    data = {"csrf_token": token, "username": username, "password": password, "confirm": password}
    if admin:
        data["admin"] = "y"
    return client.post("/admin/users", data=data)


def user_id(app, name) -> int:
    with app.app_context():
        return db.session.query(User).filter_by(username=name).one().id


def test_admin_creates_a_user_who_can_log_in(app, admin_client):
    resp = create_user(admin_client, "observer", admin=True)
    assert resp.status_code == 302
    page = text(admin_client.get("/admin/users"))
    assert "Created user observer" in page and 'data-user="observer"' in page
    with app.app_context():
        user = db.session.query(User).filter_by(username="observer").one()
        assert user.is_admin and user.password_hash != "a long password"


def test_creating_a_user_without_csrf_token_is_rejected(app, admin_client):
    resp = create_user(admin_client, "sneaky", token="")
    assert resp.status_code == 400
    with app.app_context():
        assert db.session.query(User).filter_by(username="sneaky").count() == 0


@pytest.mark.parametrize("name,password,message", [
    (ADMIN, "a long password", "already exists"),
    ("bad name", "a long password", "a username is"),
    ("shorty", "short", "at least 8"),
])
def test_invalid_new_users_are_refused_with_a_reason(admin_client, name, password, message):
    resp = create_user(admin_client, name, password)
    assert resp.status_code == 400 and message in text(resp)


def test_api_key_is_shown_once_then_only_its_fingerprint(app, admin_client, caplog):
    create_user(admin_client, "camera-1")
    uid = user_id(app, "camera-1")
    token = csrf_token(admin_client, "/admin/users")
    resp = admin_client.post(f"/admin/users/{uid}/apikey", data={"csrf_token": token})
    assert resp.status_code == 200 and resp.headers["Cache-Control"] == "no-store"
    key = KEY_RE.search(text(resp)).group(1)
    fingerprint = expected_fingerprint(key)
    assert fingerprint in text(resp)
    assert_key_shown_once(key, text(resp))  # in the copy field only
    listing = text(admin_client.get("/admin/users"))
    assert fingerprint in listing
    assert_no_part_of_key(key, listing)
    assert f"(fingerprint {fingerprint})" in caplog.text
    assert_no_part_of_key(key, caplog.text)
    with app.app_context():
        stored = db.session.get(User, uid)
        assert stored.api_key_fingerprint == fingerprint
        assert_no_part_of_key(key, stored.api_key_encrypted)
    sender = Sender(app.test_client(), user="camera-1", key=key)
    assert sender.send("PUT", "camera", mdh.camera(), media=b"", media_name="bogus.ext").status_code == 200


def test_revoked_api_key_gets_401_from_the_syncapi(app, admin_client, api_user):
    sender = Sender(app.test_client())
    assert sender.send("PUT", "camera", mdh.camera(), media=b"", media_name="bogus.ext").status_code == 200
    uid = user_id(app, EXAMPLE_USER)
    page = text(admin_client.get("/admin/users"))
    assert expected_fingerprint(EXAMPLE_KEY) in page
    assert_no_part_of_key(EXAMPLE_KEY, page)
    resp = admin_client.post(f"/admin/users/{uid}/apikey/revoke", data={"csrf_token": csrf_from(page)})
    assert resp.status_code == 302
    assert f"{EXAMPLE_USER}: API key revoked" in text(admin_client.get("/admin/users"))
    assert sender.send("PUT", "camera", mdh.camera(), media=b"", media_name="bogus.ext").status_code == 401


def test_revoke_without_csrf_token_changes_nothing(app, admin_client, api_user):
    uid = user_id(app, EXAMPLE_USER)
    assert admin_client.post(f"/admin/users/{uid}/apikey/revoke").status_code == 400
    assert admin_client.post(f"/admin/users/{uid}/apikey").status_code == 400
    sender = Sender(app.test_client())
    assert sender.send("PUT", "camera", mdh.camera(), media=b"", media_name="bogus.ext").status_code == 200


def test_admin_flag_can_be_granted_and_removed_but_not_from_oneself(app, admin_client):
    viewer = add_user(app, "viewer2", "viewer password")
    token = csrf_token(admin_client, "/admin/users")
    admin_client.post(f"/admin/users/{viewer}/admin", data={"csrf_token": token, "admin": "1"})
    with app.app_context():
        assert db.session.get(User, viewer).is_admin
    admin_client.post(f"/admin/users/{viewer}/admin", data={"csrf_token": token, "admin": "0"})
    me = user_id(app, ADMIN)
    resp = admin_client.post(f"/admin/users/{me}/admin", data={"csrf_token": token, "admin": "0"})
    assert resp.status_code == 302
    assert "cannot remove admin rights from yourself" in text(admin_client.get("/admin/users"))
    with app.app_context():
        assert not db.session.get(User, viewer).is_admin and db.session.get(User, me).is_admin


def test_deactivated_user_cannot_log_in(app, admin_client):
    from .conftest import login
    uid = add_user(app, "leaver", "leaver password")
    token = csrf_token(admin_client, "/admin/users")
    admin_client.post(f"/admin/users/{uid}/active", data={"csrf_token": token, "active": "0"})
    assert login(app.test_client(), "leaver", "leaver password").status_code == 401


def test_sync_status_shows_counts_per_kind_and_last_upload(admin_client, sender, camera):
    upload_night(sender, count=3)
    page = text(admin_client.get("/admin/"))
    assert "ZWO ASI462MC" in page and "6f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f" in page
    for tag in ("image 3", "thumbnail 3", "keogram 1", "video 1", "minivideo 1", "startrail 1"):
        assert f'<span class="tag">{tag}</span>' in page
    assert "Capture" not in page and "Upload queue" not in page  # a remote, not a camera host


def test_camera_host_shows_capture_state_and_upload_queue(app_factory, tmp_path):
    key_file = tmp_path / "remote.key"
    key_file.write_text(EXAMPLE_KEY)
    app = app_factory(upload={"remotes": [{"name": "observatory", "url": "https://sky.invalid/indi-allsky",
                                           "username": "cam", "api_key_file": str(key_file)}]})
    with app.app_context():
        cam = local_camera(db.session, "Roof camera", ["observatory"])
        from skyfleet.core.assets import KINDS, build_record
        record = build_record(KINDS["image"], mdh.asset("image", camera_uuid=cam.uuid), cam)
        image = Asset(kind="image", camera_id=cam.id, natural_key=record.natural_key, filename="x.jpg",
                      **{k: v for k, v in record.columns.items()})
        db.session.add(image)
        db.session.flush()
        queue.enqueue_asset(db.session, image, ["observatory"])
        db.session.commit()
    client = app.test_client()
    add_user(app, ADMIN, "admin password 1", admin=True)
    from .conftest import login
    login(client, ADMIN, "admin password 1")
    page = text(client.get("/admin/"))
    assert "Capture" in page and "Roof camera" in page and "2024-12-31 19:00:00 UTC-05:00" in page
    assert "no recent frame" in page  # the frame is from 2024
    assert "Remote observatory" in page and "2 waiting" in page  # the camera sync and the image
    assert "sky.invalid" not in page
    now = text(client.get("/"))
    assert "Upload queue: 2 waiting, 0 parked" in now and "Capture Roof camera" in now


def test_camera_host_with_broken_upload_settings_shows_the_error(app_factory):
    app = app_factory(upload={"remotes": [{"name": "x"}]})
    client = app.test_client()
    add_user(app, ADMIN, "admin password 1", admin=True)
    from .conftest import login
    login(client, ADMIN, "admin password 1")
    assert "upload.remotes[0].url is required" in text(client.get("/admin/"))
