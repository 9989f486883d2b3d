"""Keep a camera working across server deaths: reconnect with capped backoff and retry.

A dead indiserver shows up as EOF on the client's socket, a hung one only as a missing BLOB,
so every exposure is bounded (exposure + margin) and the camera reports lost connections.
On any camera failure the watchdog aborts the exposure if it still can, tears the client
down, builds a new one from the factory, reconnects (which re-enables BLOBs), re-applies
gain and binning and retries the exposure.  It only gives up when told to stop.

A refused exposure (the driver's Alert) is not a broken link: ``expose`` hands it to the caller,
which must change the request rather than send it again unchanged.
"""
from __future__ import annotations

import logging
import threading
import time
from typing import Any, Callable, Optional

from .indi_client import CameraError, CameraTimeout, ExposureCancelled, ExposureRefused, Frame

log = logging.getLogger(__name__)

# what a retry can fix: camera/server errors and socket errors (TimeoutError is an OSError)
RETRYABLE = (CameraError, OSError)


class CaptureStopped(Exception):
    """The stop event was set while waiting; the caller should end its loop."""


class CameraWatchdog:
    """Owns at most one connected camera made by ``factory()``; ``expose`` retries until it gets a frame."""

    def __init__(self, factory: Callable[[], Any], *, stop_event: Optional[threading.Event] = None,
                 backoff_initial: float = 1.0, backoff_max: float = 30.0, name: str = "camera",
                 on_connect: Optional[Callable[[Any], None]] = None,
                 on_failure: Optional[Callable[[str], None]] = None) -> None:
        if backoff_initial <= 0 or backoff_max < backoff_initial:
            raise ValueError("need 0 < backoff_initial <= backoff_max")
        self.factory = factory
        self.stop_event = stop_event if stop_event is not None else threading.Event()
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self.name = name
        self.on_connect = on_connect  # called with each newly connected camera
        self.on_failure = on_failure  # called with a one-line reason for each failed connect or exposure
        self.camera: Any = None
        self.gain: Optional[float] = None
        self.binning: Optional[int] = None
        self.connects = 0  # successful connections, the first included
        self.failures = 0  # exposures or connects that failed
        self.last_recovery_seconds: Optional[float] = None  # first failure -> next frame
        self._failing_since: Optional[float] = None
        self._consecutive = 0  # exposure failures since the last frame

    # -- settings that survive reconnects ---------------------------------------
    def set_gain(self, gain: float) -> None:
        self.gain = gain
        self._apply(lambda cam: cam.set_gain(gain), f"gain {gain}")

    def set_binning(self, binning: int) -> None:
        self.binning = binning
        self._apply(lambda cam: cam.set_binning(binning), f"binning {binning}")

    def _apply(self, fn: Callable[[Any], None], what: str) -> None:
        if self.camera is None:
            return  # applied by the next connect
        try:
            fn(self.camera)
        except RETRYABLE as exc:
            log.warning("%s: setting %s failed (%s); reconnecting", self.name, what, exc)
            self._failed(f"setting {what} failed: {exc}")
            self._teardown(abort=False)

    # -- connection --------------------------------------------------------------
    def ensure_connected(self) -> Any:
        """Return a connected camera, retrying with capped exponential backoff until stopped."""
        if self.camera is not None:
            return self.camera
        delay = self.backoff_initial
        attempt = 0
        while True:
            if self.stop_event.is_set():
                raise CaptureStopped()
            attempt += 1
            camera = self.factory()
            if self.gain is not None:
                camera.set_gain(self.gain)  # not connected yet: remembered, applied by connect()
            if self.binning is not None:
                camera.set_binning(self.binning)
            log.info("%s: connecting (attempt %d)", self.name, attempt)
            try:
                camera.connect(cancel=self.stop_event)
            except ExposureCancelled:
                _close_quietly(camera)
                raise CaptureStopped() from None
            except RETRYABLE as exc:
                self._failed(f"connect failed: {exc}")
                _close_quietly(camera)
                log.warning("%s: connect attempt %d failed: %s; retrying in %.2fs", self.name, attempt, exc, delay)
                if self.stop_event.wait(delay):
                    raise CaptureStopped() from None
                delay = min(delay * 2, self.backoff_max)
                continue
            self.camera = camera
            self.connects += 1
            if self.connects > 1:
                log.info("%s: reconnected after %d attempt(s)", self.name, attempt)
            if self.on_connect is not None:
                self.on_connect(camera)
            return camera

    def _failed(self, reason: str) -> None:
        self.failures += 1
        if self._failing_since is None:
            self._failing_since = time.monotonic()
        if self.on_failure is not None:
            self.on_failure(reason)

    def _teardown(self, abort: bool) -> None:
        camera, self.camera = self.camera, None
        if camera is None:
            return
        if abort:
            try:
                camera.abort()
            except Exception:  # noqa: BLE001 - the link may be dead already
                log.debug("abort failed", exc_info=True)
        _close_quietly(camera)

    def close(self) -> None:
        self._teardown(abort=False)

    # -- exposures ---------------------------------------------------------------
    def expose(self, seconds: float) -> Frame:
        """One frame; reconnects and retries on camera failures until it works or the stop event is set."""
        while True:
            if self.stop_event.is_set():
                raise CaptureStopped()
            camera = self.ensure_connected()
            try:
                frame = camera.expose(seconds, cancel=self.stop_event)
            except ExposureCancelled:
                self._teardown(abort=False)  # the camera aborted already
                raise CaptureStopped() from None
            except ExposureRefused:
                self.failures += 1
                raise
            except RETRYABLE as exc:
                self._failed(f"{seconds:g}s exposure failed: {type(exc).__name__}: {exc}")
                log.warning("%s: %s exposure failed: %s: %s; reconnecting", self.name, f"{seconds:g}s",
                            type(exc).__name__, exc)
                # a timeout may leave the driver busy: abort it if the link still works
                self._teardown(abort=isinstance(exc, (CameraTimeout, TimeoutError)))
                self._consecutive += 1
                if self._consecutive > 1:  # failing again right after a reconnect: back off too
                    delay = min(self.backoff_initial * 2 ** (self._consecutive - 2), self.backoff_max)
                    log.info("%s: %d failures in a row; waiting %.2fs", self.name, self._consecutive, delay)
                    if self.stop_event.wait(delay):
                        raise CaptureStopped() from None
                continue
            self._consecutive = 0
            if self._failing_since is not None:
                self.last_recovery_seconds = time.monotonic() - self._failing_since
                self._failing_since = None
                log.info("%s: recovered; first frame %.1fs after the failure", self.name, self.last_recovery_seconds)
            return frame


def _close_quietly(camera: Any) -> None:
    try:
        camera.close()
    except Exception:  # noqa: BLE001
        log.warning("closing %r failed", camera, exc_info=True)
