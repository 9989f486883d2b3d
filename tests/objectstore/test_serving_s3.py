"""Media and the latest URLs served from an S3 bucket: "redirect" sends the viewer to a short-lived
presigned URL whose answer has the fixed type (followed here with requests, to the real SeaweedFS);
"stream" answers the bytes itself with the media headers, the store's ETag and 304s.  A private site
asks for a login first in both modes, and a store that is down is a 503, never a 500."""
from __future__ import annotations

import pytest
import requests

from tests.helpers import media
from tests.helpers import metadata as mdh
from tests.helpers.seaweed import free_ports
from tests.objectstore.conftest import s3_table
from tests.web.conftest import JPEG, VIEWER, VIEWER_PW, add_user, login, upload_night

LAST_IMAGE = JPEG + bytes([101])  # upload_night(count=2)'s second image


def upload(sender, content: bytes) -> str:
    resp = sender.send("POST", "image", mdh.asset("image"), content, media_name="sky.jpg")
    assert resp.status_code == 200, resp.get_json()
    return "/indi-allsky/" + resp.get_json()["url"]


def inert(resp) -> bool:
    return resp.headers["X-Content-Type-Options"] == "nosniff" and "sandbox" in resp.headers["Content-Security-Policy"]


@pytest.fixture
def stream_app(app_factory, seaweed, bucket, prefix, tmp_path):
    return app_factory(storage=s3_table(seaweed, bucket, prefix, tmp_path, serve="stream"))


def _sender(app):
    from tests.conftest import add_api_user
    from tests.helpers.wire import Sender

    add_api_user(app)
    sender = Sender(app.test_client())
    assert sender.send("PUT", "camera", mdh.camera(), media=b"", media_name="bogus.ext").status_code == 200
    return sender


# -- redirect ---------------------------------------------------------------------------------------------
def test_redirect_sends_a_presigned_url_whose_answer_is_the_file_with_its_fixed_type(client, sender, camera,
                                                                                      seaweed):
    image = media.jpeg(5000)
    resp = client.get(upload(sender, image))
    assert resp.status_code == 302
    location = resp.headers["Location"]
    assert location.startswith(seaweed.endpoint_url + "/") and "X-Amz-Signature=" in location
    assert "max-age=150" in resp.headers["Cache-Control"]  # half the URL's 300 s: never kept past its expiry
    got = requests.get(location, timeout=10)
    assert got.status_code == 200 and got.content == image
    assert got.headers["Content-Type"] == "image/jpeg"
    assert got.headers["Cache-Control"] == "public, max-age=3600"


def test_a_presigned_url_is_refused_once_tampered_with(client, sender, camera):
    location = client.get(upload(sender, media.jpeg(5000))).headers["Location"]
    assert requests.get(location.replace("X-Amz-Signature=", "X-Amz-Signature=0"), timeout=10).status_code == 403


def test_redirect_offers_a_file_of_another_type_only_as_a_download(app, client, s3_storage, tmp_path):
    source = tmp_path / "legacy.html"
    source.write_bytes(b"<script>alert(1)</script>")
    s3_storage.place(source, "ccd_legacy/exposures/page.html")
    resp = client.get("/indi-allsky/images/ccd_legacy/exposures/page.html")
    assert resp.status_code == 302
    got = requests.get(resp.headers["Location"], timeout=10)
    assert got.status_code == 200 and got.content == b"<script>alert(1)</script>"
    assert got.headers["Content-Type"] == "application/octet-stream"
    assert got.headers["Content-Disposition"] == 'attachment; filename="page.html"'


def test_hidden_keys_are_never_served(client, sender, camera):
    assert client.get("/indi-allsky/images/.set-aside/abc-sky.jpg").status_code == 404


def test_latest_redirect_keeps_its_headers(client, sender, camera):
    upload_night(sender, count=2, thumbs=False, products=False)
    resp = client.get("/latest/1/image")
    assert resp.status_code == 302
    assert "no-cache" in resp.headers["Cache-Control"] and resp.headers["Access-Control-Allow-Origin"] == "*"
    assert resp.headers["Link"].endswith('>; rel="canonical"')
    got = requests.get(resp.headers["Location"], timeout=10)
    assert got.content == LAST_IMAGE and got.headers["Content-Type"] == "image/jpeg"
    assert got.headers["Cache-Control"] == "no-cache"


