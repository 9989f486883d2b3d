"""INDI properties: ``Element`` and ``Vector`` snapshots, the per-device cache, and its events.

``def*Vector`` defines a vector (Number, Switch, Text, Light, BLOB), ``set*Vector`` updates its
state (Idle/Ok/Busy/Alert) and element values, ``delProperty`` removes one vector or a whole
device.  Every change replaces the vector with a new immutable snapshot and goes to the listeners
as an ``Event``.

The cache is not thread-safe by itself: its owner (``IndiClient``) calls it with its lock held.
"""
from __future__ import annotations

import logging
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any, Callable, Dict, List, Mapping, Optional

from .indi_wire import STATES, parse_number

log = logging.getLogger(__name__)


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
class Event:
    """What listeners get (in the reader thread, with the client's lock held; keep them short)."""

    kind: str  # "def", "set", "del", "message", "disconnected"
    device: str = ""
    name: str = ""
    vector: Optional[Vector] = None
    message: str = ""


Listener = Callable[[Event], None]


def _attr_float(elem: ET.Element, name: str) -> Optional[float]:
    return parse_number(elem.get(name))


class PropertyCache:
    """The vectors of every device, by device and name, fed from ``def``/``set``/``delProperty`` elements.

    ``seq`` is the owner's sequence number of the element being applied; it is stored in the vector."""

    def __init__(self) -> None:
        self._props: Dict[str, Dict[str, Vector]] = {}
        self._listeners: List[Listener] = []

    def add_listener(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def emit(self, event: Event) -> None:
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:  # noqa: BLE001 - a listener must not kill the reader
                log.exception("INDI listener %r failed on %s", listener, event.kind)

    def devices(self) -> List[str]:
        return sorted(self._props)

    def vectors(self, device: str) -> Dict[str, Vector]:
        return dict(self._props.get(device, {}))

    def vector(self, device: str, name: str) -> Optional[Vector]:
        return self._props.get(device, {}).get(name)

    def define(self, kind: str, elem: ET.Element, seq: int) -> None:
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
                        timestamp=elem.get("timestamp", ""), message=elem.get("message", ""), seq=seq)
        self._props.setdefault(device, {})[name] = vector
        if vector.message:
            log.debug("%s.%s: %s", device, name, vector.message)
        self.emit(Event("def", device, name, vector, vector.message))

    def update(self, kind: str, elem: ET.Element, seq: int) -> None:
        device, name = elem.get("device", ""), elem.get("name", "")
        old = self._props.get(device, {}).get(name)
        if old is None:
            log.debug("set%sVector for undefined %s.%s", kind, device, name)
            return
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
                         seq=seq)
        self._props[device][name] = vector
        if vector.message:
            log.debug("%s.%s: %s", device, name, vector.message)
        self.emit(Event("set", device, name, vector, vector.message))

    def delete(self, elem: ET.Element) -> None:
        device, name = elem.get("device", ""), elem.get("name")
        if name:
            vector = self._props.get(device, {}).pop(name, None)
            if device in self._props and not self._props[device]:
                del self._props[device]
        else:
            vector = None
            self._props.pop(device, None)
        self.emit(Event("del", device, name or "", vector, elem.get("message", "")))
