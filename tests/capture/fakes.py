"""A fake camera for loop/watchdog unit tests: a linear sensor producing small FITS frames."""
from __future__ import annotations

import io
import threading
from datetime import datetime, timezone
from typing import List, Optional

import numpy as np
from astropy.io import fits

from skyfleet.capture.indi_client import CameraDisconnected, CameraTimeout, ExposureCancelled, Frame


def fits_bytes(value: float, shape=(32, 40)) -> bytes:
    data = np.full(shape, min(max(value, 0), 65535), dtype=np.uint16)
    buf = io.BytesIO()
    fits.PrimaryHDU(data).writeto(buf)
    return buf.getvalue()


class FakeCamera:
    """``adu_per_second`` * exposure of signal; scripted failures via the shared ``script`` list."""

    def __init__(self, log: List[str], adu_per_second: float = 1000.0, script: Optional[List[str]] = None,
                 exposure_delay: float = 0.0) -> None:
        self.log = log
        self.adu_per_second = adu_per_second
        self.script = script if script is not None else []
        self.exposure_delay = exposure_delay
        self.gain: Optional[float] = None
        self.binning: Optional[int] = None
        self.connected = False
        self.exposures: List[float] = []
        self.exposing = threading.Event()  # set once an exposure is under way

    def set_gain(self, gain):
        self.gain = gain
        self.log.append(f"gain {gain}")

    def set_binning(self, binning):
        self.binning = binning

    def connect(self, cancel=None):
        if self.script and self.script[0] == "refuse":
            self.script.pop(0)
            self.log.append("refused")
            raise CameraDisconnected("cannot connect to indiserver at fake: refused")
        self.connected = True
        self.log.append(f"connect gain={self.gain} binning={self.binning}")

    def close(self):
        self.connected = False
        self.log.append("close")

    def abort(self):
        self.log.append("abort")
        return True

    def expose(self, seconds, cancel: Optional[threading.Event] = None, timeout=None):
        assert self.connected
        if self.script and self.script[0] in ("timeout", "eof"):
            what = self.script.pop(0)
            self.log.append(what)
            if what == "timeout":
                raise CameraTimeout("no BLOB from fake within 1s")
            raise CameraDisconnected("connection lost during exposure")
        self.exposing.set()
        if self.exposure_delay and cancel is not None and cancel.wait(self.exposure_delay):
            self.log.append("cancelled")
            raise ExposureCancelled("cancelled")
        self.exposures.append(seconds)
        self.log.append(f"expose {seconds:g}")
        return Frame(fits_bytes=fits_bytes(self.adu_per_second * seconds), received_at=datetime.now(timezone.utc),
                     exposure=seconds, gain=self.gain, binning=self.binning or 1, temperature=-5.0)
