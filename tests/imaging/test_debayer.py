from __future__ import annotations

import numpy as np
import pytest

from skyfleet.imaging.debayer import bayer_pattern, debayer

from .conftest import CHANNEL, bayer_mosaic

SCENES = {
    "R": (2000, 3000, 50000),
    "G": (2000, 50000, 3000),
    "B": (50000, 3000, 2000),
}


@pytest.mark.parametrize("pattern", ["RGGB", "BGGR", "GRBG", "GBRG"])
@pytest.mark.parametrize("colour", ["R", "G", "B"])
def test_pure_colour_scene_has_right_dominant_channel(pattern, colour):
    raw = bayer_mosaic(pattern, SCENES[colour])
    bgr = debayer(raw, {"BAYERPAT": pattern})
    assert bgr.shape == raw.shape + (3,) and bgr.dtype == np.uint16
    inner = bgr[4:-4, 4:-4].reshape(-1, 3).mean(axis=0)   # away from the border
    want = CHANNEL[colour]
    assert int(np.argmax(inner)) == want
    others = [inner[i] for i in range(3) if i != want]
    assert inner[want] > 5 * max(others)
    assert abs(inner[want] - 50000) < 500


@pytest.mark.parametrize("pattern,xoff,yoff,effective", [
    ("RGGB", 1, 0, "GRBG"),
    ("RGGB", 0, 1, "GBRG"),
    ("RGGB", 1, 1, "BGGR"),
    ("GBRG", 1, 0, "BGGR"),
    ("BGGR", 2, 4, "BGGR"),
])
def test_offsets_shift_the_pattern(pattern, xoff, yoff, effective):
    header = {"BAYERPAT": pattern, "XBAYROFF": xoff, "YBAYROFF": yoff}
    assert bayer_pattern(header) == effective
    raw = bayer_mosaic(effective, SCENES["R"])
    inner = debayer(raw, header)[4:-4, 4:-4].reshape(-1, 3).mean(axis=0)
    assert int(np.argmax(inner)) == CHANNEL["R"]


def test_mono_passthrough():
    raw = np.arange(12, dtype=np.uint16).reshape(3, 4)
    assert debayer(raw, {}) is raw
    assert debayer(raw, {"BAYERPAT": ""}) is raw
    assert debayer(raw, None) is raw
    assert debayer(raw, {"BAYERPAT": "RGGB"}, pattern="") is raw   # setting forces mono
    colour = np.zeros((3, 4, 3), np.uint16)
    assert debayer(colour, {"BAYERPAT": "RGGB"}) is colour


def test_pattern_override_beats_header():
    raw = bayer_mosaic("BGGR", SCENES["R"])
    inner = debayer(raw, {"BAYERPAT": "RGGB"}, pattern="bggr")[4:-4, 4:-4].reshape(-1, 3).mean(0)
    assert int(np.argmax(inner)) == CHANNEL["R"]


@pytest.mark.parametrize("bad", ["RGBG", "CYGM", "XXXX", "RG"])
def test_unknown_pattern_is_a_clear_error(bad):
    with pytest.raises(ValueError, match="Bayer pattern"):
        debayer(np.zeros((4, 4), np.uint16), {"BAYERPAT": bad})
