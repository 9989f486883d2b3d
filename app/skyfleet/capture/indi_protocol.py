"""A small INDI client: the INDI XML protocol over TCP, standard library only (Python >= 3.9).

INDI (https://www.indilib.org/develop/developer-manual/104-scripting.html, protocol 1.7) is a
stream of top-level XML elements over one TCP connection (default port 7624), with no single
root element.  ``IndiClient`` runs one daemon reader thread per connection that

- feeds the stream to an ``xml.etree.ElementTree.XMLPullParser`` after a synthetic opening root
  tag, so elements are handled as soon as their end tag arrives (a BLOB may span many reads);
- keeps a property cache per device: ``def*Vector`` defines a vector (Number, Switch, Text,
  Light, BLOB), ``set*Vector`` updates its state (Idle/Ok/Busy/Alert) and element values,
  ``delProperty`` removes one vector or a whole device; ``message`` is logged;
- decodes BLOBs (base64 text in ``oneBLOB``; ``format``, ``size`` and ``enclen``/``len``
  attributes; ``.z`` formats are zlib-inflated) and appends them to a bounded queue;
- ends on EOF or a socket/XML error: ``connected`` goes False at once, and every waiter wakes up
  with ``CameraDisconnected``.  There is no reconnect in place: build a new client.

Writers (``get_properties``, ``send_switch``/``send_number``/``send_text``, ``enable_blob``) build
their XML with ElementTree, so device, property and element names and text values are escaped.
Every wait is bounded (``wait_for``, ``wait_defined``, ``wait_state``, ``wait_blob``) and its
timeout message names what was awaited.

The error classes live here so the reader can raise them; ``indi_client`` re-exports them.
"""
from __future__ import annotations

import base64
import binascii
import logging
import math
import re
import socket
import threading
import time
import xml.etree.ElementTree as ET
import zlib
from collections import deque
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from types import MappingProxyType
from typing import Any, Callable, Deque, Dict, List, Mapping, Optional, Sequence, Tuple, Union

log = logging.getLogger(__name__)

DEFAULT_PORT = 7624
PROTOCOL_VERSION = "1.7"
STATES = ("Idle", "Ok", "Busy", "Alert")
KINDS = ("Number", "Switch", "Text", "Light", "BLOB")
BLOB_MODES = ("Never", "Also", "Only")
_ROOT_TAG = b"<indistream>"  # synthetic root: the INDI stream has none
# characters XML 1.0 cannot carry at all, even escaped
_INVALID_XML_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


class CameraError(RuntimeError):
    """The camera or the INDI server misbehaved; the owner should reconnect."""


class CameraTimeout(CameraError, TimeoutError):
    """A bounded wait ran out."""


class CameraDisconnected(CameraError, ConnectionError):
    """The server refused the connection, or the connection is gone."""


class ExposureCancelled(CameraError):
    """A wait was cancelled through its ``cancel`` event (shutdown)."""


def parse_number(text: Any) -> Optional[float]:
    """An INDI number: plain (``1.5``, ``-3e2``) or sexagesimal (``-12:30:36``, ``12 30``, ``12;30``)."""
    if text is None or isinstance(text, bool):
        return None
    if isinstance(text, (int, float)):
        return float(text)
    s = str(text).strip()
    if not s:
        return None
    try:
        return float(s)
    except ValueError:
        pass
    parts = [p for p in re.split(r"[:; ]+", s) if p]
    if not 1 < len(parts) <= 3:
        return None
    try:
        numbers = [abs(float(p)) for p in parts]
    except ValueError:
        return None
    value = sum(n / 60.0 ** i for i, n in enumerate(numbers))
    return -value if s.startswith("-") else value


def format_number(value: Any) -> str:
    """A finite number as INDI text, without exponent notation for ordinary magnitudes."""
    if isinstance(value, bool):
        raise ValueError(f"not a number: {value!r}")
    if isinstance(value, str):
        if parse_number(value) is None:
            raise ValueError(f"not a number: {value!r}")
        return _check_text(value.strip())
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"INDI numbers must be finite, got {value!r}")
    if number == int(number) and abs(number) < 1e15:
        return str(int(number))
    text = repr(number)
    if "e" in text and 1e-12 <= abs(number) < 1e15:
        text = f"{number:.15f}".rstrip("0").rstrip(".")
    return text


def _switch_text(value: Any) -> str:
    if value is True or value == "On":
        return "On"
    if value is False or value == "Off":
        return "Off"
    raise ValueError(f"a switch is True/'On' or False/'Off', got {value!r}")


def _check_text(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"INDI text must be str, got {type(value).__name__}")
    bad = _INVALID_XML_CHARS.search(value)
    if bad:
        raise ValueError(f"character {bad.group()!r} cannot be sent in INDI XML")
    return value


