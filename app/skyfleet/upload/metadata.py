"""SyncAPI metadata for a local asset or camera, with every key an indi-allsky remote requires."""
from __future__ import annotations

import calendar
import datetime as dt

from ..core.assets import IMAGE_FAMILY, KINDS, MINIVIDEO_FAMILY, NIGHT_FAMILY, THUMBNAIL_FAMILY
from ..models import Asset, Camera

# indi-allsky answers 500 when one of these is missing from an image, so unknown values get a neutral one.
_IMAGE_DEFAULTS = {
    "exposure": 0.0, "exp_elapsed": 0.0, "gain": 0.0, "binmode": 1, "temp": None, "calibrated": False,
    "adu": 0.0, "adu_roi": [], "stable": True, "moonmode": False, "moonphase": 0.0, "sqm": 0.0,
    "stars": 0, "detections": 0, "process_elapsed": 0.0,
}
_IMAGE_OPTIONAL = ("kpindex", "ovation_max", "smoke_rating", "exclude")
_CAMERA_FIELDS = ("driver", "tz", "location", "owner", "latitude", "longitude", "elevation", "width", "height")


def epoch(value: dt.datetime) -> int:
    """Naive UTC datetime -> Unix seconds."""
    return calendar.timegm(value.utctimetuple())


def for_camera(camera: Camera) -> dict:
    meta = {"type": 1, "name": camera.name, "uuid": camera.uuid, "utc_offset": float(camera.utc_offset or 0)}
    for key in _CAMERA_FIELDS:
        value = getattr(camera, key)
        if value is not None:
            meta[key] = value
    meta["data"] = dict(camera.data or {})
    return meta


def for_asset(asset: Asset, camera: Camera, keogram_pixels: list | None = None) -> dict:
    """``keogram_pixels``: the image's long-term keogram pixels, sent with it as indi-allsky does."""
    kind = KINDS[asset.kind]
    meta = {
        "type": kind.type_code, "createDate": epoch(asset.create_date_utc),
        "dayDate": asset.day_date.strftime("%Y%m%d"), "utc_offset": float(asset.utc_offset),
        "night": bool(asset.night), "camera_uuid": camera.uuid,
        "width": asset.width or 0, "height": asset.height or 0, "data": dict(asset.data or {}),
    }
    for key in ("thumbnail_uuid", "remote_url", "s3_key"):
        if getattr(asset, key):
            meta[key] = getattr(asset, key)
    if kind.family == IMAGE_FAMILY:
        for key, default in _IMAGE_DEFAULTS.items():
            value = getattr(asset, key)
            meta[key] = default if value is None else value
        for key in _IMAGE_OPTIONAL:
            if getattr(asset, key) is not None:
                meta[key] = getattr(asset, key)
        meta["fileSize"] = asset.file_size
        if keogram_pixels:
            meta["keogram_pixels"] = keogram_pixels
    elif kind.family == THUMBNAIL_FAMILY:
        meta.update(uuid=asset.uuid, origin=asset.origin if asset.origin is not None else -1,
                    fileSize=asset.file_size)
    elif kind.family in (NIGHT_FAMILY, MINIVIDEO_FAMILY):
        meta.update(framerate=asset.framerate or 0.0, frames=asset.frames or 0)
        if asset.success is not None:
            meta["success"] = asset.success
        if kind.family == MINIVIDEO_FAMILY:
            meta.update(targetDate=epoch(asset.target_date), startDate=epoch(asset.start_date),
                        endDate=epoch(asset.end_date), note=asset.note or "")
    return meta


def lookup(asset: Asset, camera: Camera) -> dict:
    """GET/DELETE metadata that finds the asset on a skyfleet remote by its duplicate key; with its night
    (and a thumbnail's origin: whose thumbnail it is), so a remote that pruned it can say so (410)."""
    meta = for_asset(asset, camera)
    keep = ("camera_uuid", "utc_offset", "createDate", "dayDate", "night", "uuid", "origin", "startDate", "endDate")
    return {k: meta[k] for k in keep if k in meta}
