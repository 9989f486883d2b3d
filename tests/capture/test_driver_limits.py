"""Capture honours what the driver accepts: requests fitted into its ranges, refusals never repeated.

The drivers here are the fake INDI server's FakeCcd, announcing and refusing the way INDI's CCD base
class does (indi_simulator_ccd announces CCD_EXPOSURE 0.01..3600 and refuses 0.0001 with
"Requested exposure value (0.0001) seconds out of bounds [0.01,3600]."); the real simulator is in
test_day_and_night.py.
"""
from __future__ import annotations

import logging

import pytest

from skyfleet.capture.driver_limits import DriverLimits
from skyfleet.capture.indi_client import ExposureRefused, IndiCamera
from skyfleet.capture.loop import CaptureLoop
from skyfleet.capture.ranges import NumberRange, bounds_in_message
from skyfleet.capture.settings import CaptureSettings
from skyfleet.capture.status import read_status, write_status

from .fake_indi import FakeCcd, FakeIndiServer
from .fakes import fits_bytes
from .test_loop import fixed_sky

DEVICE = "Fake CCD"


def day_settings(port: int = 7624, **kw) -> CaptureSettings:
    base = dict(latitude=52.0, longitude=4.9, indi_port=port, ccd_device=DEVICE, period=0.01,
                exposure_min_day=0.0001, exposure_max_day=1.0, gain_day=0.0, connect_timeout=5.0, blob_margin=5.0,
                reconnect_backoff_initial=0.01)
    base.update(kw)
    return CaptureSettings(**base)


class Announcing:
    """Stands in for a connected IndiCamera: only the ranges it announces."""

    def __init__(self, exposure=None, gain=None, binning=None):
        self._ranges = {"exposure_range": exposure, "gain_range": gain, "binning_range": binning}

    def __getattr__(self, name):
        if name in self._ranges:
            return lambda: self._ranges[name]
        raise AttributeError(name)


@pytest.fixture
def fake_driver():
    servers = []

    def start(**kw):
        ccd = FakeCcd(DEVICE, frame=fits_bytes(3000.0), **kw)
        servers.append(FakeIndiServer(ccd))
        return ccd, servers[-1]

    yield start
    for srv in servers:
        srv.close()


def test_the_simulators_refusal_message_names_its_bounds():
    message = "[ERROR] Requested exposure value (0.0001) seconds out of bounds [0.01,3600]."
    assert bounds_in_message(message) == NumberRange(0.01, 3600.0)
    assert bounds_in_message("[ERROR] Telescope coordinates missing.") is None
    assert bounds_in_message("bounds [5,1]") is None  # not a range


def test_configured_limits_are_fitted_into_the_drivers_and_each_setting_is_named_once(caplog):
    limits = DriverLimits(day_settings(exposure_max_day=0.005, gain_day=250.0, binning=8))
    with caplog.at_level(logging.WARNING, logger="skyfleet.capture.driver_limits"):
        limits.read_from(Announcing(NumberRange(0.01, 3600), NumberRange(0, 100), NumberRange(1, 4)))
        for _ in range(3):
            fitted = limits.exposure_limits(night=False)
            gain = limits.gain_for(night=False)
    # the whole configured day range lies below the driver's shortest exposure: its minimum is used
    assert (fitted.minimum, fitted.maximum) == (0.01, 0.01)
    assert gain == 100
    warnings = [r.getMessage() for r in caplog.records]
    assert warnings.count("capture.exposure_min_day = 0.0001s is below what Fake CCD accepts "
                          "(CCD_EXPOSURE 0.01..3600s); using 0.01s") == 1
    assert sum("capture.exposure_max_day = 0.005s is below" in w for w in warnings) == 1
    assert sum("capture.gain_day = 250 is above what Fake CCD accepts (CCD_GAIN 0..100); using 100" in w
               for w in warnings) == 1
    assert sum("capture.binning = 8 is above" in w for w in warnings) == 1
    assert len(warnings) == 4
    # night limits inside the driver's range stay as configured, without a word
    assert limits.exposure_limits(night=True) == day_settings().night_limits