@dataclass(frozen=True)
class Element:
    """One element of a vector.  ``value`` is the text the server sent, whitespace-stripped:
    the number text, ``On``/``Off``, the text, or the light's state; empty for BLOBs."""

    name: str
    value: str = ""
    label: str = ""
    format: str = ""  # printf format (numbers) or the last BLOB's format
    min: Optional[float] = None
    max: Optional[float] = None
    step: Optional[float] = None
    size: Optional[int] = None  # BLOB: decoded size of the last BLOB

    @property
    def number(self) -> Optional[float]:
        return parse_number(self.value)


@dataclass(frozen=True)
class Vector:
    """An immutable snapshot of one property; the cache replaces it on every update."""

    device: str
    name: str
    kind: str  # Number, Switch, Text, Light, BLOB
    state: str = "Idle"
    elements: Mapping[str, Element] = field(default_factory=lambda: MappingProxyType({}))  # read-only
    label: str = ""
    group: str = ""
    perm: str = ""
    rule: str = ""  # switches: OneOfMany, AtMostOne, AnyOfMany
    timeout: Optional[float] = None
    timestamp: str = ""
    message: str = ""
    seq: int = 0  # the client's event sequence number of the last def/set

    def get(self, element: str, default: Optional[str] = None) -> Optional[str]:
        el = self.elements.get(element)
        return default if el is None else el.value

    def __getitem__(self, element: str) -> str:
        return self.elements[element].value

    def __contains__(self, element: object) -> bool:
        return element in self.elements

    def number(self, element: str) -> Optional[float]:
        el = self.elements.get(element)
        return None if el is None else el.number

    @property
    def values(self) -> Dict[str, str]:
        return {name: el.value for name, el in self.elements.items()}

    def on(self) -> List[str]:
        """Switch elements that are On."""
        return [name for name, el in self.elements.items() if el.value == "On"]


@dataclass(frozen=True)
class Blob:
    device: str
    vector: str
    name: str  # element
    format: str  # e.g. ".fits" (a ".z" suffix is removed after inflating)
    size: int  # the size the server declared (-1 if absent)
    data: bytes = field(repr=False)
    received_at: float = 0.0  # time.monotonic() when decoded
    timestamp: datetime = field(default_factory=lambda: datetime.now(timezone.utc))  # UTC, when decoded
    state: str = "Ok"

    def __len__(self) -> int:
        return len(self.data)


@dataclass(frozen=True)
class Event:
    """What listeners get (in the reader thread, with the client's lock held; keep them short)."""

    kind: str  # "def", "set", "del", "message", "disconnected"
    device: str = ""
    name: str = ""
    vector: Optional[Vector] = None
    message: str = ""


Listener = Callable[[Event], None]
What = Union[str, Callable[[], str]]


def _what(what: What) -> str:
    return what() if callable(what) else what


def _attr_float(elem: ET.Element, name: str) -> Optional[float]:
    return parse_number(elem.get(name))


