"""The media type table on its own: each accepted extension, its fixed type and the first bytes it needs."""
from __future__ import annotations

import pytest

from skyfleet.core import media_types as mt
from skyfleet.core.errors import UnsupportedMedia
from tests.helpers.media import SIGNATURES, fake

OTHER_FORMATS = {
    "html": b"<!doctype html><script>alert(1)</script>", "svg": b"<svg xmlns='http://www.w3.org/2000/svg'/>",
    "gif": b"GIF89a\x01\x00\x01\x00", "pdf": b"%PDF-1.7\n", "zip": b"PK\x03\x04", "empty": b"",
    "wave": b"RIFF\x24\x00\x00\x00WAVEfmt ", "bigtiff": b"II+\x00\x08\x00\x00\x00",
}


def test_every_accepted_extension_has_a_type_and_a_test_signature():
    assert sorted(mt.BY_EXTENSION) == sorted(SIGNATURES)
    accepted = set(mt.IMAGES) | set(mt.VIDEOS) | set(mt.FITS_FILES) | set(mt.RAW_IMAGES)
    assert accepted == set(mt.BY_EXTENSION)


@pytest.mark.parametrize("ext", sorted(SIGNATURES))
def test_content_of_the_named_type_passes(ext):
    mt.check_content(ext, fake(ext, b"rest of the file")[:mt.HEAD_BYTES])


@pytest.mark.parametrize("ext", sorted(SIGNATURES))
@pytest.mark.parametrize("other", sorted(OTHER_FORMATS))
def test_content_of_another_format_is_refused(ext, other):
    with pytest.raises(UnsupportedMedia) as refused:
        mt.check_content(ext, OTHER_FORMATS[other][:mt.HEAD_BYTES])
    assert refused.value.status == 415 and refused.value.code == "media_content_mismatch"


@pytest.mark.parametrize("ext,other", [(".jpg", ".png"), (".png", ".jpg"), (".mp4", ".webm"), (".webm", ".mp4"),
                                       (".fits", ".tif"), (".tif", ".fits"), (".webp", ".jpg")])
def test_content_of_another_accepted_type_is_refused(ext, other):
    with pytest.raises(UnsupportedMedia):
        mt.check_content(ext, fake(other, b"x" * 16)[:mt.HEAD_BYTES])


@pytest.mark.parametrize("name,expected", [
    ("ccd_x/exposures/a.jpg", "image/jpeg"), ("a/B.FITS", "application/fits"), ("t.webm", "video/webm"),
    ("x.JPG.html", None), ("ccd_x/exposures.d/noext", None), ("x.svg", None), ("x", None),
])
def test_served_type_comes_from_the_last_extension_only(name, expected):
    assert mt.served_type(name) == expected


def test_extension_names_what_was_sent_and_what_is_allowed():
    assert mt.extension("Sky.JPG", mt.IMAGES, "image") == ".jpg"
    with pytest.raises(UnsupportedMedia) as refused:
        mt.extension("x.svg", mt.IMAGES, "thumbnail")
    message = refused.value.message
    assert "'.svg'" in message and "thumbnail" in message and all(ext in message for ext in mt.IMAGES)
