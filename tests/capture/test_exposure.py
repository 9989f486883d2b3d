from __future__ import annotations

import pytest

from skyfleet.capture.exposure import ExposureLimits, next_exposure

NIGHT = ExposureLimits(1.0, 30.0)
DAY = ExposureLimits(0.0001, 1.0)


def linear_sensor(gain_adu_per_s: float, black: float = 0.0, full_well: float = 65535.0):
    return lambda exposure: min(black + gain_adu_per_s * exposure, full_well)


def run(sensor, start, target, limits, frames, **kw):
    exposure, history = start, []
    for _ in range(frames):
        adu = sensor(exposure)
        decision = next_exposure(exposure, adu, target, limits, **kw)
        history.append((exposure, adu, decision.stable))
        exposure = decision.exposure
    return exposure, history


def test_converges_towards_target_on_a_linear_sensor():
    sensor = linear_sensor(1000.0)  # ideal exposure for 8000 ADU: 8 s
    exposure, history = run(sensor, 1.0, 8000, NIGHT, 12, damping=0.6, tolerance=0.05)
    assert abs(sensor(exposure) - 8000) <= 0.05 * 8000
    assert history[-1][2] is True
    errors = [abs(adu - 8000) for _, adu, _ in history]
    assert errors[3] < errors[0]  # monotone approach, no overshoot with damping < 1
    assert all(adu <= 8000 * 1.05 for _, adu, _ in history)


def test_converges_down_from_saturation():
    sensor = linear_sensor(100000.0)  # ideal 0.1 s for 10000 ADU; starting at 1 s saturates
    exposure, history = run(sensor, 1.0, 10000, DAY, 15, damping=0.6, tolerance=0.1)
    assert history[0][1] == 65535.0
    assert exposure == pytest.approx(0.1, rel=0.1)


def test_undamped_linear_step_hits_target_at_once():
    decision = next_exposure(2.0, 2000, 8000, NIGHT, damping=1.0, max_step=10)
    assert decision.exposure == pytest.approx(8.0)
    assert decision.stable is False


def test_step_is_limited_per_frame():
    decision = next_exposure(1.0, 1.0, 10000, NIGHT, damping=1.0, max_step=4)
    assert decision.exposure == pytest.approx(4.0)


def test_black_frame_grows_the_exposure():
    assert next_exposure(2.0, 0.0, 8000, NIGHT).exposure > 2.0


def test_night_clamps():
    assert next_exposure(25.0, 100, 8000, NIGHT, damping=1.0).exposure == 30.0  # wants more than max
    low = next_exposure(2.0, 60000, 8000, NIGHT, damping=1.0)  # wants 0.27 s
    assert low.exposure == 1.0 and low.clamped


def test_day_clamps():
    assert next_exposure(0.9, 10, 8000, DAY, damping=1.0).exposure == 1.0
    assert next_exposure(0.0002, 65535, 1000, DAY, damping=1.0, max_step=100).exposure == 0.0001


def test_stable_within_tolerance_keeps_exposure():
    d = next_exposure(5.0, 8500, 8000, NIGHT, tolerance=0.1)
    assert d.stable is True
    assert d.exposure == 5.0
    assert next_exposure(5.0, 9000, 8000, NIGHT, tolerance=0.1).stable is False


def test_rejects_bad_arguments():
    with pytest.raises(ValueError):
        next_exposure(0, 100, 8000, NIGHT)
    with pytest.raises(ValueError):
        next_exposure(1, 100, 8000, NIGHT, damping=0)