class IndiClient:
    """One connection to an indiserver.  Thread-safe; all waits are bounded.

    >>> c = IndiClient("127.0.0.1", 7624).connect()
    >>> c.wait_defined("CCD Simulator", "CONNECTION", 5)
    >>> c.send_switch("CCD Simulator", "CONNECTION", {"CONNECT": True, "DISCONNECT": False})
    >>> c.close()
    """

    def __init__(self, host: str = "127.0.0.1", port: int = DEFAULT_PORT, *, timeout: float = 5.0,
                 max_blobs: int = 4, recv_size: int = 256 * 1024, name: Optional[str] = None) -> None:
        self.host = host
        self.port = int(port)
        self.timeout = timeout  # connecting, and each send
        self.max_blobs = max_blobs
        self.recv_size = recv_size
        self.name = name or f"indi-{host}:{self.port}"
        self._cond = threading.Condition(threading.RLock())
        self._send_lock = threading.Lock()
        self._props: Dict[str, Dict[str, Vector]] = {}
        self._blobs: Deque[Blob] = deque()
        self._listeners: List[Listener] = []
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
                self._emit(Event("disconnected", message=reason))
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
        parser = ET.XMLPullParser(events=("start", "end"))
        parser.feed(_ROOT_TAG)
        root: Optional[ET.Element] = None
        depth = 0
        reason = "EOF: the server closed the connection"
        try:
            while not self._closing:
                try:
                    data = sock.recv(self.recv_size)
                except socket.timeout:
                    continue
                if not data:
                    break
                parser.feed(data)
                for event, elem in parser.read_events():
                    if event == "start":
                        depth += 1
                        if root is None:
                            root = elem
                        continue
                    depth -= 1
                    if depth == 1 and root is not None:  # a complete top-level element
                        try:
                            self._handle(elem)
                        except Exception:  # noqa: BLE001 - one odd element must not end the connection
                            log.exception("%s: error handling <%s %s>", self.where, elem.tag, dict(elem.attrib))
                        root.remove(elem)
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
        if tag.endswith("Vector") and tag[:3] in ("def", "set") and tag[3:-6] in KINDS:
            kind = tag[3:-6]
            # decode BLOBs before taking the lock: base64 of a big frame takes a while
            blobs = self._decode_blobs(elem) if tag == "setBLOBVector" else []
            with self._cond:
                self._seq += 1
                if tag.startswith("def"):
                    self._define(kind, elem)
                else:
                    self._update(kind, elem, blobs)
                self._cond.notify_all()
        elif tag == "delProperty":
            with self._cond:
                self._seq += 1
                self._delete(elem)
                self._cond.notify_all()
        elif tag == "message":
            text = elem.get("message", "")
            device = elem.get("device", "")
            log.debug("INDI message from %s: %s", device or self.where, text)
            with self._cond:
                self._emit(Event("message", device=device, message=text))
        elif tag == "pingRequest":  # INDI 2.x keep-alive
            self._send_xml(ET.Element("pingReply", _attrs(uid=elem.get("uid"))))
        elif tag.startswith(("new", "get", "enable")):
            pass  # snooped traffic of other clients/drivers
        else:
            log.debug("%s: ignoring <%s>", self.where, tag)

    def _define(self, kind: str, elem: ET.Element) -> None:
        device, name = elem.get("device", ""), elem.get("name", "")
        if not device or not name:
            log.debug("def%sVector without device/name ignored", kind)
            return
        child_tag = f"def{kind}"
        elements: Dict[str, Element] = {}
        for child in elem:
            if child.tag != child_tag or not child.get("name"):
                continue
            elements[child.get("name", "")] = Element(
                name=child.get("name", ""), value="" if kind == "BLOB" else (child.text or "").strip(),
                label=child.get("label", ""), format=child.get("format", ""),
                min=_attr_float(child, "min"), max=_attr_float(child, "max"), step=_attr_float(child, "step"))
        state = elem.get("state", "Idle")
        vector = Vector(device=device, name=name, kind=kind, state=state if state in STATES else "Idle",
                        elements=MappingProxyType(elements), label=elem.get("label", ""), group=elem.get("group", ""),
                        perm=elem.get("perm", ""), rule=elem.get("rule", ""), timeout=_attr_float(elem, "timeout"),
                        timestamp=elem.get("timestamp", ""), message=elem.get("message", ""), seq=self._seq)
        self._props.setdefault(device, {})[name] = vector
        if vector.message:
            log.debug("%s.%s: %s", device, name, vector.message)
        self._emit(Event("def", device, name, vector, vector.message))

    def _update(self, kind: str, elem: ET.Element, blobs: Sequence[Blob] = ()) -> None:
        device, name = elem.get("device", ""), elem.get("name", "")
        old = self._props.get(device, {}).get(name)
        if old is None:
            log.debug("set%sVector for undefined %s.%s", kind, device, name)
        else:
            elements = dict(old.elements)
            child_tag = f"one{kind}"
            for child in elem:
                el = elements.get(child.get("name", ""))
                if child.tag != child_tag or el is None:
                    continue
                if kind == "BLOB":
                    size = child.get("size")
                    elements[el.name] = replace(el, format=child.get("format", el.format),
                                                size=int(size) if size and size.isdigit() else el.size)
                    continue
                changes: Dict[str, Any] = {"value": (child.text or "").strip()}
                for attr in ("min", "max", "step"):  # some drivers move a number's range in a set
                    if child.get(attr) is not None:
                        changes[attr] = _attr_float(child, attr)
                elements[el.name] = replace(el, **changes)
            state = elem.get("state")
            timeout = _attr_float(elem, "timeout")
            vector = replace(old, elements=MappingProxyType(elements), state=state if state in STATES else old.state,
                             timeout=old.timeout if timeout is None else timeout,
                             timestamp=elem.get("timestamp", old.timestamp), message=elem.get("message", ""),
                             seq=self._seq)
            self._props[device][name] = vector
            if vector.message:
                log.debug("%s.%s: %s", device, name, vector.message)
            self._emit(Event("set", device, name, vector, vector.message))
        for blob in blobs:
            self._blobs.append(blob)
            while len(self._blobs) > self.max_blobs:
                lost = self._blobs.popleft()
                self.dropped_blobs += 1
                log.warning("BLOB queue full (%d): dropped %s.%s (%d bytes) nobody took", self.max_blobs,
                            lost.device, lost.vector, len(lost.data))

    def _decode_blobs(self, elem: ET.Element) -> List[Blob]:
        out = []
        device, vector, state = elem.get("device", ""), elem.get("name", ""), elem.get("state", "Ok")
        for child in elem:
            if child.tag != "oneBLOB":
                continue
            name, fmt = child.get("name", ""), child.get("format", "")
            size_attr = child.get("size", "")
            size = int(size_attr) if size_attr.strip().isdigit() else -1
            text = child.text or ""
            child.text = None  # free the base64 text early
            enclen = child.get("enclen") or child.get("len")
            try:
                data = base64.b64decode(text)  # skips the line breaks / indentation
                if fmt.endswith(".z"):
                    data, fmt = zlib.decompress(data), fmt[:-2]
            except (binascii.Error, ValueError, zlib.error) as exc:
                log.warning("%s.%s.%s: undecodable BLOB (%s, %d base64 chars, enclen %s) dropped: %s",
                            device, vector, name, fmt, len(text), enclen, exc)
                continue
            if not data:
                continue  # drivers send empty BLOBs to clear a property
            if size >= 0 and len(data) != size:
                log.warning("%s.%s.%s: BLOB is %d bytes, the server declared %d", device, vector, name,
                            len(data), size)
            out.append(Blob(device=device, vector=vector, name=name, format=fmt, size=size, data=data,
                            received_at=time.monotonic(), state=state))
        return out

    def _delete(self, elem: ET.Element) -> None:
        device, name = elem.get("device", ""), elem.get("name")
        if name:
            vector = self._props.get(device, {}).pop(name, None)
            if device in self._props and not self._props[device]:
                del self._props[device]
        else:
            vector = None
            self._props.pop(device, None)
        self._emit(Event("del", device, name or "", vector, elem.get("message", "")))

    def _emit(self, event: Event) -> None:
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:  # noqa: BLE001 - a listener must not kill the reader
                log.exception("INDI listener %r failed on %s", listener, event.kind)

    # ------------------------------------------------------------------ cache
    def add_listener(self, listener: Listener) -> None:
        """``listener(event)`` runs in the reader thread with the lock held; it must be quick."""
        with self._cond:
            self._listeners.append(listener)

    def devices(self) -> List[str]:
        with self._cond:
            return sorted(self._props)

    def vectors(self, device: str) -> Dict[str, Vector]:
        with self._cond:
            return dict(self._props.get(device, {}))

    def vector(self, device: str, name: str) -> Optional[Vector]:
        with self._cond:
            return self._props.get(device, {}).get(name)

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
        data = ET.tostring(elem, encoding="unicode").encode("utf-8") + b"\n"
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
        self._send_xml(ET.Element("getProperties", _attrs(version=PROTOCOL_VERSION, device=device, name=name)))

    def enable_blob(self, mode: str, device: str, name: Optional[str] = None) -> None:
        """``enableBLOB``: Never (default on the server), Also (BLOBs and the rest), Only (only BLOBs)."""
        if mode not in BLOB_MODES:
            raise ValueError(f"enableBLOB mode must be one of {BLOB_MODES}, got {mode!r}")
        elem = ET.Element("enableBLOB", _attrs(device=_name(device), name=None if name is None else _name(name)))
        elem.text = mode
        self._send_xml(elem)

    def _send_new(self, kind: str, device: str, name: str, values: Mapping[str, Any],
                  fmt: Callable[[Any], str]) -> int:
        if not values:
            raise ValueError(f"new{kind}Vector {device}.{name} needs at least one element")
        elem = ET.Element(f"new{kind}Vector", _attrs(device=_name(device), name=_name(name)))
        for element, value in values.items():
            child = ET.SubElement(elem, f"one{kind}", _attrs(name=_name(element)))
            child.text = fmt(value)
        seq = self.seq
        self._send_xml(elem)
        return seq

    def send_switch(self, device: str, name: str, values: Mapping[str, Union[bool, str]]) -> int:
        """``newSwitchVector`` with one or many elements (True/'On', False/'Off'); returns ``seq`` before it."""
        return self._send_new("Switch", device, name, values, _switch_text)

    def send_number(self, device: str, name: str, values: Mapping[str, Union[float, int, str]]) -> int:
        """``newNumberVector`` with one or many elements; returns ``seq`` from before sending."""
        return self._send_new("Number", device, name, values, format_number)

    def send_text(self, device: str, name: str, values: Mapping[str, str]) -> int:
        """``newTextVector`` with one or many elements (escaped); returns ``seq`` from before sending."""
        return self._send_new("Text", device, name, values, _check_text)


def _name(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f"INDI device/property/element names are non-empty str, got {value!r}")
    return _check_text(value)


def _attrs(**kw: Optional[str]) -> Dict[str, str]:
    return {k: _check_text(v) for k, v in kw.items() if v is not None}


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
