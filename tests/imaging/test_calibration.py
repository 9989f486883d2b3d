from __future__ import annotations

import os

import numpy as np
import pytest

from skyfleet.imaging.calibration import DarkLibrary, find_dark, subtract_dark

from .conftest import write_fits_file


def test_subtract_saturates_at_zero():
    img = np.array([[100, 5, 65535]], dtype=np.uint16)
    dark = np.array([[40, 10, 65535]], dtype=np.uint16)
    out = subtract_dark(img, dark)
    assert out.dtype == np.uint16
    assert out.tolist() == [[60, 0, 0]]
    assert img.tolist() == [[100, 5, 65535]]          # input untouched


def test_subtract_needs_same_shape():
    with pytest.raises(ValueError, match="shape"):
        subtract_dark(np.zeros((4, 4), np.uint16), np.zeros((4, 5), np.uint16))


def _dark(folder, name, exp, gain, temp, shape=(8, 10), binning=1, value=100):
    cards = {"EXPTIME": exp, "GAIN": gain, "XBINNING": binning, "IMAGETYP": "Dark Frame"}
    if temp is not None:
        cards["CCD-TEMP"] = temp
    return write_fits_file(os.path.join(folder, name), np.full(shape, value, np.uint16), cards)


@pytest.fixture
def darks(tmp_path):
    d = tmp_path / "darks"
    d.mkdir()
    _dark(d, "d30_g90_m10.fits", 30, 90, -10.0)
    _dark(d, "d30_g90_m4.fits", 30, 90, -4.0)
    _dark(d, "d30_g90_p5.fits", 30, 90, 5.0)
    _dark(d, "d30_g50_m5.fits", 30, 50, -5.0)
    _dark(d, "d10_g90_m5.fits", 10, 90, -5.0)
    _dark(d, "d30_g90_bin2.fits", 30, 90, -5.0, binning=2)
    (d / "broken.fits").write_bytes(b"garbage")
    return str(d)


def test_picks_nearest_temperature_with_matching_exposure_gain_binning(darks):
    path = find_dark(darks, exposure=30, gain=90, binning=1, temperature=-5.0)
    assert os.path.basename(path) == "d30_g90_m4.fits"
    path = find_dark(darks, exposure=30, gain=90, binning=1, temperature=-9.0)
    assert os.path.basename(path) == "d30_g90_m10.fits"
    assert os.path.basename(find_dark(darks, 30, 50, 1, -5.5)) == "d30_g50_m5.fits"
    assert os.path.basename(find_dark(darks, 10, 90, 1, -5.0)) == "d10_g90_m5.fits"
    assert os.path.basename(find_dark(darks, 30, 90, 2, -5.0)) == "d30_g90_bin2.fits"


def test_no_dark_outside_tolerance_or_without_match(darks):
    assert find_dark(darks, exposure=30, gain=90, binning=1, temperature=0.0, temp_tolerance=2) is None
    assert find_dark(darks, exposure=20, gain=90, binning=1, temperature=-5.0) is None
    assert find_dark(darks, exposure=30, gain=120, binning=1, temperature=-5.0) is None
    assert find_dark(darks, 30, 90, 1, -5.0, shape=(16, 16)) is None
    assert find_dark(os.path.join(darks, "missing"), 30) is None


def test_library_caches_and_loads(darks):
    lib = DarkLibrary(darks)
    header = {"EXPTIME": 30.0, "GAIN": 90, "XBINNING": 1, "CCD-TEMP": 4.0}
    path = lib.find_for_header(header)
    assert os.path.basename(path) == "d30_g90_p5.fits"
    data = lib.load(path)
    assert data.dtype == np.uint16 and data.shape == (8, 10) and int(data[0, 0]) == 100
    assert lib.load(path) is data                     # cached
    os.unlink(path)                                   # a removed dark is no longer offered
    assert lib.find_for_header(header) is None
