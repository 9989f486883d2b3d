from __future__ import annotations

import os

import numpy as np
import pytest
from astropy.io import fits

from skyfleet.imaging.fits_io import FitsError, read_fits, read_header, to_uint16, write_fits, write_fits_bytes

from .conftest import fits_bytes, noisy_frame


def test_round_trip_file_keeps_values_and_indi_scaling(tmp_path):
    data = noisy_frame((50, 70))
    data[0, 0], data[0, 1] = 0, 65535
    hdr = fits.Header()
    hdr["EXPTIME"] = 2.5
    hdr["BAYERPAT"] = "RGGB"
    path = write_fits(tmp_path / "x.fits", data, hdr)
    back, header = read_fits(path)
    assert back.dtype == np.uint16 and back.dtype.isnative
    assert back.flags.c_contiguous
    np.testing.assert_array_equal(back, data)
    assert header["EXPTIME"] == 2.5 and header["BAYERPAT"] == "RGGB"
    raw_header = fits.getheader(path)            # on disk the INDI way
    assert raw_header["BITPIX"] == 16 and raw_header["BZERO"] == 32768
    assert os.listdir(tmp_path) == ["x.fits"]    # no temp file left


def test_read_bytes_and_file_object(tmp_path):
    data = noisy_frame((20, 30), seed=3)
    blob = fits_bytes(data, {"CCD-TEMP": -4.5})
    back, header = read_fits(blob)
    np.testing.assert_array_equal(back, data)
    assert header["CCD-TEMP"] == -4.5
    with open(write_fits_bytes(tmp_path / "b.fits", blob), "rb") as f:
        back2, _ = read_fits(f)
    np.testing.assert_array_equal(back2, data)
    assert (tmp_path / "b.fits").read_bytes() == blob
    assert read_header(blob)["NAXIS1"] == 30


def test_signed_and_float_data_are_clipped_to_uint16():
    signed = np.array([[-5, 0, 100]], dtype=np.int16)
    assert to_uint16(signed).tolist() == [[0, 0, 100]]
    floats = np.array([[-1.0, 1.4, 70000.0, np.nan]], dtype=np.float32)
    assert to_uint16(floats).tolist() == [[0, 1, 65535, 0]]
    big_endian = np.array([[1, 2]], dtype=">u2")
    out = to_uint16(big_endian)
    assert out.dtype.isnative and out.tolist() == [[1, 2]]


def test_rgb_cube_comes_back_as_bgr(tmp_path):
    bgr = np.zeros((8, 10, 3), dtype=np.uint16)
    bgr[..., 2] = 50000                          # red
    path = write_fits(tmp_path / "c.fits", bgr)
    assert fits.getdata(path)[0].max() == 50000  # stored as R, G, B planes
    back, _ = read_fits(path)
    assert back.shape == (8, 10, 3)
    np.testing.assert_array_equal(back, bgr)


def test_not_fits_raises_a_clear_error():
    with pytest.raises(FitsError, match="not a readable FITS image"):
        read_fits(b"this is not a FITS file" * 200)
