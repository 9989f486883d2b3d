"""IndiCamera against a real indiserver with the CCD simulator (indi_sim fixture)."""
from __future__ import annotations

import io
import time

import numpy as np
import pytest
from astropy.io import fits

from skyfleet.capture.indi_client import CameraDisconnected, CameraTimeout, IndiCamera

from .indi_sim import CCD, SCOPE, free_port

pytestmark = [pytest.mark.slow]


def decode(frame):
    with fits.open(io.BytesIO(frame.fits_bytes), memmap=False) as hdul:
        return hdul[0].data.copy(), hdul[0].header.copy()


def test_captures_five_fits_frames_with_stars(indi_sim):
    camera = IndiCamera("127.0.0.1", indi_sim.port, CCD, gain=90, binning=1, blob_margin=15)
    camera.connect()
    try:
        assert camera.info is not None and (camera.info.max_x, camera.info.max_y) == (1280, 1024)
        frames = [camera.expose(0.5) for _ in range(5)]
    finally:
        camera.close()
    starry = 0
    for frame in frames:
        assert frame.fmt == ".fits"
        assert frame.exposure == 0.5 and frame.binning == 1 and frame.gain == 90
        assert frame.received_at.tzinfo is not None
        assert 0.4 < frame.exp_to_blob < 10
        data, header = decode(frame)
        assert data.shape == (1024, 1280)
        assert data.dtype == np.uint16
        assert header["EXPTIME"] == pytest.approx(0.5)
        median = float(np.median(data))
        # stars: a few compact bright spots far above the noise floor (median ~5 ADU)
        if data.max() > median + 1000 and np.count_nonzero(data > median + 200) >= 5:
            starry += 1
    assert starry >= 1, "no star-like pixels: is the fake gsc on indiserver's PATH?"


def test_gain_and_binning_are_applied(indi_sim):
    camera = IndiCamera("127.0.0.1", indi_sim.port, CCD, gain=42, binning=2, blob_margin=15)
    camera.connect()
    try:
        binned = camera.expose(0.2)
        camera.set_binning(1)
        camera.set_gain(60)
        full = camera.expose(0.2)
    finally:
        camera.close()
    data, header = decode(binned)
    assert binned.binning == 2 and binned.gain == 42
    assert data.shape == (512, 640)
    assert header["XBINNING"] == 2
    data, header = decode(full)
    assert full.binning == 1 and full.gain == 60
    assert data.shape == (1024, 1280)


def test_camera_reports_temperature_and_setup_time(indi_sim):
    with IndiCamera("127.0.0.1", indi_sim.port, CCD) as camera:
        assert camera.read_temperature() is not None
        assert camera.setup_seconds is not None and camera.setup_seconds < 10


def test_missing_blob_times_out_with_clear_message(indi_sim):
    with IndiCamera("127.0.0.1", indi_sim.port, CCD, binning=1) as camera:
        with pytest.raises(CameraTimeout, match=r"no BLOB from CCD Simulator within 0\.3s"):
            camera.expose(2.0, timeout=0.3)
        assert camera.abort() is True


def test_refused_connection_fails_fast():
    camera = IndiCamera("127.0.0.1", free_port(), CCD, connect_timeout=120)
    started = time.monotonic()
    with pytest.raises(CameraDisconnected, match="cannot connect to indiserver"):
        camera.connect()
    assert time.monotonic() - started < 30  # refused at once, not after the connect timeout
    assert not camera.connected


def test_unknown_device_times_out_naming_it(indi_sim):
    camera = IndiCamera("127.0.0.1", indi_sim.port, "No Such Camera", connect_timeout=1.5)
    with pytest.raises(CameraTimeout, match=r"device 'No Such Camera'.*CCD Simulator"):
        camera.connect()
    assert not camera.connected


def test_telescope_is_connected_and_named_to_the_ccd(own_indi_sim):
    """The mount's coordinates reach the FITS header only with the telescope connected and named as the
    CCD's ACTIVE_TELESCOPE (INDI 1.8's CCD simulator refuses to expose without them)."""
    sim = own_indi_sim
    with IndiCamera("127.0.0.1", sim.port, CCD, blob_margin=15) as camera:
        _, header = decode(camera.expose(0.1))
    assert "OBJCTRA" not in header and sim.getprop(f"{SCOPE}.CONNECTION.CONNECT") == "Off"
    sim.setprop(f"{CCD}.ACTIVE_DEVICES.ACTIVE_TELESCOPE=Elsewhere")

    with IndiCamera("127.0.0.1", sim.port, CCD, telescope=SCOPE, blob_margin=15) as camera:
        assert sim.getprop(f"{SCOPE}.CONNECTION.CONNECT") == "On"
        assert sim.getprop(f"{CCD}.ACTIVE_DEVICES.ACTIVE_TELESCOPE") == SCOPE
        _, header = decode(camera.expose(0.1))
    assert header["OBJCTRA"] and header["OBJCTDEC"]


def test_unknown_telescope_times_out_naming_it(own_indi_sim):
    camera = IndiCamera("127.0.0.1", own_indi_sim.port, CCD, telescope="No Mount", connect_timeout=1.5)
    with pytest.raises(CameraTimeout, match=r"device 'No Mount'.*Telescope Simulator"):
        camera.connect()
    assert not camera.connected
