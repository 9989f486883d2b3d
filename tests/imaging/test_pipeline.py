from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone

import cv2
import numpy as np
import pytest

from skyfleet.imaging.fits_io import read_fits
from skyfleet.imaging.pipeline import ProcessingSettings, process_frame

from .conftest import CHANNEL, bayer_mosaic, fits_bytes, noisy_frame, write_fits_file

WHEN = datetime(2026, 11, 30, 21, 4, 5, tzinfo=timezone(timedelta(hours=1)))


def _star_field(shape=(512, 640), seed=0):
    img = noisy_frame(shape, mean=1200, sigma=40, seed=seed)
    rng = np.random.default_rng(seed + 100)
    for _ in range(40):
        y, x = rng.integers(10, shape[0] - 10), rng.integers(10, shape[1] - 10)
        img[y - 1:y + 2, x - 1:x + 2] = 30000
    return img


def test_mono_end_to_end(tmp_path):
    raw = _star_field()
    src = write_fits_file(tmp_path / "in.fits", raw, {"EXPTIME": 15.0, "GAIN": 90, "CCD-TEMP": -3.0})
    out = tmp_path / "out"
    settings = ProcessingSettings(out_dir=str(out), keep_fits=True, adu_roi=0.5)
    res = process_frame(src, settings, WHEN, {"gain": 100})
    assert (res.width, res.height, res.channels) == (640, 512, 1)
    assert res.adu == pytest.approx(raw[128:384, 160:480].mean(), rel=1e-9)
    assert res.bayer_pattern is None and res.dark_path is None
    assert res.overlay_lines == ["2026-11-30 21:04:05 +01:00", "Exposure 15 s", "Gain 100",
                                 "Sensor -3.0 C"]                 # meta beats header for gain
    assert 0 < res.process_elapsed < 10
    assert sorted(os.listdir(out)) == ["image-20261130_210405.fits", "image-20261130_210405.jpg",
                                       "image-20261130_210405_thumb.jpg"]
    jpg = cv2.imread(res.jpeg_path, cv2.IMREAD_UNCHANGED)
    assert jpg.shape == (512, 640)
    assert abs(float(np.median(jpg)) - 0.25 * 255) < 4            # stretched background
    assert jpg[res.height // 2:, :].max() > 200                   # stars survive
    assert cv2.imread(res.thumb_path, cv2.IMREAD_UNCHANGED).shape == (256, 320)
    back, _ = read_fits(res.fits_path)
    np.testing.assert_array_equal(back, raw)
    # the returned frame carries no overlay; the JPEG does
    assert res.image.shape == (512, 640)
    assert np.abs(jpg[:60, :300].astype(int) - res.image[:60, :300]).max() > 100


@pytest.mark.parametrize("pattern", ["RGGB", "GBRG"])
def test_bayer_end_to_end_from_bytes(tmp_path, pattern):
    # red-dominated sky: the JPEG must come out red, not blue
    raw = bayer_mosaic(pattern, (3000, 6000, 20000), shape=(600, 800))
    raw = (raw.astype(np.int32) + np.random.default_rng(1).integers(0, 400, raw.shape)).astype(np.uint16)
    blob = fits_bytes(raw, {"BAYERPAT": pattern, "XBAYROFF": 0, "YBAYROFF": 0, "EXPTIME": 1.0})
    res = process_frame(blob, ProcessingSettings(keep_fits=True), WHEN, {},
                        out_dir=str(tmp_path), basename="frame0001")
    assert res.bayer_pattern == pattern and res.channels == 3
    assert res.adu == pytest.approx(raw.mean())
    jpg = cv2.imread(res.jpeg_path)
    assert jpg.shape == (600, 800, 3)
    means = jpg[100:, 100:].reshape(-1, 3).mean(axis=0)
    assert int(np.argmax(means)) == CHANNEL["R"]
    assert means[CHANNEL["B"]] < means[CHANNEL["G"]] < means[CHANNEL["R"]]
    assert open(res.fits_path, "rb").read() == blob               # raw kept byte for byte
    assert res.stretch is not None and res.stretch.median > 0


def test_dark_subtraction_is_used_when_a_dark_matches(tmp_path):
    darks = tmp_path / "darks"
    darks.mkdir()
    dark = np.full((64, 80), 300, np.uint16)
    write_fits_file(darks / "dark.fits", dark, {"EXPTIME": 30.0, "GAIN": 90, "CCD-TEMP": -5.0})
    light = noisy_frame((64, 80), mean=1300, sigma=20)
    src = write_fits_file(tmp_path / "l.fits", light, {"EXPTIME": 30.0, "GAIN": 90, "CCD-TEMP": -4.0})
    s = ProcessingSettings(out_dir=str(tmp_path / "o"), dark_dir=str(darks), overlay=False,
                           auto_stretch=False, thumbnail=False)
    res = process_frame(src, s, WHEN, {})
    assert res.dark_path == str(darks / "dark.fits")
    assert res.adu == pytest.approx(light.mean())                  # ADU is before the dark
    expected = np.round(np.clip(light.astype(int) - 300, 0, None) / 65535 * 255)
    np.testing.assert_allclose(res.image, expected, atol=1)
    # different temperature beyond the tolerance: no dark
    src2 = write_fits_file(tmp_path / "l2.fits", light, {"EXPTIME": 30.0, "GAIN": 90, "CCD-TEMP": 9.0})
    assert process_frame(src2, s, WHEN, {}).dark_path is None


def test_needs_an_output_dir(tmp_path):
    src = write_fits_file(tmp_path / "in.fits", noisy_frame((16, 16)))
    with pytest.raises(ValueError, match="output directory"):
        process_frame(src, ProcessingSettings(), WHEN, {})
