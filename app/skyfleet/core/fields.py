"""Tolerant reading of the metadata fields that decide neither identity, a path nor a size.

indi-allsky releases add, drop and retype fields (`adu_roi` became a list, numbers arrive as ints or
floats), so such a field is never refused.  A value that converts cleanly to its column is stored
there (int 300 into a float column, 1/0 into a boolean, a whole float into an integer); anything else
(a string in a number field, a list in a scalar field, an int beyond float or column range, a string
longer than its column, a string PostgreSQL cannot store) leaves the column empty and is kept as
received under `data["_received"][<key>]`, as are keys the server has no column for.  NaN and
+-Infinity (what a number beyond float range such as 1e400 becomes) are stored as unknown (null).
"""
from __future__ import annotations

import datetime as dt
import math
from typing import Any, Callable, Iterable

from sqlalchemy import BigInteger, Boolean, DateTime, Float, Integer, String

from .metadata import EPOCH_MAX, EPOCH_MIN

RECEIVED = "_received"
MAX_UTC_OFFSET = 18 * 3600
INT32 = (-2**31, 2**31 - 1)
INT64 = (-2**63, 2**63 - 1)


class _Refused:
    """What a converter returns for a value its column cannot hold."""


REFUSED = _Refused()
Converter = Callable[[Any], Any]


def to_float(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return REFUSED
    try:
        number = float(value)
    except OverflowError:  # an int beyond float range (10**400 is valid JSON)
        return REFUSED
    return number if math.isfinite(number) else None


def to_integer(low: int, high: int) -> Converter:
    def convert(value: Any) -> Any:
        if isinstance(value, float) and math.isfinite(value) and value == int(value):
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            return REFUSED
        return value
    return convert


def to_bool(value: Any) -> Any:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    return REFUSED


def to_text(max_len: int | None) -> Converter:
    def convert(value: Any) -> Any:
        if not isinstance(value, str) or (max_len is not None and len(value) > max_len) or not storable_text(value):
            return REFUSED
        return value
    return convert


def storable_text(value: str) -> bool:
    """PostgreSQL text holds no NUL, and no database encodes a lone surrogate (JSON allows "\\ud800")."""
    if "\x00" in value:
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def to_utc_datetime(value: Any) -> Any:
    seconds = to_float(value)
    if seconds is REFUSED or seconds is None or not EPOCH_MIN <= seconds <= EPOCH_MAX:
        return REFUSED
    return dt.datetime.fromtimestamp(seconds, dt.timezone.utc).replace(tzinfo=None)


def to_utc_offset(value: Any) -> Any:
    seconds = to_float(value)
    if seconds is REFUSED or seconds is None or abs(seconds) > MAX_UTC_OFFSET:
        return REFUSED
    return int(round(seconds))


def to_number_list(value: Any) -> Any:
    """indi-allsky's ADU_ROI: `[]` or `[x1, y1, x2, y2]`; false (older descriptions, skyfleet cameras) is `[]`."""
    if value is False:
        return []
    if isinstance(value, list) and len(value) <= 16 and all(
            to_float(v) not in (REFUSED, None) for v in value):
        return value
    return REFUSED


def for_column(column) -> Converter:
    """The converter for a SQLAlchemy column, so limits follow the model (String lengths, 32-bit Integer)."""
    kind = column.type
    if isinstance(kind, Boolean):
        return to_bool
    if isinstance(kind, BigInteger):
        return to_integer(*INT64)
    if isinstance(kind, Integer):
        return to_integer(*INT32)
    if isinstance(kind, Float):
        return to_float
    if isinstance(kind, DateTime):
        return to_utc_datetime
    if isinstance(kind, String):
        return to_text(kind.length)
    raise TypeError(f"no tolerant reader for column {column.name} of type {kind}")


def json_safe(value: Any) -> Any:
    """Strict JSON for a JSON column: NaN/Infinity become null (PostgreSQL's json refuses them)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [json_safe(v) for v in value]
    return value


class Fields:
    """The tolerant fields of one metadata object, and what was kept because it fit nowhere."""

    def __init__(self, meta: dict):
        self.meta = meta
        self.received: dict[str, Any] = {}
        self.seen: set[str] = set()

    def get(self, key: str, convert: Converter, default: Any = None) -> Any:
        self.seen.add(key)
        value = self.meta.get(key)
        if value is None or (isinstance(value, float) and not math.isfinite(value)):
            return default  # unknown: NaN/Infinity is how indi-allsky writes a failed measurement
        converted = convert(value)
        if converted is REFUSED:
            self.keep(key, value)
            return default
        return converted

    def column(self, column, key: str | None = None) -> Any:
        return self.get(key or column.name, for_column(column))

    def columns(self, table, names: Iterable[str]) -> dict[str, Any]:
        return {name: self.column(table.c[name]) for name in names}

    def keep(self, key: str, value: Any) -> None:
        self.received[key] = json_safe(value)

    def data(self, key: str = "data") -> dict:
        """The free-form `data` object; anything else is kept as received."""
        self.seen.add(key)
        value = self.meta.get(key)
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.keep(key, value)
            return {}
        data = json_safe(value)
        if RECEIVED in data:  # the server's own key: the client's value is kept beside the others
            self.received[f"{key}.{RECEIVED}"] = data.pop(RECEIVED)
        return data

    def keep_unread(self, ignored: Iterable[str]) -> None:
        """Keep the keys nothing has read (a newer release's additions)."""
        skip = self.seen | set(ignored)
        for key, value in self.meta.items():
            if key not in skip:
                self.keep(key, value)

    def with_received(self, data: dict) -> dict:
        if self.received:
            return {**data, RECEIVED: dict(self.received)}
        return data
