"""SyncAPI metadata: parsing, and the strict readers for the keys that decide identity, a path or a size.

Only these keys are strict: `camera_uuid`, `uuid`, `thumbnail_uuid`, `createDate`, `dayDate`,
`night`, `file_size`, `id`, a mini timelapse's `startDate`/`endDate` (its key) and the media file
name.  A missing or bad value there is an InvalidMetadata (HTTP 422) that names the key.  Every other
field is read tolerantly by `fields.Fields`: what does not fit its column is kept, never refused.
"""
from __future__ import annotations

import datetime as dt
import math
import re
import uuid as uuidlib
from typing import Any

from . import jsontext
from .errors import InvalidMetadata

DAYDATE_RE = re.compile(r"[0-9]{8}")
EXTENSION_RE = re.compile(r"\.[A-Za-z0-9]{1,10}")
EPOCH_MIN = dt.datetime(1990, 1, 1, tzinfo=dt.timezone.utc).timestamp()
EPOCH_MAX = dt.datetime(2200, 1, 1, tzinfo=dt.timezone.utc).timestamp()
ROW_ID_MAX = 2**63 - 1  # BigInteger; also bounds file_size


def parse(raw: bytes) -> dict:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidMetadata("metadata is not UTF-8 text", code="metadata_not_json") from None
    try:
        value = jsontext.loads(text)  # accepts the bare NaN/Infinity Python's json module writes
    except ValueError as exc:
        raise InvalidMetadata(f"metadata is not valid JSON: {exc}", code="metadata_not_json") from None
    if not isinstance(value, dict):
        raise InvalidMetadata("metadata must be a JSON object", code="metadata_not_json")
    return value


def shown(value: Any, limit: int = 60) -> str:
    """A short picture of a bad value for an error message."""
    if isinstance(value, int) and abs(value) >= 10**40:
        return f"an integer of {len(str(abs(value)))} digits"
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _missing(key: str) -> InvalidMetadata:
    return InvalidMetadata(f"metadata key {key!r} is required", code="metadata_missing_key")


def _bad(key: str, what: str, value: Any, code: str = "metadata_invalid") -> InvalidMetadata:
    return InvalidMetadata(f"metadata key {key!r} must be {what}, got {shown(value)}", code=code)


def _present(meta: dict, key: str, required: bool) -> bool:
    if meta.get(key) is None:
        if required:
            raise _missing(key)
        return False
    return True


def _finite_number(meta: dict, key: str, what: str) -> float:
    value = meta[key]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _bad(key, what, value)
    try:
        number = float(value)
    except OverflowError:  # an int beyond float range, e.g. 10**400
        raise _bad(key, what, value) from None
    if not math.isfinite(number):
        raise _bad(key, what, value)
    return number


def whole_number(meta: dict, key: str, *, required: bool = False, minimum: int = 0,
                 maximum: int = ROW_ID_MAX) -> int | None:
    if not _present(meta, key, required):
        return None
    value = meta[key]
    what = f"a whole number from {minimum} to {maximum}"
    if isinstance(value, float) and math.isfinite(value) and value == int(value):
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= maximum:
        raise _bad(key, what, meta[key])
    return value


def flag(meta: dict, key: str, *, required: bool = False) -> bool | None:
    if not _present(meta, key, required):
        return None
    value = meta[key]
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    raise _bad(key, "true or false", value)


def uuid(meta: dict, key: str, *, required: bool = False) -> str | None:
    if not _present(meta, key, required):
        return None
    value = meta[key]
    if not isinstance(value, str):
        raise _bad(key, "a UUID string", value)
    code = "invalid_path" if ("/" in value or ".." in value or "\\" in value) else "metadata_invalid"
    if len(value) > 64:
        raise _bad(key, "a UUID", value, code=code)
    try:
        return str(uuidlib.UUID(value))
    except ValueError:
        raise _bad(key, "a UUID", value, code=code) from None


def epoch(meta: dict, key: str, *, required: bool = False) -> float | None:
    if not _present(meta, key, required):
        return None
    what = "Unix seconds between 1990 and 2200"
    value = _finite_number(meta, key, what)
    if not EPOCH_MIN <= value <= EPOCH_MAX:
        raise _bad(key, what, meta[key])
    return value


def day_date(meta: dict, key: str = "dayDate") -> dt.date:
    _present(meta, key, True)
    value = meta[key]
    if not isinstance(value, str) or not DAYDATE_RE.fullmatch(value):
        code = "invalid_path" if isinstance(value, str) and ("/" in value or ".." in value) else "metadata_invalid"
        raise _bad(key, "a date as YYYYMMDD", value, code=code)
    try:
        return dt.datetime.strptime(value, "%Y%m%d").date()
    except ValueError:
        raise _bad(key, "a real date as YYYYMMDD", value) from None


def media_extension(filename: str) -> str:
    """The stored extension comes from the upload's file name; the name itself is never used as a path."""
    if "/" in filename or "\\" in filename or ".." in filename or "\x00" in filename:
        raise InvalidMetadata(f"media file name {filename[:60]!r} must be a plain name without '/' or '..'",
                              code="invalid_path")
    dot = filename.rfind(".")
    ext = filename[dot:].lower() if dot > 0 else ""
    if not EXTENSION_RE.fullmatch(ext):
        raise InvalidMetadata(f"media file name {filename[:60]!r} needs an extension of 1-10 letters or digits",
                              code="invalid_path")
    return ext
