"""The stable latest URLs: /latest/<camera>/<kind>[/tonight] and /api/latest/..., what pollers and embeds get."""
from __future__ import annotations

import datetime as dt

import pytest

from skyfleet.extensions import db
from skyfleet.models import Camera
from skyfleet.web import views_latest
from tests.helpers import metadata as mdh

from .conftest import ADMIN, ADMIN_PW, JPEG, MP4, VIEWER, VIEWER_PW, add_user, login, upload_night

# The fixture night is dayDate 2024-12-31 at UTC-5; its images start at 19:00 local.
DURING_THAT_NIGHT = dt.datetime(2025, 1, 1, 7, 30)      # 02:30 local
AFTER_NEXT_NOON = dt.datetime(2025, 1, 1, 17, 5)        # 12:05 local: the coming night has nothing yet
LAST_IMAGE = JPEG + bytes([104])                        # upload_night's fifth image
LAST_THUMBNAIL = JPEG + bytes([4])


@pytest.fixture
def clock(monkeypatch):
    def set_to(naive_utc: dt.datetime):
        monkeypatch.setattr(views_latest, "utcnow", lambda: naive_utc)
    return set_to


def test_latest_image_is_the_newest_file_itself_revalidated_on_every_use(client, sender, night):
    resp = client.get("/latest/1/image")
    assert resp.status_code == 200
    assert resp.data == LAST_IMAGE and resp.mimetype == "image/jpeg"
    assert "no-cache" in resp.headers["Cache-Control"] and "max-age" not in resp.headers["Cache-Control"]
    assert resp.headers["ETag"] and resp.headers["Last-Modified"]
    assert resp.headers["X-Content-Type-Options"] == "nosniff" and "sandbox" in resp.headers["Content-Security-Policy"]
    canonical = resp.headers["Link"].split(";")[0].strip("<>")
    assert canonical.endswith("ccd1_20241231_190400.jpg") and client.get(canonical).data == LAST_IMAGE

    # a newer frame replaces it at the same URL
    upload_night(sender, count=1, start=mdh.NIGHT_START + 3600, thumbs=False, products=False)
    newer = client.get("/latest/1/image")
    assert newer.status_code == 200 and newer.data == JPEG + bytes([100])
    assert newer.headers["ETag"] != resp.headers["ETag"]


