"""Sun and moon for a site: altitudes and the moon's illuminated fraction (astropy, offline).

Nothing here may touch the network: an appliance has no internet, and a download attempt
would stall every frame.  IERS auto-download is switched off and times outside the bundled
tables (astropy-iers-data) are accepted with degraded (sub-arcsecond-level) accuracy, which
is far below what day/night decisions need.
"""
from __future__ import annotations

import math
import threading
import warnings
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Optional

__all__ = ["SkyState", "sky_state", "sun_altitude", "is_night", "configure_offline"]

_configured = False
_lock = threading.Lock()


@dataclass(frozen=True)
class SkyState:
    when: datetime
    sun_alt: float  # degrees
    moon_alt: float  # degrees
    moon_phase: float  # illuminated percent, 0 (new) .. 100 (full)


def configure_offline() -> None:
    """Make astropy use only its bundled IERS / leap-second tables (idempotent)."""
    global _configured
    with _lock:
        if _configured:
            return
        from astropy.coordinates import solar_system_ephemeris
        from astropy.utils import iers

        iers.conf.auto_download = False
        iers.conf.auto_max_age = None
        iers.conf.iers_degraded_accuracy = "ignore"
        # the builtin (analytic) ephemeris: the JPL kernels would be downloaded
        solar_system_ephemeris.set("builtin")
        _configured = True


def _as_utc(when: Optional[datetime]) -> datetime:
    if when is None:
        return datetime.now(timezone.utc)
    if when.tzinfo is None:
        raise ValueError("a timezone-aware datetime is required (use UTC)")
    return when.astimezone(timezone.utc)


def _site(latitude: float, longitude: float, elevation: float):
    import astropy.units as u
    from astropy.coordinates import EarthLocation

    return EarthLocation.from_geodetic(lon=longitude * u.deg, lat=latitude * u.deg, height=elevation * u.m)


def _time(when: datetime):
    from astropy.time import Time

    # naive UTC: astropy would warn about the tz-aware datetime
    return Time(when.replace(tzinfo=None), scale="utc")


def sky_state(latitude: float, longitude: float, elevation: float = 0.0,
              when: Optional[datetime] = None) -> SkyState:
    """Sun altitude, moon altitude (topocentric, no refraction) and moon phase at ``when`` (UTC)."""
    configure_offline()
    when = _as_utc(when)
    import astropy.units as u
    from astropy.coordinates import AltAz, get_body

    site = _site(latitude, longitude, elevation)
    with warnings.catch_warnings():
        # e.g. "times are outside of range covered by IERS table", ERFA "dubious year" (future leap seconds)
        warnings.simplefilter("ignore")
        t = _time(when)
        frame = AltAz(obstime=t, location=site)  # pressure 0: no refraction
        sun = get_body("sun", t, site)
        moon = get_body("moon", t, site)
        sun_alt = float(sun.transform_to(frame).alt.to_value(u.deg))
        moon_alt = float(moon.transform_to(frame).alt.to_value(u.deg))
        phase = _moon_illumination(t)
    return SkyState(when=when, sun_alt=sun_alt, moon_alt=moon_alt, moon_phase=phase)


def _moon_illumination(t) -> float:
    """Illuminated percent from the geocentric sun-moon elongation (Meeus ch. 48)."""
    import astropy.units as u
    from astropy.coordinates import get_body

    sun = get_body("sun", t)
    moon = get_body("moon", t)
    elongation = sun.separation(moon).to_value(u.rad)
    d_sun = sun.distance.to_value(u.km)
    d_moon = moon.distance.to_value(u.km)
    phase_angle = math.atan2(d_sun * math.sin(elongation), d_moon - d_sun * math.cos(elongation))
    return float(100.0 * (1.0 + math.cos(phase_angle)) / 2.0)


def sun_altitude(latitude: float, longitude: float, elevation: float = 0.0,
                 when: Optional[datetime] = None) -> float:
    return sky_state(latitude, longitude, elevation, when).sun_alt


def is_night(sun_alt: float, night_sun_alt: float = -6.0) -> bool:
    """Night when the sun is below ``night_sun_alt`` degrees (-6 civil, -12 nautical, -18 astronomical)."""
    return sun_alt < night_sun_alt
