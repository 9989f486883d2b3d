"""The [processing] settings table -> the imaging library's settings, with errors naming the key."""
from __future__ import annotations

import dataclasses
from typing import Any, Mapping, Optional

from ..imaging.pipeline import ProcessingSettings
from ..imaging.products import ProductSettings

# Keys the station sets itself (output folders) are not settings.
_FRAME_KEYS = {f.name: f for f in dataclasses.fields(ProcessingSettings) if f.name not in ("out_dir", "fsync")}
_NIGHT_KEYS = {f.name: f for f in dataclasses.fields(ProductSettings) if f.name not in ("fsync",)}


class ProcessingConfigError(ValueError):
    pass


def _check(name: str, value: Any, default: Any) -> Any:
    where = f"processing.{name}"
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise ProcessingConfigError(f"{where} must be true or false, got {value!r}")
    elif isinstance(default, (int, float)) and default is not None:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ProcessingConfigError(f"{where} must be a number, got {value!r}")
    return value


def from_table(raw: Optional[Mapping[str, Any]]) -> tuple:
    """-> (ProcessingSettings, ProductSettings).  Keys of the night products start with 'night_'."""
    raw = dict(raw or {})
    frame, night = {}, {}
    for key, value in raw.items():
        if key.startswith("night_") and key[6:] in _NIGHT_KEYS:
            night[key[6:]] = _check(key, value, _NIGHT_KEYS[key[6:]].default)
        elif key in _FRAME_KEYS:
            frame[key] = _check(key, value, _FRAME_KEYS[key].default)
        else:
            known = sorted(list(_FRAME_KEYS) + [f"night_{k}" for k in _NIGHT_KEYS])
            raise ProcessingConfigError(f"processing.{key}: unknown setting (known: {', '.join(known)})")
    q = frame.get("jpeg_quality", 90)
    if not 1 <= q <= 100:
        raise ProcessingConfigError(f"processing.jpeg_quality must be 1-100, got {q}")
    return ProcessingSettings(**frame), ProductSettings(**night)
