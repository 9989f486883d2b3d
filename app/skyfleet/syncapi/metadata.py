"""Validation of SyncAPI metadata: parse leniently as indi-allsky writes it, then check every key we use.

Each problem is an InvalidMetadata (HTTP 422) that names the key, instead of indi-allsky's 500.
"""
from __future__ import annotations

import datetime as dt
import json
import math
import re
import uuid as uuidlib
from typing import Any

from .errors import InvalidMetadata

DAYDATE_RE = re.compile(r"^\d{8}$")
EXTENSION_RE = re.compile(r"^\.[A-Za-z0-9]{1,10}$")
MAX_UTC_OFFSET = 18 * 3600
EPOCH_MIN = dt.datetime(1990, 1, 1, tzinfo=dt.timezone.utc).timestamp()
EPOCH_MAX = dt.datetime(2200, 1, 1, tzinfo=dt.timezone.utc).timestamp()


def parse(raw: bytes) -> dict:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidMetadata("metadata is not UTF-8 text", code="metadata_not_json") from None
    try:
        value = json.loads(text)  # accepts the bare NaN/Infinity Python's json module writes
    except ValueError as exc:
        raise InvalidMetadata(f"metadata is not valid JSON: {exc}", code="metadata_not_json") from None
    if not isinstance(value, dict):
        raise InvalidMetadata("metadata must be a JSON object", code="metadata_not_json")
    return value


def _missing(key: str) -> InvalidMetadata:
    return InvalidMetadata(f"metadata key {key!r} is required", code="metadata_missing_key")


def _bad(key: str, what: str, value: Any) -> InvalidMetadata:
    shown = repr(value)
    if len(shown) > 60:
        shown = shown[:57] + "..."
    return InvalidMetadata(f"metadata key {key!r} must be {what}, got {shown}")


def number(meta: dict, key: str, *, required: bool = False, default: Any = None) -> float | None:
    if key not in meta or meta[key] is None:
        if required:
            raise _missing(key)
        return default
    value = meta[key]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _bad(key, "a number", value)
    if not math.isfinite(value):
        return default  # NaN/Infinity (a failed measurement): stored as unknown
    return float(value)


def integer(meta: dict, key: str, *, required: bool = False, minimum: int | None = None) -> int | None:
    value = number(meta, key, required=required)
    if value is None:
        return None
    if value != int(value) or abs(value) > 2**62:
        raise _bad(key, "a whole number", meta[key])
    if minimum is not None and value < minimum:
        raise _bad(key, f"at least {minimum}", meta[key])
    return int(value)


def boolean(meta: dict, key: str, *, required: bool = False) -> bool | None:
    if key not in meta or meta[key] is None:
        if required:
            raise _missing(key)
        return None
    value = meta[key]
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    raise _bad(key, "true or false", value)


def text(meta: dict, key: str, *, required: bool = False, max_len: int = 512) -> str | None:
    if key not in meta or meta[key] is None:
        if required:
            raise _missing(key)
        return None
    value = meta[key]
    if not isinstance(value, str):
        raise _bad(key, "a string", value)
    if len(value) > max_len:
        raise _bad(key, f"at most {max_len} characters", value)
    return value


def uuid(meta: dict, key: str, *, required: bool = False) -> str | None:
    value = text(meta, key, required=required, max_len=64)
    if value is None:
        return None
    try:
        return str(uuidlib.UUID(value))
    except ValueError:
        raise InvalidMetadata(f"metadata key {key!r} must be a UUID, got {value[:60]!r}",
                              code="invalid_path" if ("/" in value or ".." in value) else "metadata_invalid") from None


def epoch(meta: dict, key: str, *, required: bool = False) -> float | None:
    value = number(meta, key, required=required)
    if value is None:
        if required:
            raise _bad(key, "a finite number of Unix seconds", meta.get(key))
        return None
    if not EPOCH_MIN <= value <= EPOCH_MAX:
        raise _bad(key, "Unix seconds between 1990 and 2200", meta[key])
    return value


def day_date(meta: dict, key: str = "dayDate") -> dt.date:
    value = text(meta, key, required=True, max_len=8)
    if not DAYDATE_RE.match(value):
        raise InvalidMetadata(f"metadata key {key!r} must be YYYYMMDD, got {value!r}",
                              code="invalid_path" if ("/" in value or ".." in value) else "metadata_invalid")
    try:
        return dt.datetime.strptime(value, "%Y%m%d").date()
    except ValueError:
        raise _bad(key, "a real date as YYYYMMDD", value) from None


def utc_offset(meta: dict, *, required: bool) -> int:
    value = number(meta, "utc_offset", required=required, default=0.0)
    if value is None or abs(value) > MAX_UTC_OFFSET:
        raise _bad("utc_offset", "seconds east of UTC within +-18 h", meta.get("utc_offset"))
    return int(round(value))


def data_object(meta: dict, key: str = "data") -> dict:
    value = meta.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _bad(key, "a JSON object", value)
    return _finite(value)


def _finite(value: Any) -> Any:
    """JSON columns must hold strict JSON: NaN/Infinity become null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def media_extension(filename: str) -> str:
    """The stored extension comes from the upload's file name; the name itself is never used as a path."""
    if "/" in filename or "\\" in filename or ".." in filename or "\x00" in filename:
        raise InvalidMetadata(f"media file name {filename[:60]!r} must be a plain name without '/' or '..'",
                              code="invalid_path")
    dot = filename.rfind(".")
    ext = filename[dot:].lower() if dot > 0 else ""
    if not EXTENSION_RE.match(ext):
        raise InvalidMetadata(f"media file name {filename[:60]!r} needs an extension of 1-10 letters or digits",
                              code="invalid_path")
    return ext


def keogram_pixels(meta: dict) -> list | None:
    value = meta.get("keogram_pixels")
    if value is None:
        return None
    ok = isinstance(value, list) and len(value) <= 16 and all(
        isinstance(px, list) and len(px) == 3 and all(isinstance(c, int) and not isinstance(c, bool) for c in px)
        for px in value)
    if not ok:
        raise _bad("keogram_pixels", "a list of [R, G, B] integer triples", value)
    return value
