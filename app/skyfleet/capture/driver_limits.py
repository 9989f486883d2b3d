"""What the connected camera accepts, and the configured limits fitted into it.

The settings say what the operator wants (e.g. ``exposure_min_day = 0.0001``); the driver says what
the camera can do (INDI's number min/max, or the bounds named in a refusal).  Every request is
fitted into the driver's range, and each setting that lies outside it is logged once, by name.
"""
from __future__ import annotations

import logging
from typing import Any, Optional, Set, Tuple

from .ranges import NumberRange
from .settings import SECTION, CaptureSettings, ExposureLimits

log = logging.getLogger(__name__)


class DriverLimits:
    def __init__(self, settings: CaptureSettings) -> None:
        self.settings = settings
        self.device = settings.ccd_device
        self.exposure: Optional[NumberRange] = None
        self.gain: Optional[NumberRange] = None
        self.binning: Optional[NumberRange] = None
        self._told: Set[Tuple[str, float, str]] = set()

    def read_from(self, camera: Any) -> None:
        """After each (re)connect: the ranges the driver announces (a camera without them keeps none)."""
        for attr, reader in (("exposure", "exposure_range"), ("gain", "gain_range"), ("binning", "binning_range")):
            read = getattr(camera, reader, None)
            announced = read() if read is not None else None
            if announced is not None:
                setattr(self, attr, announced)
        self._check_binning()

    def learn_exposure(self, bounds: NumberRange) -> None:
        """The driver named its range in a refusal: trust that over what it announced."""
        if bounds != self.exposure:
            log.info("%s accepts exposures of %s s (from its refusal)", self.device, bounds)
        self.exposure = bounds

    def exposure_limits(self, night: bool) -> ExposureLimits:
        """The period's configured limits fitted into the driver's exposure range."""
        configured = self.settings.limits(night)
        driver = self.exposure
        if driver is None:
            return configured
        period = "night" if night else "day"
        low = self._fit(f"exposure_min_{period}", configured.minimum, driver, "CCD_EXPOSURE", "s")
        high = self._fit(f"exposure_max_{period}", configured.maximum, driver, "CCD_EXPOSURE", "s")
        return ExposureLimits(low, high)

    def gain_for(self, night: bool) -> float:
        name = "gain_night" if night else "gain_day"
        configured = getattr(self.settings, name)
        return configured if self.gain is None else self._fit(name, configured, self.gain, "CCD_GAIN", "")

    def _check_binning(self) -> None:
        if self.binning is not None:
            self._fit("binning", float(self.settings.binning), self.binning, "CCD_BINNING", "")

    def _fit(self, setting: str, value: float, driver: NumberRange, vector: str, unit: str) -> float:
        if driver.contains(value):
            return value
        used = driver.clamp(value)
        key = (setting, value, str(driver))
        if key not in self._told:
            self._told.add(key)
            side = "below" if value < driver.minimum else "above"
            log.warning("%s.%s = %g%s is %s what %s accepts (%s %s%s); using %g%s", SECTION, setting, value, unit,
                        side, self.device, vector, driver, unit, used, unit)
        return used