def test_a_poller_with_the_etag_gets_304_until_a_newer_file_exists(client, sender, night):
    first = client.get("/latest/1/image")
    etag = first.headers["ETag"]
    again = client.get("/latest/1/image", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.data == b""
    since = client.get("/latest/1/image", headers={"If-Modified-Since": first.headers["Last-Modified"]})
    assert since.status_code == 304
    upload_night(sender, count=1, start=mdh.NIGHT_START + 3600, thumbs=False, products=False)
    changed = client.get("/latest/1/image", headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.data == JPEG + bytes([100])


def test_every_kind_answers_its_newest_file_with_its_type(client, night):
    expected = {"image": (LAST_IMAGE, "image/jpeg"), "thumbnail": (LAST_THUMBNAIL, "image/jpeg"),
                "keogram": (JPEG, "image/jpeg"), "startrail": (JPEG, "image/jpeg"), "timelapse": (MP4, "video/mp4")}
    for kind, (body, mimetype) in expected.items():
        resp = client.get(f"/latest/1/{kind}")
        assert resp.status_code == 200, kind
        assert (resp.data, resp.mimetype) == (body, mimetype), kind


def test_the_thumbnail_is_that_of_the_newest_image_that_has_one(client, sender, night):
    upload_night(sender, count=1, start=mdh.NIGHT_START + 3600, thumbs=False, products=False)
    assert client.get("/latest/1/image").data == JPEG + bytes([100])
    assert client.get("/latest/1/thumbnail").data == LAST_THUMBNAIL


def test_a_camera_is_found_by_its_name_or_its_id(client, night):
    by_id = client.get("/latest/1/image")
    by_name = client.get("/latest/ZWO%20ASI462MC/image")
    assert by_name.status_code == 200 and by_name.data == by_id.data
    assert client.get("/api/latest/ZWO%20ASI462MC/image").get_json()["camera"] == {"id": 1, "name": "ZWO ASI462MC"}


def test_unknown_kinds_cameras_and_empty_cameras_get_a_clear_404(client, sender, night):
    resp = client.get("/latest/1/panorama")
    assert resp.status_code == 404 and "one of image, thumbnail, keogram, startrail, timelapse" in resp.text
    resp = client.get("/latest/Nowhere/image")
    assert resp.status_code == 404 and "no camera named or numbered 'Nowhere'" in resp.text
    assert client.get("/latest/99/image").status_code == 404
    other = "0b7c4d2e-1f3a-4b5c-9d6e-7f8091a2b3c4"
    assert sender.send("PUT", "camera", mdh.camera("Backyard", other), media=b"",
                       media_name="bogus.ext").status_code == 200
    resp = client.get("/latest/Backyard/keogram")
    assert resp.status_code == 404 and "camera 'Backyard' has no keogram yet" in resp.text
    resp = client.get("/api/latest/Backyard/keogram")
    assert resp.status_code == 404 and resp.get_json()["error"] == "not_found"
    assert resp.headers["Cache-Control"] == "no-cache"


def test_tonight_is_the_night_in_progress_and_empty_after_the_next_noon(client, clock, night):
    clock(DURING_THAT_NIGHT)
    for kind in ("image", "thumbnail", "keogram", "timelapse"):
        assert client.get(f"/latest/1/{kind}/tonight").data == client.get(f"/latest/1/{kind}").data, kind
    assert client.get("/api/latest/1/keogram/tonight").get_json()["tonight"] == "2024-12-31"
    clock(AFTER_NEXT_NOON)
    resp = client.get("/latest/1/image/tonight")
    assert resp.status_code == 404 and "no image for the night of 2025-01-01 yet" in resp.text
    assert client.get("/latest/1/image").status_code == 200  # the plain URL still shows the last one


def test_tonight_leaves_out_the_day_that_follows_the_night(client, sender, clock, night):
    day_meta = mdh.asset("image", when=mdh.NIGHT_START + 14 * 3600, night=False, dayDate="20250101")
    assert sender.send("POST", "image", day_meta, media=JPEG + b"day").status_code == 200
    clock(DURING_THAT_NIGHT.replace(hour=16))  # 11:00 local: the night of 2024-12-31 is still "tonight"
    assert client.get("/latest/1/image").data == JPEG + b"day"
    assert client.get("/latest/1/image/tonight").data == LAST_IMAGE


def test_the_json_names_the_file_and_when_it_was_taken(client, night):
    data = client.get("/api/latest/1/image").get_json()
    assert data["url"].endswith("ccd1_20241231_190400.jpg")
    assert client.get(data["url"]).data == LAST_IMAGE
    assert data["latest_url"] == "/latest/1/image"
    assert data["taken_utc"] == "2025-01-01T00:04:00Z" and data["night"] is True and data["day_date"] == "2024-12-31"
    assert data["page"] == f"/camera/1/image/{night.images[-1]}"
    assert client.get("/api/latest/1/keogram").get_json()["page"] is None


def test_a_private_site_wants_a_login_and_keeps_the_answer_out_of_shared_caches(private_app, private_night):
    anonymous = private_app.test_client()
    resp = anonymous.get("/latest/1/image")
    assert resp.status_code == 401 and b"\xff\xd8" not in resp.data
    resp = anonymous.get("/api/latest/1/image")
    assert resp.status_code == 401 and resp.get_json()["error"] == "login_required"
    add_user(private_app, VIEWER, VIEWER_PW)
    viewer = private_app.test_client()
    assert login(viewer, VIEWER, VIEWER_PW).status_code == 302
    resp = viewer.get("/latest/1/image")
    assert resp.status_code == 200 and resp.data == LAST_IMAGE
    assert "private" in resp.headers["Cache-Control"] and "public" not in resp.headers["Cache-Control"]
    assert "Access-Control-Allow-Origin" not in resp.headers
    assert "Access-Control-Allow-Origin" not in viewer.get("/api/latest/1/image").headers


def test_a_public_site_lets_other_sites_scripts_read_them(client, night):
    for url in ("/latest/1/image", "/api/latest/1/image"):
        resp = client.get(url, headers={"Origin": "https://club.example.org"})
        assert resp.headers["Access-Control-Allow-Origin"] == "*", url
        assert "Access-Control-Allow-Credentials" not in resp.headers, url


def test_a_hidden_camera_is_only_there_for_admins(app, client, night):
    with app.app_context():
        db.session.get(Camera, 1).hidden = True
        db.session.commit()
    assert client.get("/latest/1/image").status_code == 404
    assert client.get("/latest/ZWO%20ASI462MC/image").status_code == 404
    add_user(app, ADMIN, ADMIN_PW, admin=True)
    assert login(client, ADMIN, ADMIN_PW).status_code == 302
    assert client.get("/latest/1/image").data == LAST_IMAGE


def test_the_now_page_shows_the_latest_url(client, night):
    page = client.get("/").text
    assert f'src="/latest/1/image?v={night.images[-1]}"' in page
    image = client.get("/api/now").get_json()["cameras"][0]["image"]
    assert image["latest"] == f"/latest/1/image?v={night.images[-1]}"
    assert client.get(image["latest"]).data == LAST_IMAGE
