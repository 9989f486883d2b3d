"""Numeric ranges: what the settings allow and what a driver accepts (no INDI, no I/O)."""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Optional

# INDI's CCD base class words a refused exposure as
#   "Requested exposure value (0.0001) seconds out of bounds [0.01,3600]."
_BOUNDS_RE = re.compile(r"\[\s*([-+]?[0-9.]+(?:[eE][-+]?\d+)?)\s*,\s*([-+]?[0-9.]+(?:[eE][-+]?\d+)?)\s*\]")


@dataclass(frozen=True)
class NumberRange:
    minimum: float
    maximum: float

    def clamp(self, value: float) -> float:
        return min(max(value, self.minimum), self.maximum)

    def contains(self, value: float) -> bool:
        return self.minimum <= value <= self.maximum or math.isclose(value, self.clamp(value), rel_tol=1e-9)

    def __str__(self) -> str:
        return f"{self.minimum:g}..{self.maximum:g}"


def driver_range(minimum: Optional[float], maximum: Optional[float]) -> Optional[NumberRange]:
    """The range a driver announced for a number, or None when it announced none (INDI drivers
    that do not care send min = max = 0)."""
    if minimum is None or maximum is None or not (math.isfinite(minimum) and math.isfinite(maximum)):
        return None
    if maximum <= minimum:
        return None
    return NumberRange(minimum, maximum)


def bounds_in_message(message: str) -> Optional[NumberRange]:
    """The ``[min,max]`` a driver's refusal names, if it names one."""
    match = _BOUNDS_RE.search(message or "")
    if match is None:
        return None
    try:
        return driver_range(float(match.group(1)), float(match.group(2)))
    except ValueError:
        return None
