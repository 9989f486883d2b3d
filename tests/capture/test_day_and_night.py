"""The real CCD simulator at a noon site and a midnight site, and across dusk and dawn.

The sky comes from the real ephemeris (astropy, offline) at a clock the test sets, so these pass at
any hour.  indi_simulator_ccd refuses exposures below 0.01 s; the day settings ask for 0.0001 s.
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone

from skyfleet.capture.indi_client import IndiCamera
from skyfleet.capture.loop import CaptureLoop
from skyfleet.capture.ranges import NumberRange
from skyfleet.capture.settings import CaptureSettings
from skyfleet.capture.sky import sky_state

from .indi_sim import CCD

UTC = timezone.utc
# the demo site; solar noon there is about 11:40 UTC, and it is dark by 16:30 UTC in December
LATITUDE, LONGITUDE = 52.0, 4.9
NOON = datetime(2026, 6, 21, 11, 40, tzinfo=UTC)
MIDNIGHT = datetime(2026, 12, 21, 23, 40, tzinfo=UTC)


def sim_settings(sim, **kw) -> CaptureSettings:
    base = dict(latitude=LATITUDE, longitude=LONGITUDE, indi_port=sim.port, ccd_device=CCD, period=0.01,
                exposure_min_day=0.0001, exposure_max_day=0.5, exposure_min_night=1.0, exposure_max_night=1.5,
                gain_day=10.0, gain_night=90.0, connect_timeout=10.0, blob_margin=20.0)
    base.update(kw)
    return CaptureSettings(**base)


class SteppingClock:
    """Each call is `step` later than the one before: one capture period per call."""

    def __init__(self, start: datetime, step: timedelta) -> None:
        self.now, self.step, self.calls = start - step, step, 0

    def __call__(self) -> datetime:
        self.now += self.step
        self.calls += 1
        return self.now


def capture(sim, clock, frames, **kw):
    delivered = []
    loop = CaptureLoop(sim_settings(sim, **kw), IndiCamera.from_settings,
                       lambda frame, context: delivered.append((frame, context)), clock=clock)
    assert loop.run(max_frames=frames) == frames
    return loop, delivered


def test_noon_frames_use_the_drivers_shortest_exposure(indi_sim, caplog):
    assert sky_state(LATITUDE, LONGITUDE, 0.0, NOON).sun_alt > 55
    with caplog.at_level(logging.WARNING):
        loop, delivered = capture(indi_sim, lambda: NOON, 3)
    assert loop.driver.exposure == NumberRange(0.01, 3600)  # what indi_simulator_ccd announces
    for frame, context in delivered:
        assert not context.night and context.gain == 10
        assert 0.01 <= frame.exposure <= 0.5 and frame.size > 1_000_000
    assert delivered[0][0].exposure == 0.01
    assert caplog.text.count("capture.exposure_min_day = 0.0001s is below what CCD Simulator accepts") == 1
    assert "refused" not in caplog.text


def test_midnight_frames_use_the_night_limits(indi_sim):
    assert sky_state(LATITUDE, LONGITUDE, 0.0, MIDNIGHT).sun_alt < -50
    _, delivered = capture(indi_sim, lambda: MIDNIGHT, 2)
    for frame, context in delivered:
        assert context.night and context.gain == 90
        assert 1.0 <= frame.exposure <= 1.5 and frame.size > 1_000_000


def _period_changes(delivered):
    nights = [context.night for _, context in delivered]
    return [i for i in range(1, len(nights)) if nights[i] != nights[i - 1]], nights


def _assert_each_frame_within_its_periods_limits(delivered):
    for frame, context in delivered:
        if context.night:
            assert 1.0 <= frame.exposure <= 1.5 and context.gain == 90, (frame.exposure, context)
        else:
            assert 0.01 <= frame.exposure <= 0.5 and context.gain == 10, (frame.exposure, context)


def test_dusk_switches_to_night_limits_without_a_lost_frame(indi_sim):
    clock = SteppingClock(datetime(2026, 12, 1, 15, 30, tzinfo=UTC), timedelta(minutes=8))  # sunset ~15:29
    _, delivered = capture(indi_sim, clock, 10)  # 15:30 .. 16:42 UTC, one frame per step
    assert clock.calls == 10  # every period delivered its frame
    changes, nights = _period_changes(delivered)
    assert len(changes) == 1 and nights[0] is False and nights[-1] is True, nights
    _assert_each_frame_within_its_periods_limits(delivered)


def test_dawn_switches_to_day_limits_without_a_lost_frame(indi_sim):
    clock = SteppingClock(datetime(2026, 12, 2, 6, 30, tzinfo=UTC), timedelta(minutes=8))  # -6 deg ~07:05
    _, delivered = capture(indi_sim, clock, 10)
    assert clock.calls == 10
    changes, nights = _period_changes(delivered)
    assert len(changes) == 1 and nights[0] is True and nights[-1] is False, nights
    _assert_each_frame_within_its_periods_limits(delivered)
