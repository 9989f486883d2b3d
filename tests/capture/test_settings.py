from __future__ import annotations

import pytest

from skyfleet.capture.settings import CaptureSettings

BASE = {"latitude": 52.1, "longitude": 5.2}


def test_from_mapping_builds_settings_with_defaults():
    s = CaptureSettings.from_mapping(dict(BASE, indi_port=7625, drivers=["indi_simulator_ccd"], period=30))
    assert s.indi_port == 7625
    assert s.period == 30.0 and isinstance(s.period, float)
    assert s.ccd_device == "CCD Simulator"
    assert s.night_sun_alt == -6.0
    assert s.limits(night=True).maximum == s.exposure_max_night
    assert s.gain(night=False) == s.gain_day


@pytest.mark.parametrize("key, value", [
    ("indi_port", 0),
    ("indi_port", "7624"),
    ("binning", 0),
    ("binning", True),
    ("gain_night", -1),
    ("exposure_max_night", 0),
    ("target_adu", 70000),
    ("period", -5),
    ("daytime_capture", "yes"),
    ("drivers", []),
    ("drivers", "indi_simulator_ccd"),
    ("latitude", 91),
    ("ccd_device", ""),
    ("telescope_device", " Telescope Simulator"),
    ("telescope_device", "CCD Simulator"),
    ("telescope_device", 7),
    ("adu_tolerance", 0),
    ("night_sun_alt", "dusk"),
])
def test_invalid_value_names_the_field(key, value):
    with pytest.raises(ValueError, match=rf"^capture\.{key}:"):
        CaptureSettings.from_mapping(dict(BASE, **{key: value}))


def test_min_above_max_names_the_min_field():
    with pytest.raises(ValueError, match=r"^capture\.exposure_min_night:"):
        CaptureSettings.from_mapping(dict(BASE, exposure_min_night=10, exposure_max_night=5))


def test_unknown_key_is_rejected_by_name():
    with pytest.raises(ValueError, match=r"^capture\.exposure_maxnight: unknown setting"):
        CaptureSettings.from_mapping(dict(BASE, exposure_maxnight=5))


@pytest.mark.parametrize("missing", ["latitude", "longitude"])
def test_location_is_required(missing):
    raw = dict(BASE)
    del raw[missing]
    with pytest.raises(ValueError, match=rf"^capture\.{missing}: is required"):
        CaptureSettings.from_mapping(raw)


def test_constructor_validates_too():
    with pytest.raises(ValueError, match=r"^capture\.period:"):
        CaptureSettings(latitude=0, longitude=0, period=0)
