"""A synchronous INDI CCD camera on our own INDI client (``indi_connection``; stdlib only, Python >= 3.9).

The client's reader thread keeps the property cache and queues BLOBs; the methods here run
in the caller's thread and every wait is bounded: a ``CameraTimeout`` (a ``TimeoutError``)
says what was awaited.  A dead server is noticed at once (EOF ends the reader), and a waiting
``expose``/``connect`` raises ``CameraDisconnected``.

One instance is one connection.  It is not reconnected in place: after any error the
owner closes it and builds a new one (see ``watchdog.py``).

Facts this relies on (shared/docs/indi-recipe.md, measured against INDI 1.9.9):
- CCD_EXPOSURE and the CCD1 BLOB vector exist only after CONNECTION.CONNECT.
- BLOBs are off by default: send ``enableBLOB Also`` for CCD1 after connect, on every connection.
- Keep CCD_COMPRESSION off on loopback; ask for FITS to be sent to the client (UPLOAD_CLIENT).
"""
from __future__ import annotations

import logging
import math
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable, Deque, Dict, Optional

from .indi_connection import IndiClient
from .indi_errors import CameraDisconnected, CameraError, CameraTimeout, ExposureCancelled
from .indi_properties import Event, Vector
from .indi_wire import DEFAULT_PORT, Blob
from .ranges import NumberRange, bounds_in_message, driver_range

log = logging.getLogger(__name__)

BLOB_VECTOR = "CCD1"

__all__ = ["BLOB_VECTOR", "DEFAULT_PORT", "CameraDisconnected", "CameraError", "CameraTimeout", "CcdInfo",
           "ExposureCancelled", "ExposureRefused", "Frame", "IndiCamera"]


class ExposureRefused(CameraError):
    """The driver answered an exposure with an Alert: the link works, the request did not.

    ``bounds`` is the range the driver's message names, if it names one."""

    def __init__(self, message: str, *, seconds: float, reason: str) -> None:
        super().__init__(message)
        self.seconds = seconds
        self.reason = reason
        self.bounds: Optional[NumberRange] = bounds_in_message(reason)


@dataclass(frozen=True)
class Frame:
    fits_bytes: bytes = field(repr=False)
    received_at: datetime  # UTC, when the BLOB was in Python
    exposure: float  # seconds requested
    gain: Optional[float]
    binning: int
    temperature: Optional[float]  # CCD_TEMPERATURE in deg C, if the driver has one
    fmt: str = ".fits"
    device: str = ""
    exp_to_blob: float = 0.0  # seconds from sending CCD_EXPOSURE to having the BLOB

    @property
    def size(self) -> int:
        return len(self.fits_bytes)


@dataclass(frozen=True)
class CcdInfo:
    max_x: int
    max_y: int
    pixel_size: float
    bits_per_pixel: int