def test_a_camera_announcing_a_10ms_minimum_is_never_asked_for_less(fake_driver, caplog):
    ccd, srv = fake_driver(exposure_range=(0.01, 3600), refuse_below=0.01)
    delivered = []
    loop = CaptureLoop(day_settings(srv.port), IndiCamera.from_settings, lambda f, c: delivered.append(c),
                       sky=fixed_sky(35.0))
    with caplog.at_level(logging.WARNING):
        assert loop.run(max_frames=3) == 3
    assert ccd.requests and min(ccd.requests) >= 0.01
    assert delivered[0].exposure == 0.01 and not delivered[0].night
    assert "capture.exposure_min_day = 0.0001s is below what Fake CCD accepts" in caplog.text
    assert "refused" not in caplog.text


def test_a_refusal_naming_its_bounds_is_clamped_and_retried_at_once(fake_driver, caplog):
    # announces nothing (min = max = 0), refuses what is too short, naming its bounds
    ccd, srv = fake_driver(exposure_range=None, refuse_below=0.01)
    delivered = []
    loop = CaptureLoop(day_settings(srv.port), IndiCamera.from_settings, lambda f, c: delivered.append(c),
                       sky=fixed_sky(35.0))
    with caplog.at_level(logging.INFO):
        assert loop.step() is True  # the refusal and the retry happen within one period
    assert ccd.requests[:2] == [0.0001, 0.01]
    assert delivered[0].exposure == 0.01
    assert loop.driver.exposure == NumberRange(0.01, 3600)
    assert "refused a 0.0001s exposure" in caplog.text and "retrying with 0.01s" in caplog.text
    assert loop.run(max_frames=3) == 3
    assert min(ccd.requests[1:]) >= 0.01


def test_a_driver_refusing_everything_is_reported_and_never_asked_the_same_twice_in_a_row(
        fake_driver, tmp_path, caplog):
    ccd, srv = fake_driver(mode="refuse_all")
    state_file = tmp_path / "capture-state.json"
    loop = CaptureLoop(day_settings(srv.port), IndiCamera.from_settings, lambda f, c: None, sky=fixed_sky(35.0),
                       on_status=lambda status: write_status(state_file, status))
    with caplog.at_level(logging.ERROR, logger="skyfleet.capture.loop"):
        for _ in range(8):
            assert loop.step() is False
    assert len(ccd.requests) == 8  # one request per period: no busy retry loop
    for previous, current in zip(ccd.requests, ccd.requests[1:]):
        assert previous != pytest.approx(current), ccd.requests
    assert all(0.001 <= r <= 1.0 for r in ccd.requests), ccd.requests  # within the fitted day limits
    state = read_status(state_file)
    assert state is not None and state.state == "refused" and state.problem
    assert "Fake CCD refused a" in state.message and "CCD_EXPOSURE Alert" in state.message
    assert "capture refused: Fake CCD refused a" in caplog.text


def test_a_frame_after_refusals_reports_capturing_again(fake_driver, tmp_path):
    ccd, srv = fake_driver(mode="refuse_all")
    state_file = tmp_path / "capture-state.json"
    loop = CaptureLoop(day_settings(srv.port), IndiCamera.from_settings, lambda f, c: None, sky=fixed_sky(35.0),
                       on_status=lambda status: write_status(state_file, status))
    assert loop.step() is False
    assert read_status(state_file).state == "refused"
    ccd.mode = "ok"
    assert loop.step() is True
    state = read_status(state_file)
    assert state.state == "capturing" and state.frames == 1 and state.driver_exposure_range == "0.001..3600 s"


def test_indi_camera_clamps_a_request_into_the_announced_range_and_raises_refusals(fake_driver):
    ccd, srv = fake_driver(exposure_range=(0.01, 3600), refuse_below=0.5)
    camera = IndiCamera("127.0.0.1", srv.port, DEVICE, connect_timeout=5, blob_margin=5)
    try:
        camera.connect()
        assert camera.exposure_range() == NumberRange(0.01, 3600)
        assert camera.gain_range() == NumberRange(0, 100) and camera.binning_range() == NumberRange(1, 4)
        with pytest.raises(ExposureRefused) as refused:
            camera.expose(0.0001)
        assert ccd.requests == [0.01]  # clamped before it was sent
        assert refused.value.seconds == 0.01 and refused.value.bounds == NumberRange(0.5, 3600)
    finally:
        camera.close()
