"""The capture loop: one exposure per period, day/night from the sun, auto-exposure between frames.

Every request is fitted into what the driver accepts (``driver_limits``).  An exposure the driver
refuses is never sent again unchanged: it is clamped into the range the refusal names and retried
at once; if that fails too, the state says so (journal and ``capture-state.json``) and the next
period tries another exposure.
"""
from __future__ import annotations

import logging
import math
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable, Optional

from . import status as st
from .driver_limits import DriverLimits
from .exposure import next_exposure
from .indi_client import ExposureRefused, Frame, IndiCamera
from .measure import frame_adu
from .settings import CaptureSettings, ExposureLimits
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
OnStatus = Callable[[st.CaptureStatus], None]
CameraFactory = Callable[[CaptureSettings], Any]
# after a refusal with nothing to clamp, the next period tries an exposure this factor away
REFUSAL_STEP = 4.0


def _log_frame(frame: Frame, context: FrameContext) -> None:
    log.info("frame %d: %d bytes, %s", context.index, frame.size, context)


class CaptureLoop:
    """Runs in the calling thread until ``stop()``; ``stop()`` may be called from any thread or a signal handler."""

    def __init__(self, settings: CaptureSettings, camera_factory: Optional[CameraFactory] = None,
                 on_frame: Optional[OnFrame] = None, *,
                 clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
                 sky: Callable[..., SkyState] = sky_state,
                 measure: Callable[[bytes], float] = frame_adu,
                 on_status: Optional[OnStatus] = None) -> None:
        self.settings = settings
        self.camera_factory = camera_factory or IndiCamera.from_settings
        self.on_frame = on_frame or _log_frame
        self.on_status = on_status
        self.clock = clock
        self.sky = sky
        self.measure = measure
        self._stop = threading.Event()
        self.driver = DriverLimits(settings)
        self.status = st.CaptureStatus(camera=settings.ccd_device)
        self.watchdog = CameraWatchdog(lambda: self.camera_factory(self.settings), stop_event=self._stop,
                                       backoff_initial=settings.reconnect_backoff_initial,
                                       backoff_max=settings.reconnect_backoff_max,
                                       name=f"{settings.ccd_device}@{settings.indi_host}:{settings.indi_port}",
                                       on_connect=self._connected,
                                       on_failure=lambda why: self._report(st.FAILING, why))
        self.watchdog.binning = settings.binning
        self.frames = 0
        self.night: Optional[bool] = None
        self.exposure: Optional[float] = None  # for the next frame
        self.last_context: Optional[FrameContext] = None
        self.refused: Optional[float] = None  # the last exposure the driver refused, until a frame arrives

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
            self._report(st.STOPPED, f"stopped after {delivered} frame(s)")
            log.info("capture loop stopped after %d frame(s)", delivered)
        return delivered

    # ---------------------------------------------------------------- state
    def _report(self, state: str, message: str) -> None:
        """Keep ``status`` current and hand it on; problems reach the journal once per change."""
        if self.status.changed_to(state, message) and state in st.PROBLEM_STATES:
            log.error("capture %s: %s", state, message)
        if self.on_status is not None:
            try:
                self.on_status(self.status)
            except Exception:  # noqa: BLE001 - a status reader must not stop the capture
                log.warning("could not record the capture state", exc_info=True)

    def _connected(self, camera: Any) -> None:
        self.driver.read_from(camera)
        if self.driver.exposure is not None:
            self.status.driver_exposure_range = f"{self.driver.exposure} s"
        if self.night is not None:  # fit the gain now that the driver's range is known
            self.watchdog.set_gain(self.driver.gain_for(self.night))

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
                self._report(st.PAUSED, f"daytime capture is off; waiting for the sun below {s.night_sun_alt:g} deg")
            self.night = False
            return False
        if night != self.night:
            self.night = night
            self.watchdog.set_gain(self.driver.gain_for(night))
            configured = s.limits(night)
            log.info("%s (sun at %.1f deg): gain %g, configured exposure %s s", "night" if night else "day",
                     sky.sun_alt, self.watchdog.gain, configured)
            if self.exposure is None:  # fitted into the driver's range below
                self.exposure = s.exposure_initial if s.exposure_initial is not None else configured.minimum
        self.watchdog.ensure_connected()  # the driver's ranges are known before the request is made
        limits = self.driver.exposure_limits(night)
        self.status.night, self.status.exposure_limits = night, f"{limits} s"
        exposure = limits.clamp(self.exposure if self.exposure is not None else limits.minimum)

        frame = self._expose(exposure, night)
        if frame is None:
            return False
        limits = self.driver.exposure_limits(night)
        exposure = frame.exposure

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
        self.status.frames, self.status.exposure = self.frames, exposure
        self._report(st.CAPTURING, f"{'night' if night else 'day'} frames every {s.period:g} s")
        return True

    # ---------------------------------------------------------------- refusals
    def _expose(self, exposure: float, night: bool) -> Optional[Frame]:
        """A frame, or None after the driver refused the exposure and its clamped retry."""
        requested = exposure
        for attempt in (1, 2):
            if self.refused is not None and math.isclose(requested, self.refused, rel_tol=1e-9):
                requested = self._another_exposure(requested, self.driver.exposure_limits(night))
            try:
                frame = self.watchdog.expose(requested)
            except ExposureRefused as refusal:
                self.refused = refusal.seconds
                self.status.exposure = refusal.seconds
                if refusal.bounds is not None:
                    self.driver.learn_exposure(refusal.bounds)
                    self.status.driver_exposure_range = f"{refusal.bounds} s"
                retry = self.driver.exposure_limits(night).clamp(refusal.seconds)
                if attempt == 1 and not math.isclose(retry, refusal.seconds, rel_tol=1e-9):
                    log.warning("%s; retrying with %gs", refusal, retry)
                    requested = retry
                    continue
                self.exposure = self._another_exposure(refusal.seconds, self.driver.exposure_limits(night))
                self._report(st.REFUSED, f"{refusal}; next try {self.exposure:g}s in {self.settings.period:g} s")
                return None
            self.refused = None
            return frame
        return None  # pragma: no cover - the loop returns or continues in its body

    @staticmethod
    def _another_exposure(refused: float, limits: ExposureLimits) -> float:
        """An exposure that differs from ``refused`` within ``limits``: longer if there is room, else shorter
        (only a range of one value leaves nothing else to try)."""
        for candidate in (refused * REFUSAL_STEP, refused / REFUSAL_STEP, limits.maximum, limits.minimum):
            candidate = limits.clamp(candidate)
            if not math.isclose(candidate, refused, rel_tol=1e-9):
                return candidate
        return limits.clamp(refused)
