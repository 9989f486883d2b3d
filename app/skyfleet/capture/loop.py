"""The capture loop: one exposure per period, day/night from the sun, auto-exposure between frames."""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable, Optional

from .exposure import next_exposure
from .indi_client import Frame, IndiCamera
from .measure import frame_adu
from .settings import CaptureSettings
from .sky import SkyState, is_night, sky_state
from .watchdog import CameraWatchdog, CaptureStopped

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FrameContext:
    index: int  # frames delivered by this loop, from 0
    night: bool
    sun_alt: float
    moon_alt: float
    moon_phase: float  # illuminated percent
    exposure: float  # seconds, of this frame
    gain: Optional[float]
    measured_adu: Optional[float]  # median ADU of this frame (None if it could not be measured)
    target_adu: float
    stable: bool  # measured_adu within the tolerance band of target_adu
    next_exposure: float  # seconds, for the next frame


OnFrame = Callable[[Frame, FrameContext], None]
CameraFactory = Callable[[CaptureSettings], Any]


def _log_frame(frame: Frame, context: FrameContext) -> None:
    log.info("frame %d: %d bytes, %s", context.index, frame.size, context)


class CaptureLoop:
    """Runs in the calling thread until ``stop()``; ``stop()`` may be called from any thread or a signal handler."""

    def __init__(self, settings: CaptureSettings, camera_factory: Optional[CameraFactory] = None,
                 on_frame: Optional[OnFrame] = None, *,
                 clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
                 sky: Callable[..., SkyState] = sky_state,
                 measure: Callable[[bytes], float] = frame_adu) -> None:
        self.settings = settings
        self.camera_factory = camera_factory or IndiCamera.from_settings
        self.on_frame = on_frame or _log_frame
        self.clock = clock
        self.sky = sky
        self.measure = measure
        self._stop = threading.Event()
        self.watchdog = CameraWatchdog(lambda: self.camera_factory(self.settings), stop_event=self._stop,
                                       backoff_initial=settings.reconnect_backoff_initial,
                                       backoff_max=settings.reconnect_backoff_max,
                                       name=f"{settings.ccd_device}@{settings.indi_host}:{settings.indi_port}")
        self.watchdog.binning = settings.binning
        self.frames = 0
        self.night: Optional[bool] = None
        self.exposure: Optional[float] = None  # for the next frame
        self.last_context: Optional[FrameContext] = None

    # ---------------------------------------------------------------- control
    def stop(self) -> None:
        """Ask the loop to end; an exposure in flight is aborted. Safe from signal handlers."""
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def run(self, max_frames: Optional[int] = None) -> int:
        """Capture until stopped (or ``max_frames`` frames); returns the number of frames delivered."""
        log.info("capture loop starting: %s at %s:%d, period %.1fs, daytime capture %s",
                 self.settings.ccd_device, self.settings.indi_host, self.settings.indi_port,
                 self.settings.period, "on" if self.settings.daytime_capture else "off")
        delivered = 0
        try:
            while not self._stop.is_set():
                started = time.monotonic()
                try:
                    if self.step():
                        delivered += 1
                except CaptureStopped:
                    break
                except Exception:  # noqa: BLE001 - keep the appliance capturing
                    log.exception("capture step failed; continuing with the next period")
                if max_frames is not None and delivered >= max_frames:
                    break
                wait = self.settings.period - (time.monotonic() - started)
                if wait > 0:
                    self._stop.wait(wait)
                else:
                    log.debug("frame took %.1fs longer than the period", -wait)
        finally:
            self.watchdog.close()
            log.info("capture loop stopped after %d frame(s)", delivered)
        return delivered

    # ---------------------------------------------------------------- one period
    def step(self) -> bool:
        """One period's work; True if a frame was delivered."""
        s = self.settings
        sky = self.sky(s.latitude, s.longitude, s.elevation, self.clock())
        night = is_night(sky.sun_alt, s.night_sun_alt)
        if not night and not s.daytime_capture:
            if self.night is not False:
                log.info("daytime (sun at %.1f deg): capture paused until the sun is below %.1f deg",
                         sky.sun_alt, s.night_sun_alt)
                self.watchdog.close()  # free the camera during the day
            self.night = False
            return False
        limits = s.limits(night)
        if night != self.night:
            log.info("%s (sun at %.1f deg): gain %g, exposure %g..%gs", "night" if night else "day",
                     sky.sun_alt, s.gain(night), limits.minimum, limits.maximum)
            self.night = night
            self.watchdog.set_gain(s.gain(night))
            if self.exposure is None:
                self.exposure = s.exposure_initial if s.exposure_initial is not None else limits.minimum
        exposure = limits.clamp(self.exposure if self.exposure is not None else limits.minimum)

        frame = self.watchdog.expose(exposure)

        try:
            measured: Optional[float] = float(self.measure(frame.fits_bytes))
        except Exception:  # noqa: BLE001
            log.warning("could not measure frame brightness; keeping the exposure", exc_info=True)
            measured = None
        if measured is None:
            decision_exposure, stable = exposure, False
        else:
            decision = next_exposure(exposure, measured, s.target_adu, limits, damping=s.exposure_damping,
                                     tolerance=s.adu_tolerance, max_step=s.max_exposure_step)
            decision_exposure, stable = decision.exposure, decision.stable
        self.exposure = decision_exposure
        context = FrameContext(index=self.frames, night=night, sun_alt=sky.sun_alt, moon_alt=sky.moon_alt,
                               moon_phase=sky.moon_phase, exposure=exposure,
                               gain=frame.gain if frame.gain is not None else s.gain(night),
                               measured_adu=measured, target_adu=s.target_adu, stable=stable,
                               next_exposure=decision_exposure)
        self.frames += 1
        self.last_context = context
        try:
            self.on_frame(frame, context)
        except Exception:  # noqa: BLE001 - a failing consumer must not stop the capture
            log.exception("on_frame failed for frame %d", context.index)
        return True
