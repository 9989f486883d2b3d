from __future__ import annotations

import math
import socket
from datetime import datetime, timedelta, timezone

import pytest

from skyfleet.capture import sky


def almanac_sun_altitude(lat: float, lon: float, when: datetime) -> float:
    """Sun altitude from the Astronomical Almanac's low-precision formulae (~0.01 deg, 1950-2050),
    independent of astropy."""
    jd = when.timestamp() / 86400.0 + 2440587.5
    n = jd - 2451545.0
    mean_long = (280.460 + 0.9856474 * n) % 360.0
    g = math.radians((357.528 + 0.9856003 * n) % 360.0)
    ecl_long = math.radians(mean_long + 1.915 * math.sin(g) + 0.020 * math.sin(2 * g))
    eps = math.radians(23.439 - 0.0000004 * n)
    ra = math.atan2(math.cos(eps) * math.sin(ecl_long), math.cos(ecl_long))
    dec = math.asin(math.sin(eps) * math.sin(ecl_long))
    gmst = math.radians((280.46061837 + 360.98564736629 * n) % 360.0)
    ha = gmst + math.radians(lon) - ra
    phi = math.radians(lat)
    return math.degrees(math.asin(math.sin(phi) * math.sin(dec) + math.cos(phi) * math.cos(dec) * math.cos(ha)))


UTC = timezone.utc


@pytest.mark.parametrize("lat, lon, when", [
    (52.0, 5.0, datetime(2024, 6, 21, 11, 40, tzinfo=UTC)),      # Netherlands, solstice noon
    (52.0, 5.0, datetime(2024, 12, 21, 16, 0, tzinfo=UTC)),      # around sunset
    (-33.9, 18.4, datetime(2025, 3, 20, 6, 0, tzinfo=UTC)),      # Cape Town, morning
    (19.8, -155.5, datetime(2023, 10, 14, 3, 0, tzinfo=UTC)),    # Hawaii, deep night
    (64.1, -21.9, datetime(2026, 9, 1, 23, 30, tzinfo=UTC)),     # Reykjavik, night
])
def test_sun_altitude_matches_almanac_formula(lat, lon, when):
    state = sky.sky_state(lat, lon, 0.0, when)
    assert state.sun_alt == pytest.approx(almanac_sun_altitude(lat, lon, when), abs=0.5)


def test_moon_is_nearly_full_at_a_known_full_moon():
    # full moon 2024-04-23 23:49 UTC
    assert sky.sky_state(52.0, 5.0, 0.0, datetime(2024, 4, 23, 23, 49, tzinfo=UTC)).moon_phase > 95


def test_moon_is_nearly_new_at_a_known_new_moon():
    # new moon (and total solar eclipse) 2024-04-08 18:21 UTC
    assert sky.sky_state(52.0, 5.0, 0.0, datetime(2024, 4, 8, 18, 21, tzinfo=UTC)).moon_phase < 5


def test_full_moon_is_opposite_the_sun():
    # near full moon the moon is up roughly when the sun is down
    state = sky.sky_state(52.0, 5.0, 0.0, datetime(2024, 4, 23, 23, 49, tzinfo=UTC))
    assert state.sun_alt < -10 and state.moon_alt > 10


def test_is_night_uses_the_threshold():
    assert sky.is_night(-6.1)
    assert not sky.is_night(-5.9)
    assert sky.is_night(-13, night_sun_alt=-12)
    assert not sky.is_night(-11, night_sun_alt=-12)


def test_naive_datetime_is_rejected():
    with pytest.raises(ValueError, match="timezone-aware"):
        sky.sky_state(52.0, 5.0, 0.0, datetime(2024, 4, 23, 23, 49))


def test_no_network_is_touched_even_far_outside_the_iers_tables(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError(f"network access attempted: {args}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    from astropy.utils import iers

    now = datetime.now(UTC)
    for when in (now, now + timedelta(days=3650), datetime(1975, 1, 1, tzinfo=UTC)):
        state = sky.sky_state(-24.6, -70.4, 2635.0, when)
        assert -90 <= state.sun_alt <= 90 and 0 <= state.moon_phase <= 100
    assert iers.conf.auto_download is False