# -- stream -----------------------------------------------------------------------------------------------
def test_stream_answers_the_bytes_with_the_media_headers_and_304s(stream_app):
    client, image = stream_app.test_client(), media.jpeg(5000)
    url = upload(_sender(stream_app), image)
    resp = client.get(url)
    assert resp.status_code == 200 and resp.data == image and resp.mimetype == "image/jpeg"
    assert inert(resp) and resp.headers["ETag"] and resp.headers["Last-Modified"]
    assert resp.headers["Content-Length"] == str(len(image))
    again = client.get(url, headers={"If-None-Match": resp.headers["ETag"]})
    assert again.status_code == 304 and again.data == b"" and again.headers["ETag"] == resp.headers["ETag"]
    since = client.get(url, headers={"If-Modified-Since": resp.headers["Last-Modified"]})
    assert since.status_code == 304
    other = client.get(url, headers={"If-None-Match": '"something-else"'})
    assert other.status_code == 200 and other.data == image


def test_stream_answers_ranges(stream_app):
    client, image = stream_app.test_client(), media.jpeg(5000)
    url = upload(_sender(stream_app), image)
    part = client.get(url, headers={"Range": "bytes=10-19"})
    assert part.status_code == 206 and part.data == image[10:20]
    assert part.headers["Content-Range"] == f"bytes 10-19/{len(image)}"
    assert client.get(url, headers={"Range": "bytes=9000-9999"}).status_code == 416


def test_stream_of_a_missing_object_is_404(stream_app):
    assert stream_app.test_client().get("/indi-allsky/images/ccd_x/exposures/none.jpg").status_code == 404


def test_latest_stream_keeps_its_headers_and_304(stream_app):
    client, sender = stream_app.test_client(), _sender(stream_app)
    upload_night(sender, count=2, thumbs=False, products=False)
    resp = client.get("/latest/1/image")
    assert resp.status_code == 200 and resp.data == LAST_IMAGE and inert(resp)
    assert "no-cache" in resp.headers["Cache-Control"] and "max-age" not in resp.headers["Cache-Control"]
    assert resp.headers["Access-Control-Allow-Origin"] == "*" and 'rel="canonical"' in resp.headers["Link"]
    again = client.get("/latest/1/image", headers={"If-None-Match": resp.headers["ETag"]})
    assert again.status_code == 304


def test_stream_from_a_store_that_is_down_is_a_503(app_factory, seaweed, bucket, prefix, tmp_path):
    [closed] = free_ports(1)
    app = app_factory(storage=s3_table(seaweed, bucket, prefix, tmp_path, serve="stream",
                                       endpoint_url=f"http://127.0.0.1:{closed}"))
    resp = app.test_client().get("/indi-allsky/images/ccd_x/exposures/sky.jpg")
    assert resp.status_code == 503 and "unavailable" in resp.get_data(as_text=True)


# -- a private site ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("serve", ["redirect", "stream"])
def test_a_private_site_asks_for_a_login_before_any_media(app_factory, seaweed, bucket, prefix, tmp_path, serve):
    app = app_factory(storage=s3_table(seaweed, bucket, prefix, tmp_path, serve=serve), web={"public": False})
    image = media.jpeg(5000)
    url = upload(_sender(app), image)
    anonymous = app.test_client()
    resp = anonymous.get(url)
    assert resp.status_code == 401 and "Location" not in resp.headers
    assert anonymous.get("/latest/1/image").status_code == 401
    add_user(app, VIEWER, VIEWER_PW)
    viewer = app.test_client()
    assert login(viewer, VIEWER, VIEWER_PW).status_code == 302
    resp = viewer.get(url)
    if serve == "redirect":
        assert resp.status_code == 302
        got = requests.get(resp.headers["Location"], timeout=10)
        assert got.content == image and got.headers["Cache-Control"] == "private, max-age=3600"
    else:
        assert resp.status_code == 200 and resp.data == image and "private" in resp.headers["Cache-Control"]
