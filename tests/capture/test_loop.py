from __future__ import annotations

import threading
import time
from datetime import datetime, timezone

from skyfleet.capture.loop import CaptureLoop
from skyfleet.capture.settings import CaptureSettings
from skyfleet.capture.sky import SkyState
from tests.helpers.waiting import wait_until

from .fakes import FakeCamera

UTC = timezone.utc


def fixed_sky(sun_alt):
    def sky(lat, lon, elev, when):
        return SkyState(when=when, sun_alt=sun_alt, moon_alt=12.5, moon_phase=80.0)
    return sky


def settings(**kw):
    base = dict(latitude=52.0, longitude=5.0, period=0.01, target_adu=8000, adu_tolerance=0.1,
                exposure_min_night=1.0, exposure_max_night=30.0, exposure_min_day=0.001, exposure_max_day=1.0,
                gain_night=90, gain_day=5, exposure_damping=0.7, reconnect_backoff_initial=0.01)
    base.update(kw)
    return CaptureSettings(**base)


def test_night_frames_carry_context_and_follow_auto_exposure():
    log, delivered = [], []
    cams = []

    def factory(s):
        cams.append(FakeCamera(log, adu_per_second=1000.0))  # 8 s reaches the 8000 ADU target
        return cams[-1]

    loop = CaptureLoop(settings(), factory, lambda f, c: delivered.append((f, c)), sky=fixed_sky(-30.0))
    assert loop.run(max_frames=12) == 12
    first, last = delivered[0][1], delivered[-1][1]
    assert first.night is True and first.sun_alt == -30.0 and first.moon_alt == 12.5 and first.moon_phase == 80.0
    assert first.exposure == 1.0 and first.gain == 90
    assert first.measured_adu == 1000.0
    for (_, a), (_, b) in zip(delivered, delivered[1:]):
        assert b.exposure == a.next_exposure  # the announced next exposure is what was used
    assert last.stable is True and abs(last.exposure - 8.0) <= 0.8
    assert cams[0].exposures == [c.exposure for _, c in delivered]
    assert not cams[0].connected  # closed when the loop ended


def test_daytime_uses_day_gain_and_limits():
    delivered = []
    loop = CaptureLoop(settings(), lambda s: FakeCamera([], adu_per_second=1e6),
                       lambda f, c: delivered.append(c), sky=fixed_sky(30.0))
    loop.run(max_frames=3)
    assert all(not c.night and c.gain == 5 for c in delivered)
    assert all(0.001 <= c.exposure <= 1.0 for c in delivered)


def test_daytime_is_skipped_when_disabled():
    calls = []
    loop = CaptureLoop(settings(daytime_capture=False), lambda s: calls.append(s) or FakeCamera([]),
                       lambda f, c: calls.append(c), sky=fixed_sky(10.0))
    assert loop.step() is False
    assert calls == []  # no camera was even made


def test_twilight_threshold_comes_from_settings():
    delivered = []
    loop = CaptureLoop(settings(night_sun_alt=-12.0), lambda s: FakeCamera([]), lambda f, c: delivered.append(c),
                       sky=fixed_sky(-8.0))
    loop.run(max_frames=1)
    assert delivered[0].night is False  # -8 deg is night for -6 but not for -12


def test_real_sky_and_clock_are_used_by_default():
    delivered = []
    loop = CaptureLoop(settings(), lambda s: FakeCamera([]), lambda f, c: delivered.append(c),
                       clock=lambda: datetime(2024, 4, 23, 23, 49, tzinfo=UTC))  # full moon, night in NL
    loop.run(max_frames=1)
    assert delivered[0].night is True and delivered[0].moon_phase > 95


def test_stop_ends_the_loop_promptly_during_an_exposure():
    log = []
    cameras = []

    def factory(s):
        cameras.append(FakeCamera(log, exposure_delay=120))
        return cameras[-1]

    loop = CaptureLoop(settings(period=60), factory, lambda f, c: None, sky=fixed_sky(-30.0))
    runner = threading.Thread(target=loop.run)
    runner.start()
    assert wait_until(lambda: cameras and cameras[0].exposing.is_set(), 60)
    started = time.monotonic()
    loop.stop()
    runner.join(60)
    assert not runner.is_alive()
    assert time.monotonic() - started < 30  # the stop, not the 120 s exposure
    assert "cancelled" in log and log[-1] == "close"


def test_failing_on_frame_does_not_stop_capture(caplog):
    def broken(frame, context):
        raise RuntimeError("database down")

    loop = CaptureLoop(settings(), lambda s: FakeCamera([]), broken, sky=fixed_sky(-30.0))
    assert loop.run(max_frames=3) == 3
    assert "on_frame failed" in caplog.text
