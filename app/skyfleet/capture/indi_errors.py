"""The INDI client's errors, at the bottom so the connection can raise them and the camera re-export them."""
from __future__ import annotations


class CameraError(RuntimeError):
    """The camera or the INDI server misbehaved; the owner should reconnect."""


class CameraTimeout(CameraError, TimeoutError):
    """A bounded wait ran out."""


class CameraDisconnected(CameraError, ConnectionError):
    """The server refused the connection, or the connection is gone."""


class ExposureCancelled(CameraError):
    """A wait was cancelled through its ``cancel`` event (shutdown)."""
