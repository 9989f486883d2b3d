"""The INDI wire format (https://www.indilib.org/develop/developer-manual/104-scripting.html, protocol 1.7).

An INDI connection carries a stream of top-level XML elements with no single root element.
``StreamParser`` feeds it to an ``xml.etree.ElementTree.XMLPullParser`` after a synthetic opening
root tag and hands out each top-level element as soon as its end tag arrives (a BLOB may span
many reads).  ``decode_blobs`` turns a ``setBLOBVector`` into ``Blob`` values (base64 text in
``oneBLOB``; ``format``, ``size`` and ``enclen``/``len`` attributes; ``.z`` formats are
zlib-inflated).

The command builders (``get_properties``, ``enable_blob``, ``new_vector``, ``ping_reply``) use
ElementTree, so device, property and element names and text values are escaped; characters XML
cannot carry at all, and values INDI cannot take, raise ``ValueError`` before anything is sent.
``serialise`` turns a command into the bytes to send.
"""
from __future__ import annotations

import base64
import binascii
import logging
import math
import re
import time
import xml.etree.ElementTree as ET
import zlib
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, Dict, Iterator, List, Mapping, Optional

log = logging.getLogger(__name__)

DEFAULT_PORT = 7624
PROTOCOL_VERSION = "1.7"
STATES = ("Idle", "Ok", "Busy", "Alert")
KINDS = ("Number", "Switch", "Text", "Light", "BLOB")
BLOB_MODES = ("Never", "Also", "Only")
_ROOT_TAG = b"<indistream>"  # synthetic root: the INDI stream has none
# characters XML 1.0 cannot carry at all, even escaped
_INVALID_XML_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


# ---------------------------------------------------------------------- values
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


def _name(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f"INDI device/property/element names are non-empty str, got {value!r}")
    return _check_text(value)


def _attrs(**kw: Optional[str]) -> Dict[str, str]:
    return {k: _check_text(v) for k, v in kw.items() if v is not None}


# ---------------------------------------------------------------------- reading
class StreamParser:
    """Incremental parser of one connection's stream; ``feed`` yields each complete top-level element.

    An element is dropped from the tree once the caller has handled it (the generator resumes),
    so a long connection does not keep what it read."""

    def __init__(self) -> None:
        self._parser = ET.XMLPullParser(events=("start", "end"))
        self._parser.feed(_ROOT_TAG)
        self._root: Optional[ET.Element] = None
        self._depth = 0

    def feed(self, data: bytes) -> Iterator[ET.Element]:
        """Raises ``ET.ParseError`` on invalid XML: the stream is unusable from there on."""
        self._parser.feed(data)
        for event, elem in self._parser.read_events():
            if event == "start":
                self._depth += 1
                if self._root is None:
                    self._root = elem
                continue
            self._depth -= 1
            if self._depth == 1 and self._root is not None:  # a complete top-level element
                yield elem
                self._root.remove(elem)


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


def decode_blobs(elem: ET.Element) -> List[Blob]:
    """The BLOBs of a ``setBLOBVector``; undecodable and empty ones are dropped (empty clears a property)."""
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


# ---------------------------------------------------------------------- commands
_FORMATS: Dict[str, Callable[[Any], str]] = {"Switch": _switch_text, "Number": format_number, "Text": _check_text}


def get_properties(device: Optional[str] = None, name: Optional[str] = None) -> ET.Element:
    return ET.Element("getProperties", _attrs(version=PROTOCOL_VERSION, device=device, name=name))


def enable_blob(mode: str, device: str, name: Optional[str] = None) -> ET.Element:
    """``enableBLOB``: Never (default on the server), Also (BLOBs and the rest), Only (only BLOBs)."""
    if mode not in BLOB_MODES:
        raise ValueError(f"enableBLOB mode must be one of {BLOB_MODES}, got {mode!r}")
    elem = ET.Element("enableBLOB", _attrs(device=_name(device), name=None if name is None else _name(name)))
    elem.text = mode
    return elem


def new_vector(kind: str, device: str, name: str, values: Mapping[str, Any]) -> ET.Element:
    """``new{kind}Vector`` (Switch: True/'On', False/'Off'; Number; Text) with one or many elements."""
    if not values:
        raise ValueError(f"new{kind}Vector {device}.{name} needs at least one element")
    fmt = _FORMATS[kind]
    elem = ET.Element(f"new{kind}Vector", _attrs(device=_name(device), name=_name(name)))
    for element, value in values.items():
        child = ET.SubElement(elem, f"one{kind}", _attrs(name=_name(element)))
        child.text = fmt(value)
    return elem


def ping_reply(uid: Optional[str]) -> ET.Element:
    """The answer to INDI 2.x's keep-alive ``pingRequest``."""
    return ET.Element("pingReply", _attrs(uid=uid))


def serialise(elem: ET.Element) -> bytes:
    return ET.tostring(elem, encoding="unicode").encode("utf-8") + b"\n"
