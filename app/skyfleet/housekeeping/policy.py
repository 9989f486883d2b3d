"""The [retention] settings table: how long each class of asset is kept, and the free-space floors.

Assets are pruned in *classes*, a whole night (dayDate) of a camera at a time, in this order, the
least valuable first (the order `skyfleet storage prune` follows below the floor):

    fits          FITS files and raw exports
    day_frames    images (and panoramas) taken by day, with their thumbnails
    night_frames  images (and panoramas) taken at night, with their thumbnails
    products      a night's keogram, star trail, timelapses and mini timelapses, with their thumbnails

`thumbnails` is a retention class only: frame thumbnails may be dropped before their frames (never
kept after them).  Below the emergency floor, assets not yet delivered to every remote may go too,
in the same order, but never `products`.

    [retention]
    images_days = 30           # 0: keep forever (until the floor needs the room)
    thumbnails_days = 0        # 0: as long as their frames
    fits_days = 7
    products_days = 365
    floor_percent = 10         # keep at least this much of the filesystem free ...
    floor_mb = 1024            # ... and at least this many MiB
    emergency_floor_percent = 3
    emergency_floor_mb = 256

    [retention.cameras."<camera name or uuid>"]   # per camera (remotes): any of the *_days keys
    products_days = 3650
"""
from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field, fields, replace
from typing import Any, Mapping, Optional

FITS, DAY_FRAMES, NIGHT_FRAMES, PRODUCTS, THUMBNAILS = "fits", "day_frames", "night_frames", "products", "thumbnails"

# Thumbnail origins (the parent's type code) of frame thumbnails; every other origin is a product's.
FRAME_THUMBNAIL_ORIGINS = (-1, 2, 13)


@dataclass(frozen=True)
class PruneClass:
    name: str
    kinds: tuple              # asset kinds of the class (thumbnails excluded)
    night: Optional[bool]     # only day (False) or night (True) assets; None: both
    thumbnails: str           # which thumbnails go with it: "frame", "product" or ""


CLASSES = {c.name: c for c in (
    PruneClass(FITS, ("fitsimage", "rawimage"), None, ""),
    PruneClass(DAY_FRAMES, ("image", "panoramaimage"), False, "frame"),
    PruneClass(NIGHT_FRAMES, ("image", "panoramaimage"), True, "frame"),
    PruneClass(PRODUCTS, ("video", "keogram", "startrail", "startrailvideo", "panoramavideo", "minivideo"), None,
               "product"),
    PruneClass(THUMBNAILS, (), None, "frame"),
)}
# Below the floor, delivered assets go in this order; below the emergency floor undelivered ones too,
# but only the classes of EMERGENCY_ORDER.
FLOOR_ORDER = (FITS, DAY_FRAMES, NIGHT_FRAMES, PRODUCTS)
EMERGENCY_ORDER = (FITS, DAY_FRAMES, NIGHT_FRAMES)


class RetentionConfigError(ValueError):
    """A bad [retention] value; the message names the key."""


@dataclass(frozen=True)
class Days:
    """Days to keep per class; 0 keeps forever."""
    images_days: int = 30
    thumbnails_days: int = 0
    fits_days: int = 7
    products_days: int = 365

    def for_class(self, name: str) -> int:
        """Days the class is kept (0: forever); frame thumbnails never outlive their frames."""
        if name == THUMBNAILS:
            if not self.thumbnails_days:
                return self.images_days
            return min(self.thumbnails_days, self.images_days) if self.images_days else self.thumbnails_days
        if name in (DAY_FRAMES, NIGHT_FRAMES):
            return self.images_days
        return {FITS: self.fits_days, PRODUCTS: self.products_days}[name]


@dataclass(frozen=True)
class Floor:
    percent: float
    mb: int

    def bytes_for(self, total_bytes: int) -> int:
        """Free bytes the floor asks for on a filesystem of `total_bytes`: the larger of the two."""
        return max(math.ceil(total_bytes * self.percent / 100), self.mb * 1024 * 1024)


