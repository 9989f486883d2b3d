"""IndiCamera against the fake INDI driver (fake_indi.py; no indiserver needed); test_indi_camera.py runs a real one."""
from __future__ import annotations

import logging
import threading
import time

import pytest

from skyfleet.capture.indi_client import CameraDisconnected, CameraError, CameraTimeout, ExposureCancelled, IndiCamera

from .fake_indi import FakeCcd, FakeIndiServer


# --------------------------------------------------------------------------- IndiCamera on the fake server
def test_camera_setup_and_exposure_on_the_fake_driver(caplog):
    device = 'Fake & "Odd" <CCD>'
    ccd = FakeCcd(device, burst_pause=0.3)
    srv = FakeIndiServer(ccd)
    camera = IndiCamera("127.0.0.1", srv.port, device, gain=150, binning=2, connect_timeout=30, blob_margin=60)
    try:
        with caplog.at_level(logging.DEBUG, logger="skyfleet.capture.indi_client"):
            camera.connect()
        assert "outside the driver's range 0..100; using 100" in caplog.text
        names = [(c.tag, c.get("name")) for c in srv.commands]
        # enableBLOB Also for CCD1 only after CONNECT and after all definitions arrived (getProperties CCD1
        # round trip), then client upload, FITS, no compression, gain, binning
        assert names.index(("enableBLOB", "CCD1")) > names.index(("getProperties", "CCD1")) > \
            names.index(("newSwitchVector", "CONNECTION"))
        assert srv.wait_command("enableBLOB").text == "Also"
        for vector, element in (("UPLOAD_MODE", "UPLOAD_CLIENT"), ("CCD_TRANSFER_FORMAT", "FORMAT_FITS"),
                                ("CCD_COMPRESSION", "INDI_DISABLED")):
            sent = {c.get("name"): c.text for c in srv.wait_command("newSwitchVector", vector)}
            assert sent[element] == "On" and list(sent.values()).count("On") == 1
        assert srv.wait_command("newNumberVector", "CCD_GAIN").find("oneNumber").text == "100"
        assert [c.text for c in srv.wait_command("newNumberVector", "CCD_BINNING")] == ["2", "2"]
        assert camera.info is not None and (camera.info.max_x, camera.info.max_y, camera.info.bits_per_pixel) == \
            (640, 480, 16)
        assert camera.read_temperature() == -5.5
        frame = camera.expose(0.3)
        assert frame.fits_bytes == ccd.frame and frame.fmt == ".fits" and frame.device == device
        assert frame.gain == 100 and frame.binning == 2 and frame.temperature == -5.5
        assert frame.exp_to_blob >= 0.3
        ccd.mode = "alert"
        with pytest.raises(CameraError, match="CCD_EXPOSURE Alert.*shutter stuck"):
            camera.expose(0.1)
        ccd.mode = "alert_after_message"
        with caplog.at_level(logging.WARNING):
            with pytest.raises(CameraError, match=r"CCD_EXPOSURE Alert\): \[ERROR\] Telescope coordinates missing"):
                camera.expose(0.1)
        assert "[ERROR] Telescope coordinates missing." in caplog.text
        ccd.mode = "silent"
        with pytest.raises(CameraTimeout, match=r"no BLOB from .* within 0\.4s.*state Busy; aborted"):
            camera.expose(0.2, timeout=0.4)
        abort = srv.wait_command("newSwitchVector", "CCD_ABORT_EXPOSURE")
        assert [(c.get("name"), c.text) for c in abort] == [("ABORT", "On")]
        ccd.mode = "die"
        started = time.monotonic()
        with pytest.raises(CameraDisconnected, match=r"lost during a 0\.5s exposure"):
            camera.expose(0.5)
        assert time.monotonic() - started < 30  # EOF noticed at once, not after exposure + 60 s margin
        assert not camera.alive() and camera.abort() is False
    finally:
        camera.close()
        srv.close()
    assert not camera.connected


def test_camera_turns_compression_off_on_indi_1_8_drivers():
    srv = FakeIndiServer(FakeCcd("Old CCD", legacy=True))
    camera = IndiCamera("127.0.0.1", srv.port, "Old CCD", connect_timeout=5, blob_margin=5)
    try:
        camera.connect()
        sent = {c.get("name"): c.text for c in srv.wait_command("newSwitchVector", "CCD_COMPRESSION")}
        assert sent == {"CCD_COMPRESS": "Off", "CCD_RAW": "On"}
        assert camera.expose(0.1).size > 40_000
    finally:
        camera.close()
        srv.close()


def test_camera_connect_is_cancellable_and_names_the_missing_device(server):
    camera = IndiCamera("127.0.0.1", server.port, "Nobody", connect_timeout=0.5)
    server.responder = FakeCcd("Somebody")
    with pytest.raises(CameraTimeout, match=r"device 'Nobody'.*devices seen: \['Somebody'\]"):
        camera.connect()
    assert not camera.connected


def test_camera_connect_cancel():
    srv = FakeIndiServer()
    cancel = threading.Event()
    threading.Timer(0.3, cancel.set).start()
    camera = IndiCamera("127.0.0.1", srv.port, "Nobody", connect_timeout=60)
    started = time.monotonic()
    try:
        with pytest.raises(ExposureCancelled):
            camera.connect(cancel=cancel)
        assert time.monotonic() - started < 30 and not camera.connected  # not the 60 s connect timeout
    finally:
        srv.close()