class IndiCamera:
    """One INDI CCD through one indiserver connection.

    >>> cam = IndiCamera("127.0.0.1", 7624, "CCD Simulator", gain=90, binning=1)
    >>> cam.connect()
    >>> frame = cam.expose(1.0)
    >>> cam.close()
    """

    def __init__(self, host: str = "127.0.0.1", port: int = DEFAULT_PORT, device: str = "CCD Simulator", *,
                 gain: Optional[float] = None, binning: Optional[int] = None, telescope: str = "",
                 connect_timeout: float = 15.0, blob_margin: float = 30.0, command_timeout: float = 10.0) -> None:
        self.host = host
        self.port = int(port)
        self.device = device
        self.gain = gain
        self.binning = binning
        self.telescope = telescope
        self.connect_timeout = connect_timeout
        self.blob_margin = blob_margin
        self.command_timeout = command_timeout
        self.info: Optional[CcdInfo] = None
        self.setup_seconds: Optional[float] = None
        self._client: Optional[IndiClient] = None
        self._alerts: Deque[str] = deque()  # CCD_EXPOSURE Alert messages, filled by the reader thread
        self._last_message = ""  # the driver's latest <message>; INDI 1.8 sends the reason for an Alert there
        self._cancel: Optional[threading.Event] = None

    @classmethod
    def from_settings(cls, settings: Any, night: bool = True) -> IndiCamera:
        return cls(settings.indi_host, settings.indi_port, settings.ccd_device,
                   gain=settings.gain(night), binning=settings.binning, telescope=settings.telescope_device,
                   connect_timeout=settings.connect_timeout, blob_margin=settings.blob_margin)

    def __repr__(self) -> str:
        return f"IndiCamera({self.device!r} at {self.host}:{self.port})"

    def __enter__(self) -> IndiCamera:
        self.connect()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # ------------------------------------------------------------------ connection
    def connect(self, cancel: Optional[threading.Event] = None) -> None:
        """Connect to the server and the CCD and set it up; raise on any failure (nothing left open).

        ``cancel`` set while waiting raises ExposureCancelled (shutdown during a slow connect)."""
        if self._client is not None:
            raise CameraError(f"{self!r} is already connected; close it first")
        self._cancel = cancel
        self._alerts.clear()
        started = time.monotonic()
        client = IndiClient(self.host, self.port, timeout=min(self.connect_timeout, 5.0),
                            name=f"indi-{self.host}:{self.port}")
        client.add_listener(self._on_event)
        self._client = client
        try:
            client.connect()  # CameraDisconnected at once if refused
            if self.telescope:
                self._connect_device(self.telescope)
            self._connect_device(self.device)
            self._wait(lambda: client.vector(self.device, "CCD_EXPOSURE") and client.vector(self.device, BLOB_VECTOR),
                       f"{self.device} to define CCD_EXPOSURE and {BLOB_VECTOR}", self.connect_timeout)
            self._sync_properties()
            self.enable_blobs()
            self._set_switch("UPLOAD_MODE", "UPLOAD_CLIENT")
            self._set_switch("CCD_TRANSFER_FORMAT", "FORMAT_FITS", optional=True)
            # INDI >= 1.9 calls the "off" switch INDI_DISABLED; 1.8 (Debian 11) calls it CCD_RAW.
            self._set_switch("CCD_COMPRESSION", ("INDI_DISABLED", "CCD_RAW"), optional=True)
            if self.telescope:
                self._set_text("ACTIVE_DEVICES", "ACTIVE_TELESCOPE", self.telescope, optional=True)
            if self.gain is not None:
                self.set_gain(self.gain)
            if self.binning is not None:
                self.set_binning(self.binning)
            self.info = self.read_info()
        except BaseException:
            self.close()
            raise
        self.setup_seconds = time.monotonic() - started
        log.info("connected to %s at %s:%d in %.2fs (%s, gain %s, binning %s, temperature %s C)", self.device,
                 self.host, self.port, self.setup_seconds, self.info, self.gain, self.binning,
                 self._safe(self.read_temperature))

    def _connect_device(self, device: str) -> None:
        client = self._require()
        self._wait(lambda: client.vector(device, "CONNECTION"),
                   lambda: f"device {device!r} on {client.where} (devices seen: {client.devices()})",
                   self.connect_timeout)
        if client.value(device, "CONNECTION", "CONNECT") != "On":
            since = client.send_switch(device, "CONNECTION", {"CONNECT": True, "DISCONNECT": False})
            client.wait_state(device, "CONNECTION", self.connect_timeout, since=since,
                              check=lambda v: v.get("CONNECT") == "On", cancel=self._cancel,
                              what=f"{device} CONNECTION.CONNECT=On")

    def _sync_properties(self) -> None:
        """Let the rest of the driver's definitions arrive: CCD_EXPOSURE and CCD1 come before
        UPLOAD_MODE, CCD_GAIN, ... in the driver's burst (measured on INDI 1.9.9)."""
        try:
            self._require().sync(self.device, BLOB_VECTOR, self.command_timeout, cancel=self._cancel)
        except CameraTimeout as exc:  # a driver that ignores named getProperties: go on with what we have
            log.warning("%s; continuing", exc)

    def close(self) -> None:
        """Disconnect (idempotent, bounded)."""
        client, self._client = self._client, None
        if client is not None:
            client.close()

    @property
    def connected(self) -> bool:
        return self._client is not None

    def alive(self) -> bool:
        """False once the connection is gone (the reader saw EOF or a socket error)."""
        client = self._client
        return client is not None and client.connected

    def _on_event(self, event: Event) -> None:
        """Runs in the client's reader thread, with its lock held."""
        if event.device != self.device:
            return
        if event.kind == "set" and event.name == "CCD_EXPOSURE" and event.vector is not None \
                and event.vector.state == "Alert":
            self._alerts.append(event.message or self._last_message or "no message from the driver")
        elif event.kind == "message":
            self._last_message = event.message
            loud = event.message.startswith(("[ERROR]", "[WARNING]"))
            log.log(logging.WARNING if loud else logging.DEBUG, "%s: %s", self.device, event.message)

    # ------------------------------------------------------------------ helpers
    def _require(self) -> IndiClient:
        if self._client is None:
            raise CameraDisconnected(f"{self!r} is not connected")
        return self._client

    def _vector(self, name: str) -> Optional[Vector]:
        return self._require().vector(self.device, name)

    def _value(self, vector: str, element: str) -> Optional[str]:
        return self._require().value(self.device, vector, element)

    def _wait(self, predicate: Callable[[], Any], what: Any, timeout: float) -> Any:
        return self._require().wait_for(predicate, what, timeout, cancel=self._cancel)

    def _set_switch(self, vector: str, element, optional: bool = False) -> None:
        """Switch `element` on (the first of a tuple of alternative names that the driver has)."""
        client = self._require()
        vec = client.vector(self.device, vector)
        if vec is None:
            if optional:
                log.debug("%s has no %s; skipped", self.device, vector)
                return
            raise CameraError(f"{self.device} has no {vector} property")
        names = (element,) if isinstance(element, str) else tuple(element)
        element = next((name for name in names if name in vec), None)
        if element is None:
            raise CameraError(f"{self.device}.{vector} has none of {', '.join(names)} (has {sorted(vec.elements)})")
        if vec[element] == "On":
            return
        values = {element: True} if vec.rule == "AnyOfMany" else {m: m == element for m in vec.elements}
        since = client.send_switch(self.device, vector, values)
        client.wait_state(self.device, vector, self.command_timeout, since=since,
                          check=lambda v: v.get(element) == "On", cancel=self._cancel,
                          what=f"{self.device} {vector}.{element}=On")

    def _set_text(self, vector: str, element: str, value: str, optional: bool = False) -> None:
        client = self._require()
        vec = client.vector(self.device, vector)
        if vec is None or element not in vec:
            if optional:
                log.debug("%s has no %s.%s; skipped", self.device, vector, element)
                return
            raise CameraError(f"{self.device} has no {vector}.{element} property")
        if vec[element] == value:
            return
        since = client.send_text(self.device, vector, {**vec.values, element: value})
        client.wait_state(self.device, vector, self.command_timeout, since=since,
                          check=lambda v: v.get(element) == value, cancel=self._cancel,
                          what=f"{self.device} {vector}.{element}={value}")

    def _set_numbers(self, vector: str, values: Dict[str, float]) -> Dict[str, float]:
        client = self._require()
        vec = client.vector(self.device, vector)
        if vec is None:
            raise CameraError(f"{self.device} has no {vector} property")
        wanted: Dict[str, float] = {}
        for name, value in values.items():
            el = vec.elements.get(name)
            if el is None:
                raise CameraError(f"{self.device}.{vector} has no element {name}")
            allowed = driver_range(el.min, el.max)
            if allowed is not None and not allowed.contains(value):
                clamped = allowed.clamp(float(value))
                # the capture loop says so once, naming the setting; this runs on every connect
                log.debug("%s.%s.%s=%g is outside the driver's range %s; using %g",
                          self.device, vector, name, value, allowed, clamped)
                value = clamped
            wanted[name] = float(value)

        def matches(v: Vector) -> bool:
            return all(math.isclose(v.number(n) or 0.0, x, rel_tol=1e-6, abs_tol=1e-6) for n, x in wanted.items())

        if not matches(vec):
            since = client.send_number(self.device, vector, wanted)
            client.wait_state(self.device, vector, self.command_timeout, since=since, check=matches,
                              cancel=self._cancel,
                              what=f"{self.device} {vector} " + ", ".join(f"{n}={v:g}" for n, v in wanted.items()))
        return wanted

    # ------------------------------------------------------------------ camera settings
    def enable_blobs(self) -> None:
        """``enableBLOB Also`` for CCD1; needed after every (re)connect (recipe pitfall 5)."""
        self._require().enable_blob("Also", self.device, BLOB_VECTOR)

    def set_gain(self, gain: float) -> None:
        self.gain = float(gain)
        if self._client is None:
            return  # applied on connect
        if self._vector("CCD_GAIN") is None:
            log.warning("%s has no CCD_GAIN; gain %s not applied", self.device, gain)
            return
        self._set_numbers("CCD_GAIN", {"GAIN": self.gain})

    def set_binning(self, binning: int) -> None:
        if isinstance(binning, bool) or int(binning) != binning or binning < 1:
            raise ValueError(f"binning must be a positive integer, got {binning!r}")
        self.binning = int(binning)
        if self._client is None:
            return
        if self._vector("CCD_BINNING") is None:
            if self.binning != 1:
                raise CameraError(f"{self.device} has no CCD_BINNING; cannot bin {self.binning}x{self.binning}")
            return
        self._set_numbers("CCD_BINNING", {"HOR_BIN": self.binning, "VER_BIN": self.binning})

    def number_range(self, vector: str, element: str) -> Optional[NumberRange]:
        """The range the driver announces for one number (None: not defined, or no range given)."""
        vec = self._vector(vector) if self._client is not None else None
        el = vec.elements.get(element) if vec is not None else None
        return None if el is None else driver_range(el.min, el.max)

    def exposure_range(self) -> Optional[NumberRange]:
        return self.number_range("CCD_EXPOSURE", "CCD_EXPOSURE_VALUE")

    def gain_range(self) -> Optional[NumberRange]:
        return self.number_range("CCD_GAIN", "GAIN")

    def binning_range(self) -> Optional[NumberRange]:
        return self.number_range("CCD_BINNING", "HOR_BIN")

    def read_info(self) -> Optional[CcdInfo]:
        vec = self._vector("CCD_INFO")
        if vec is None:
            return None
        return CcdInfo(max_x=int(vec.number("CCD_MAX_X") or 0), max_y=int(vec.number("CCD_MAX_Y") or 0),
                       pixel_size=vec.number("CCD_PIXEL_SIZE") or 0.0,
                       bits_per_pixel=int(vec.number("CCD_BITSPERPIXEL") or 0))

    def read_temperature(self) -> Optional[float]:
        if self._client is None:
            return None
        return self._current("CCD_TEMPERATURE", "CCD_TEMPERATURE_VALUE")

    def _current(self, vector: str, member: str) -> Optional[float]:
        return self._require().number(self.device, vector, member)

    # ------------------------------------------------------------------ exposures
    def expose(self, seconds: float, *, cancel: Optional[threading.Event] = None,
               timeout: Optional[float] = None) -> Frame:
        """Take one exposure and return the FITS frame.

        ``seconds`` is clamped into the range the driver announces for CCD_EXPOSURE; the frame
        records what was sent.  Raises CameraTimeout (no BLOB within seconds + blob_margin, or
        ``timeout``; the exposure is aborted), CameraDisconnected (connection gone),
        ExposureRefused (driver Alert), ExposureCancelled (``cancel`` set; the exposure is aborted).
        """
        if not seconds > 0:
            raise ValueError(f"exposure must be > 0 s, got {seconds!r}")
        client = self._require()
        allowed = self.exposure_range()
        if allowed is not None and not allowed.contains(seconds):
            log.debug("%s: %gs is outside CCD_EXPOSURE %s; sending %gs", self.device, seconds, allowed,
                      allowed.clamp(seconds))
            seconds = allowed.clamp(seconds)
        if not client.connected:
            raise CameraDisconnected(f"connection to indiserver {self.host}:{self.port} is gone "
                                     f"({client.disconnect_reason})")
        # drop BLOBs/alerts left over from an earlier exposure
        client.drain_blobs(self.device, BLOB_VECTOR)
        self._alerts.clear()
        self._last_message = ""
        limit = float(seconds) + self.blob_margin if timeout is None else float(timeout)
        sent = time.monotonic()
        try:
            client.send_number(self.device, "CCD_EXPOSURE", {"CCD_EXPOSURE_VALUE": float(seconds)})
        except CameraDisconnected as exc:
            raise CameraDisconnected(f"connection to indiserver {self.host}:{self.port} lost "
                                     f"before a {seconds:g}s exposure: {exc}") from exc

        def ready() -> Any:  # runs with the client's lock held
            blob = client.take_blob(self.device, BLOB_VECTOR)
            if blob is not None:
                return blob
            if self._alerts:
                return ("alert", self._alerts.popleft())
            return None

        try:
            result = client.wait_for(ready, f"a BLOB from {self.device}", limit, cancel=cancel)
        except ExposureCancelled:
            self.abort()
            raise ExposureCancelled(f"exposure of {seconds:g}s cancelled") from None
        except CameraDisconnected:
            raise CameraDisconnected(f"connection to indiserver {self.host}:{self.port} lost during a "
                                     f"{seconds:g}s exposure ({client.disconnect_reason})") from None
        except CameraTimeout:
            state = self._safe(lambda: client.vector(self.device, "CCD_EXPOSURE").state)
            aborted = self.abort()
            why = f"exposure {seconds:g}s + margin" if timeout is None else f"timeout for a {seconds:g}s exposure"
            raise CameraTimeout(f"no BLOB from {self.device} within {limit:.1f}s ({why}); CCD_EXPOSURE state "
                                f"{state}; {'aborted' if aborted else 'could not abort'}") from None
        if not isinstance(result, Blob):
            raise ExposureRefused(f"{self.device} refused a {seconds:g}s exposure (CCD_EXPOSURE Alert): {result[1]}",
                                  seconds=float(seconds), reason=result[1])
        return Frame(fits_bytes=result.data, received_at=result.timestamp, exposure=float(seconds),
                     gain=self._safe(lambda: self._current("CCD_GAIN", "GAIN")),
                     binning=int(self._safe(lambda: self._current("CCD_BINNING", "HOR_BIN")) or self.binning or 1),
                     temperature=self._safe(self.read_temperature), fmt=result.format, device=self.device,
                     exp_to_blob=result.received_at - sent)

    def _safe(self, fn: Callable[[], Any]) -> Any:
        try:
            return fn()
        except Exception:  # noqa: BLE001 - only for status details
            return None

    def abort(self) -> bool:
        """Best effort CCD_ABORT_EXPOSURE; False if it could not be sent."""
        client = self._client
        if client is None or not client.connected:
            return False
        try:
            if client.vector(self.device, "CCD_ABORT_EXPOSURE") is None:
                return False
            client.send_switch(self.device, "CCD_ABORT_EXPOSURE", {"ABORT": True})
            return True
        except Exception:  # noqa: BLE001
            log.debug("abort failed", exc_info=True)
            return False