@dataclass(frozen=True)
class RetentionPolicy:
    days: Days = field(default_factory=Days)
    floor: Floor = Floor(10.0, 1024)
    emergency: Floor = Floor(3.0, 256)
    cameras: Mapping[str, Days] = field(default_factory=dict)  # by camera name or uuid

    def days_for(self, camera_name: str = "", camera_uuid: str = "") -> Days:
        return self.cameras.get(camera_uuid) or self.cameras.get(camera_name) or self.days

    def cutoff(self, days: Days, name: str, today: dt.date) -> Optional[dt.date]:
        """Nights before this date are past their retention; None when the class is kept forever."""
        keep = days.for_class(name)
        return today - dt.timedelta(days=keep) if keep else None


_DAY_KEYS = {f.name for f in fields(Days)}
_FLOOR_KEYS = ("floor_percent", "floor_mb", "emergency_floor_percent", "emergency_floor_mb")


def _whole(where: str, value: Any, maximum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= maximum:
        raise RetentionConfigError(f"{where} must be a whole number from 0 to {maximum}, got {value!r}")
    return value


def _percent(where: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 100:
        raise RetentionConfigError(f"{where} must be a number from 0 to below 100, got {value!r}")
    return float(value)


def _days(where: str, raw: Mapping[str, Any], base: Days) -> Days:
    unknown = sorted(set(raw) - _DAY_KEYS)
    if unknown:
        raise RetentionConfigError(f"{where}.{unknown[0]}: unknown setting (known: {', '.join(sorted(_DAY_KEYS))})")
    return replace(base, **{k: _whole(f"{where}.{k}", v, 100000) for k, v in raw.items()})


def from_table(raw: Optional[Mapping[str, Any]]) -> RetentionPolicy:
    raw = dict(raw or {})
    per_camera = raw.pop("cameras", {})
    known = _DAY_KEYS | set(_FLOOR_KEYS)
    unknown = sorted(set(raw) - known)
    if unknown:
        raise RetentionConfigError(f"retention.{unknown[0]}: unknown setting (known: cameras, "
                                   f"{', '.join(sorted(known))})")
    days = _days("retention", {k: v for k, v in raw.items() if k in _DAY_KEYS}, Days())
    defaults = RetentionPolicy()
    floor = Floor(_percent("retention.floor_percent", raw.get("floor_percent", defaults.floor.percent)),
                  _whole("retention.floor_mb", raw.get("floor_mb", defaults.floor.mb), 10**9))
    emergency = Floor(
        _percent("retention.emergency_floor_percent", raw.get("emergency_floor_percent", defaults.emergency.percent)),
        _whole("retention.emergency_floor_mb", raw.get("emergency_floor_mb", defaults.emergency.mb), 10**9))
    if emergency.percent > floor.percent or emergency.mb > floor.mb:
        raise RetentionConfigError(
            f"retention.emergency_floor_percent/emergency_floor_mb ({emergency.percent:g} %, {emergency.mb} MiB) "
            f"must not be above floor_percent/floor_mb ({floor.percent:g} %, {floor.mb} MiB)")
    if not isinstance(per_camera, Mapping):
        raise RetentionConfigError("retention.cameras must be a table of tables ([retention.cameras.\"name\"])")
    cameras = {}
    for name, table in per_camera.items():
        if not isinstance(table, Mapping):
            raise RetentionConfigError(f"retention.cameras.{name!r} must be a table")
        cameras[str(name)] = _days(f"retention.cameras.{name!r}", table, days)
    return RetentionPolicy(days=days, floor=floor, emergency=emergency, cameras=cameras)


def class_of(kind: str, night: bool, origin: Optional[int] = None) -> str:
    """The prune class an asset belongs to (a thumbnail: its parent's)."""
    if kind == "thumbnail":
        if origin in FRAME_THUMBNAIL_ORIGINS or origin is None:
            return NIGHT_FRAMES if night else DAY_FRAMES
        return PRODUCTS
    for c in FLOOR_ORDER:
        spec = CLASSES[c]
        if kind in spec.kinds and (spec.night is None or spec.night == bool(night)):
            return c
    raise ValueError(f"unknown asset kind {kind!r}")
