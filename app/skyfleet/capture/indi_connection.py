"""One connection to an indiserver: the socket, the reader thread, waits, the BLOB queue (``IndiClient``).

INDI is a stream of top-level XML elements over one TCP connection (default port 7624).
``IndiClient`` runs one daemon reader thread per connection that

- parses the stream (``indi_wire.StreamParser``) and dispatches each element as soon as it is
  complete: ``def``/``set*Vector`` and ``delProperty`` go to the property cache
  (``indi_properties``), ``message`` is logged and goes to the listeners, ``pingRequest`` is
  answered;
- decodes BLOBs (``indi_wire.decode_blobs``) and appends them to a bounded queue;
- ends on EOF or a socket/XML error: ``connected`` goes False at once, and every waiter wakes up
  with ``CameraDisconnected``.  There is no reconnect in place: build a new client.

Writers (``get_properties``, ``send_switch``/``send_number``/``send_text``, ``enable_blob``) send
the commands ``indi_wire`` builds.  Every wait is bounded (``wait_for``, ``wait_defined``,
``wait_state``, ``wait_blob``) and its timeout message names what was awaited.
"""
from __future__ import annotations

import logging
import socket
import threading
import time
import xml.etree.ElementTree as ET
from collections import deque
from typing import Any, Callable, Deque, Dict, List, Mapping, Optional, Sequence, Tuple, Union

from . import indi_wire as wire
from .indi_errors import CameraDisconnected, CameraError, CameraTimeout, ExposureCancelled
from .indi_properties import Event, Listener, PropertyCache, Vector
from .indi_wire import Blob

log = logging.getLogger(__name__)

What = Union[str, Callable[[], str]]


def _what(what: What) -> str:
    return what() if callable(what) else what


