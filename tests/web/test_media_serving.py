"""Stored media are served inert: a fixed type from the extension (never guessed, never the uploader's),
`nosniff` and a sandboxing CSP, so a file that is also HTML cannot run script on the site's origin; a
file an older release stored under another extension is only offered as a download."""
from __future__ import annotations

import struct

import pytest

from tests.helpers import metadata as mdh
from tests.helpers.media import fake, jpeg
from tests.helpers.storage import storage_root
from tests.web.conftest import VIEWER, VIEWER_PW, add_user, login

SCRIPT = b"<html><body><script>fetch('/admin').then(r => r.text()).then(alert)</script></body></html>"


def polyglot() -> bytes:
    """A real JPEG carrying a page in a comment segment (decoders skip it; a sniffing browser may not)."""
    return b"\xff\xd8\xff\xfe" + struct.pack(">H", len(SCRIPT) + 2) + SCRIPT + jpeg(1000)[2:]

FIXED_TYPES = {".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png", ".webp": "image/webp",
               ".mp4": "video/mp4", ".webm": "video/webm", ".fit": "application/fits",
               ".fits": "application/fits", ".tif": "image/tiff", ".tiff": "image/tiff"}


def place(app, rel: str, content: bytes) -> str:
    """A file put straight into storage (by an older release, or by hand): its media URL."""
    path = storage_root(app) / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return f"/indi-allsky/images/{rel}"


def assert_inert(resp) -> None:
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    policy = [d.strip() for d in resp.headers["Content-Security-Policy"].split(";")]
    assert "sandbox" in policy, policy  # no script, an opaque origin: even HTML could do nothing


def test_polyglot_jpeg_is_accepted_and_served_as_an_image_only(app, client, sender, camera):
    image = polyglot()
    resp = sender.send("POST", "image", mdh.asset("image"), image, media_name="sky.jpg")
    assert resp.status_code == 200, resp.get_json()
    served = client.get(f"/indi-allsky/{resp.get_json()['url']}")
    assert served.status_code == 200 and served.get_data() == image
    assert served.mimetype == "image/jpeg"
    assert "attachment" not in served.headers.get("Content-Disposition", "")  # still shown in the viewer
    assert_inert(served)


@pytest.mark.parametrize("name", ["x.html", "x.htm", "x.js", "x.svg", "x.xml", "x.txt", "x.css", "noext", "x.JPG.html"])
def test_legacy_file_of_another_type_is_only_a_download(app, client, name):
    url = place(app, f"ccd_legacy/exposures/{name}", SCRIPT)
    served = client.get(url)
    assert served.status_code == 200 and served.get_data() == SCRIPT
    assert served.mimetype == "application/octet-stream"
    disposition = served.headers["Content-Disposition"]
    assert disposition.startswith("attachment") and name in disposition
    assert_inert(served)


@pytest.mark.parametrize("ext", sorted(FIXED_TYPES))
def test_each_accepted_extension_has_its_fixed_type(app, client, ext):
    url = place(app, f"ccd_x/exposures/frame{ext}", fake(ext, b"frame"))
    served = client.get(url)
    assert served.status_code == 200 and served.mimetype == FIXED_TYPES[ext]
    assert not served.headers.get("Content-Disposition", "").startswith("attachment")  # shown, not downloaded
    assert_inert(served)


def test_type_follows_the_extension_not_the_content(app, client):
    """Whatever a stored .jpg holds (here an older release's HTML), it goes out as image/jpeg."""
    served = client.get(place(app, "ccd_x/exposures/old.jpg", SCRIPT))
    assert served.mimetype == "image/jpeg"
    assert_inert(served)


def test_upper_case_legacy_extension_keeps_its_fixed_type(app, client):
    served = client.get(place(app, "ccd_x/exposures/OLD.JPG", fake(".jpg")))
    assert served.mimetype == "image/jpeg"
    assert_inert(served)


def test_video_ranges_and_revalidation_still_work(app, client):
    video = fake(".mp4", bytes(range(256)) * 40)
    url = place(app, "ccd_x/timelapse/20241231/t.mp4", video)
    part = client.get(url, headers={"Range": "bytes=100-199"})
    assert part.status_code == 206 and part.get_data() == video[100:200] and part.mimetype == "video/mp4"
    assert_inert(part)
    full = client.get(url)
    again = client.get(url, headers={"If-None-Match": full.headers["ETag"]})
    assert again.status_code == 304
    assert_inert(again)


def test_media_behind_a_login_are_served_inert_too(app_factory):
    app = app_factory(web={"public": False})
    url = place(app, "ccd_x/exposures/x.html", SCRIPT)
    client = app.test_client()
    assert client.get(url).status_code == 401
    add_user(app, VIEWER, VIEWER_PW)
    assert login(client, VIEWER, VIEWER_PW).status_code == 302
    served = client.get(url)
    assert served.mimetype == "application/octet-stream"
    assert served.headers["Content-Disposition"].startswith("attachment")
    assert "private" in served.headers["Cache-Control"]
    assert_inert(served)
