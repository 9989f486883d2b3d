"""Auto-exposure: a pure controller steering the exposure towards a target ADU.

The sensor is treated as linear (signal ~ exposure), so the ideal next exposure is
``current * target / measured``.  The step is damped in log space (a factor, not a
difference, since exposures span 1e-4..30 s), limited to ``max_step`` per frame and
clamped to the period's (day or night) limits.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from .settings import ExposureLimits

__all__ = ["ExposureDecision", "ExposureLimits", "next_exposure", "is_stable"]


@dataclass(frozen=True)
class ExposureDecision:
    exposure: float  # seconds, for the next frame
    stable: bool  # the measured frame was within the tolerance band around the target
    clamped: bool  # the wanted exposure was outside the limits


def is_stable(measured_adu: float, target_adu: float, tolerance: float) -> bool:
    """True when ``measured`` is within ``tolerance`` (a fraction) of ``target``."""
    return abs(measured_adu - target_adu) <= tolerance * target_adu


def next_exposure(current_exposure: float, measured_adu: float, target_adu: float, limits: ExposureLimits,
                  *, damping: float = 0.6, tolerance: float = 0.15, max_step: float = 8.0,
                  black_level: float = 0.0) -> ExposureDecision:
    """Exposure for the next frame.

    current_exposure: exposure (s) of the frame that was measured.
    measured_adu: its brightness (e.g. the median), in the same units as target_adu.
    black_level: ADU of a zero-second frame (offset/bias), subtracted before the ratio.
    damping: 0 < damping <= 1; the fraction of the log-step taken (1 = undamped).
    max_step: largest factor the exposure may change by in one frame (> 1).
    Within the tolerance band the exposure is kept (no hunting), only clamped to the limits.
    """
    if current_exposure <= 0 or not math.isfinite(current_exposure):
        raise ValueError(f"current_exposure must be > 0, got {current_exposure!r}")
    if target_adu <= black_level:
        raise ValueError(f"target_adu must be > black_level, got {target_adu!r}")
    if not 0 < damping <= 1:
        raise ValueError(f"damping must be in (0, 1], got {damping!r}")
    if max_step <= 1:
        raise ValueError(f"max_step must be > 1, got {max_step!r}")
    if limits.minimum <= 0 or limits.minimum > limits.maximum:
        raise ValueError(f"invalid limits {limits!r}")

    if measured_adu is None or not math.isfinite(measured_adu):
        wanted = current_exposure
        stable = False
    else:
        stable = is_stable(measured_adu, target_adu, tolerance)
        if stable:
            wanted = current_exposure
        else:
            signal = max(measured_adu - black_level, 1e-3)  # a black frame: grow by max_step
            ratio = (target_adu - black_level) / signal
            log_step = damping * math.log(ratio)
            limit = math.log(max_step)
            log_step = max(-limit, min(limit, log_step))
            wanted = current_exposure * math.exp(log_step)
    exposure = limits.clamp(wanted)
    return ExposureDecision(exposure=exposure, stable=stable, clamped=not math.isclose(exposure, wanted))