class IndiClient:
    """One connection to an indiserver.  Thread-safe; all waits are bounded.

    >>> c = IndiClient("127.0.0.1", 7624).connect()
    >>> c.wait_defined("CCD Simulator", "CONNECTION", 5)
    >>> c.send_switch("CCD Simulator", "CONNECTION", {"CONNECT": True, "DISCONNECT": False})
    >>> c.close()
    """

    def __init__(self, host: str = "127.0.0.1", port: int = wire.DEFAULT_PORT, *, timeout: float = 5.0,
                 max_blobs: int = 4, recv_size: int = 256 * 1024, name: Optional[str] = None) -> None:
        self.host = host
        self.port = int(port)
        self.timeout = timeout  # connecting, and each send
        self.max_blobs = max_blobs
        self.recv_size = recv_size
        self.name = name or f"indi-{host}:{self.port}"
        self._cond = threading.Condition(threading.RLock())
        self._send_lock = threading.Lock()
        self._cache = PropertyCache()
        self._blobs: Deque[Blob] = deque()
        self._sock: Optional[socket.socket] = None
        self._thread: Optional[threading.Thread] = None
        self._connected = False
        self._closing = False
        self._reason: Optional[str] = None
        self._seq = 0
        self.dropped_blobs = 0

    def __repr__(self) -> str:
        return f"IndiClient({self.where}, {'connected' if self._connected else 'not connected'})"

    @property
    def where(self) -> str:
        return f"indiserver {self.host}:{self.port}"

    def __enter__(self) -> IndiClient:
        return self.connect()

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # ------------------------------------------------------------------ connection
    def connect(self, get_properties: bool = True) -> IndiClient:
        """Open the TCP connection, start the reader and (by default) send ``getProperties``."""
        if self._sock is not None:
            raise CameraError(f"{self!r}: connect() called twice; make a new client")
        try:
            sock = socket.create_connection((self.host, self.port), timeout=self.timeout)
        except OSError as exc:
            raise CameraDisconnected(f"cannot connect to {self.where}: {exc}") from exc
        _tune_socket(sock)
        sock.settimeout(self.timeout)  # bounds sendall; the reader just retries recv timeouts
        with self._cond:
            self._sock = sock
            self._connected = True
            self._reason = None
        self._thread = threading.Thread(target=self._read_loop, args=(sock,), name=self.name, daemon=True)
        self._thread.start()
        if get_properties:
            self.get_properties()
        return self

    @property
    def connected(self) -> bool:
        return self._connected

    @property
    def disconnect_reason(self) -> Optional[str]:
        return self._reason

    @property
    def seq(self) -> int:
        """Sequence number of the last handled element; pass it as ``since`` to ``wait_state``."""
        with self._cond:
            return self._seq

    def close(self, timeout: float = 2.0) -> None:
        """Close the connection and stop the reader (idempotent, bounded)."""
        self._closing = True
        sock, thread = self._sock, self._thread
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)  # wakes the reader's recv()
            except OSError:
                pass
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
            if thread.is_alive():
                log.warning("INDI reader thread %s did not stop within %.1fs", thread.name, timeout)
        if sock is not None:
            sock.close()
        self._mark_disconnected("closed by the client")

    def _mark_disconnected(self, reason: str) -> None:
        with self._cond:
            if not self._connected and self._reason is not None:
                return
            was_connected = self._connected
            self._connected = False
            self._reason = reason
            if was_connected:
                self._cache.emit(Event("disconnected", message=reason))
            self._cond.notify_all()
        if was_connected and not self._closing:
            log.info("%s: connection lost: %s", self.where, reason)

    def _abandon(self, reason: str) -> None:
        """The stream is unusable (e.g. a half-sent command): drop the connection."""
        sock = self._sock
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._mark_disconnected(reason)

    # ------------------------------------------------------------------ reader thread
    def _read_loop(self, sock: socket.socket) -> None:
        stream = wire.StreamParser()
        reason = "EOF: the server closed the connection"
        try:
            while not self._closing:
                try:
                    data = sock.recv(self.recv_size)
                except socket.timeout:
                    continue
                if not data:
                    break
                for elem in stream.feed(data):
                    try:
                        self._handle(elem)
                    except Exception:  # noqa: BLE001 - one odd element must not end the connection
                        log.exception("%s: error handling <%s %s>", self.where, elem.tag, dict(elem.attrib))
        except ET.ParseError as exc:
            reason = f"invalid XML from the server: {exc}"
        except OSError as exc:
            reason = f"socket error: {exc}"
        except Exception as exc:  # noqa: BLE001
            log.exception("%s: INDI reader failed", self.where)
            reason = f"reader failed: {exc!r}"
        finally:
            self._mark_disconnected("closed by the client" if self._closing else reason)

    def _handle(self, elem: ET.Element) -> None:
        tag = elem.tag
        if tag.endswith("Vector") and tag[:3] in ("def", "set") and tag[3:-6] in wire.KINDS:
            kind = tag[3:-6]
            # decode BLOBs before taking the lock: base64 of a big frame takes a while
            blobs = wire.decode_blobs(elem) if tag == "setBLOBVector" else []
            with self._cond:
                self._seq += 1
                if tag.startswith("def"):
                    self._cache.define(kind, elem, self._seq)
                else:
                    self._cache.update(kind, elem, self._seq)
                    self._queue_blobs(blobs)
                self._cond.notify_all()
        elif tag == "delProperty":
            with self._cond:
                self._seq += 1
                self._cache.delete(elem)
                self._cond.notify_all()
        elif tag == "message":
            text = elem.get("message", "")
            device = elem.get("device", "")
            log.debug("INDI message from %s: %s", device or self.where, text)
            with self._cond:
                self._cache.emit(Event("message", device=device, message=text))
        elif tag == "pingRequest":  # INDI 2.x keep-alive
            self._send_xml(wire.ping_reply(elem.get("uid")))
        elif tag.startswith(("new", "get", "enable")):
            pass  # snooped traffic of other clients/drivers
        else:
            log.debug("%s: ignoring <%s>", self.where, tag)

    def _queue_blobs(self, blobs: Sequence[Blob]) -> None:
        for blob in blobs:
            self._blobs.append(blob)
            while len(self._blobs) > self.max_blobs:
                lost = self._blobs.popleft()
                self.dropped_blobs += 1
                log.warning("BLOB queue full (%d): dropped %s.%s (%d bytes) nobody took", self.max_blobs,
                            lost.device, lost.vector, len(lost.data))

    # ------------------------------------------------------------------ cache
    def add_listener(self, listener: Listener) -> None:
        """``listener(event)`` runs in the reader thread with the lock held; it must be quick."""
        with self._cond:
            self._cache.add_listener(listener)

    def devices(self) -> List[str]:
        with self._cond:
            return self._cache.devices()

    def vectors(self, device: str) -> Dict[str, Vector]:
        with self._cond:
            return self._cache.vectors(device)

    def vector(self, device: str, name: str) -> Optional[Vector]:
        with self._cond:
            return self._cache.vector(device, name)

    def value(self, device: str, name: str, element: str) -> Optional[str]:
        vector = self.vector(device, name)
        return None if vector is None else vector.get(element)

    def number(self, device: str, name: str, element: str) -> Optional[float]:
        vector = self.vector(device, name)
        return None if vector is None else vector.number(element)

    # ------------------------------------------------------------------ waits
    def wait_for(self, predicate: Callable[[], Any], what: What, timeout: float,
                 cancel: Optional[threading.Event] = None) -> Any:
        """Return ``predicate()``'s first truthy value; it runs with the lock held after every update.

        Raises CameraTimeout after ``timeout`` s, CameraDisconnected as soon as the connection is
        gone, ExposureCancelled when ``cancel`` is set (checked every 0.1 s)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                value = predicate()
                if value:
                    return value
                if not self._connected:
                    raise CameraDisconnected(f"connection to {self.where} lost "
                                             f"({self._reason or 'not connected'}) while waiting for {_what(what)}")
                if cancel is not None and cancel.is_set():
                    raise ExposureCancelled(f"cancelled while waiting for {_what(what)}")
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise CameraTimeout(f"timed out after {timeout:.1f}s waiting for {_what(what)}")
                self._cond.wait(min(remaining, 0.1) if cancel is not None else remaining)

    def wait_defined(self, device: str, name: str, timeout: float,
                     cancel: Optional[threading.Event] = None) -> Vector:
        return self.wait_for(lambda: self.vector(device, name),
                             lambda: f"{device}.{name} to be defined by {self.where} "
                                     f"(it has {len(self.vectors(device))} properties of {device!r})",
                             timeout, cancel)

    def wait_state(self, device: str, name: str, timeout: float, *, states: Sequence[str] = ("Ok", "Idle"),
                   check: Optional[Callable[[Vector], bool]] = None, since: Optional[int] = None,
                   cancel: Optional[threading.Event] = None, what: str = "") -> Vector:
        """Wait until the vector's state is in ``states`` and ``check(vector)`` holds.

        An Alert raises CameraError at once, unless it predates ``since`` (a ``seq`` read before
        sending the command).  ``since`` also makes older updates not count."""
        last: List[Optional[Vector]] = [None]

        def ready() -> Optional[Vector]:
            vector = self.vector(device, name)
            last[0] = vector
            if vector is None or (since is not None and vector.seq <= since):
                return None
            if vector.state == "Alert" and "Alert" not in states:
                raise CameraError(f"{device}.{name} went to Alert"
                                  f"{' while waiting for ' + what if what else ''}: {vector.message or 'no message'}")
            if vector.state in states and (check is None or check(vector)):
                return vector
            return None

        def describe() -> str:
            vector = last[0]
            now = "undefined" if vector is None else f"{vector.state} {vector.values}"
            return f"{what or f'{device}.{name}'} (state {'/'.join(states)}; now {now})"

        return self.wait_for(ready, describe, timeout, cancel)

    def sync(self, device: str, name: str, timeout: float, cancel: Optional[threading.Event] = None) -> Vector:
        """A round trip through the driver: ask for ``device.name`` again and wait for its new definition.

        The driver answers in order, so once it is here everything the driver sent before (e.g. the
        rest of the burst of definitions after a CONNECT, or for an already connected device) is
        in the cache as well."""
        since = self.seq
        self.get_properties(device, name)

        def redefined() -> Optional[Vector]:
            vector = self.vector(device, name)
            return vector if vector is not None and vector.seq > since else None

        return self.wait_for(redefined, f"{device}.{name} to be defined again (getProperties round trip)",
                             timeout, cancel)

    def take_blob(self, device: Optional[str] = None, name: Optional[str] = None) -> Optional[Blob]:
        """Remove and return the oldest queued BLOB of ``device``/``name`` (any if None), or None."""
        with self._cond:
            for blob in self._blobs:
                if (device is None or blob.device == device) and (name is None or blob.vector == name):
                    self._blobs.remove(blob)
                    return blob
            return None

    def drain_blobs(self, device: Optional[str] = None, name: Optional[str] = None) -> int:
        n = 0
        with self._cond:
            while self.take_blob(device, name) is not None:
                n += 1
        return n

    def wait_blob(self, timeout: float, device: Optional[str] = None, name: Optional[str] = None,
                  cancel: Optional[threading.Event] = None) -> Blob:
        where = ".".join(x for x in (device, name) if x) or self.where
        return self.wait_for(lambda: self.take_blob(device, name), f"a BLOB from {where}", timeout, cancel)

    # ------------------------------------------------------------------ writers
    def _send_xml(self, elem: ET.Element) -> None:
        data = wire.serialise(elem)
        sock = self._sock
        if sock is None or not self._connected:
            raise CameraDisconnected(f"not connected to {self.where} ({self._reason or 'never connected'}); "
                                     f"cannot send <{elem.tag}>")
        with self._send_lock:
            try:
                sock.sendall(data)
            except socket.timeout:
                self._abandon(f"sending <{elem.tag}> timed out")
                raise CameraTimeout(f"sending <{elem.tag}> to {self.where} timed out after {self.timeout:.1f}s") \
                    from None
            except OSError as exc:
                self._abandon(f"socket error while sending: {exc}")
                raise CameraDisconnected(f"connection to {self.where} lost while sending <{elem.tag}>: {exc}") \
                    from exc

    def get_properties(self, device: Optional[str] = None, name: Optional[str] = None) -> None:
        self._send_xml(wire.get_properties(device, name))

    def enable_blob(self, mode: str, device: str, name: Optional[str] = None) -> None:
        """``enableBLOB``: Never (default on the server), Also (BLOBs and the rest), Only (only BLOBs)."""
        self._send_xml(wire.enable_blob(mode, device, name))

    def _send_new(self, kind: str, device: str, name: str, values: Mapping[str, Any]) -> int:
        elem = wire.new_vector(kind, device, name, values)
        seq = self.seq
        self._send_xml(elem)
        return seq

    def send_switch(self, device: str, name: str, values: Mapping[str, Union[bool, str]]) -> int:
        """``newSwitchVector`` with one or many elements (True/'On', False/'Off'); returns ``seq`` before it."""
        return self._send_new("Switch", device, name, values)

    def send_number(self, device: str, name: str, values: Mapping[str, Union[float, int, str]]) -> int:
        """``newNumberVector`` with one or many elements; returns ``seq`` from before sending."""
        return self._send_new("Number", device, name, values)

    def send_text(self, device: str, name: str, values: Mapping[str, str]) -> int:
        """``newTextVector`` with one or many elements (escaped); returns ``seq`` from before sending."""
        return self._send_new("Text", device, name, values)


def _tune_socket(sock: socket.socket) -> None:
    """No Nagle delay for small commands; TCP keepalive to notice a peer that vanished silently."""
    options: Tuple[Tuple[int, str, int], ...] = (
        (socket.IPPROTO_TCP, "TCP_NODELAY", 1), (socket.SOL_SOCKET, "SO_KEEPALIVE", 1),
        (socket.IPPROTO_TCP, "TCP_KEEPIDLE", 10), (socket.IPPROTO_TCP, "TCP_KEEPINTVL", 5),
        (socket.IPPROTO_TCP, "TCP_KEEPCNT", 3))
    for level, option, value in options:
        if hasattr(socket, option):
            try:
                sock.setsockopt(level, getattr(socket, option), value)
            except OSError:  # pragma: no cover - platform without it
                pass
