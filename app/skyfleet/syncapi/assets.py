"""The asset kinds of SyncAPI v1: endpoint segment, type code, duplicate key, stored columns and path.

Storage layout (relative to the storage folder), shared by camera hosts and remotes:

    ccd_<camera uuid>/exposures/<dayDate>/<night|day>/<dd_HH>/ccd<cid>_<YYYYmmdd_HHMMSS><ext>
    ccd_<camera uuid>/exposures/<dayDate>/<night|day>/<dd_HH>/thumbnails/<thumbnail uuid><ext>
    ccd_<camera uuid>/timelapse/<dayDate>/allsky-timelapse_ccd<cid>_<dayDate>_<night|day>_<epoch><ext>
    ccd_<camera uuid>/timelapse/<dayDate>/thumbnails/<thumbnail uuid><ext>

Folders follow the sent dayDate (indi-allsky derives them from createDate - 12 h), times are the
camera's local wall time, and a night's products sit under timelapse/ as on the camera host.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Callable

from ..models import ASSET_CLASSES, Camera
from . import metadata as md

IMAGE_FAMILY, NIGHT_FAMILY, MINIVIDEO_FAMILY, THUMBNAIL_FAMILY = "image", "night", "minivideo", "thumbnail"

# Image-like metadata keys and how they are read (all optional beyond createDate/dayDate/night).
_IMAGE_FIELDS: dict[str, Callable[[dict, str], Any]] = {
    "exposure": md.number, "exp_elapsed": md.number, "gain": md.number, "binmode": md.integer,
    "temp": md.number, "calibrated": md.boolean, "adu": md.number, "adu_roi": md.boolean,
    "stable": md.boolean, "moonmode": md.boolean, "moonphase": md.number, "sqm": md.number,
    "stars": md.integer, "detections": md.integer, "process_elapsed": md.number,
    "kpindex": md.number, "ovation_max": md.integer, "smoke_rating": md.integer, "exclude": md.boolean,
}
_NIGHT_FIELDS: dict[str, Callable[[dict, str], Any]] = {
    "framerate": md.number, "frames": md.integer, "success": md.boolean,
}


@dataclass(frozen=True)
class AssetKind:
    segment: str
    type_code: int
    family: str
    folder: str = ""      # image-like: exposures / panoramas / export / fits
    prefix: str = ""      # file name prefix
    stamp_sep: str = "_"  # separator before the epoch in night-product names

    @property
    def model(self) -> type:
        return ASSET_CLASSES[self.segment]


KINDS: dict[str, AssetKind] = {k.segment: k for k in (
    AssetKind("image", 2, IMAGE_FAMILY, folder="exposures", prefix=""),
    AssetKind("rawimage", 7, IMAGE_FAMILY, folder="export", prefix="raw_"),
    AssetKind("fitsimage", 8, IMAGE_FAMILY, folder="fits", prefix=""),
    AssetKind("panoramaimage", 13, IMAGE_FAMILY, folder="panoramas", prefix="panorama_"),
    AssetKind("video", 3, NIGHT_FAMILY, prefix="allsky-timelapse_"),
    AssetKind("keogram", 4, NIGHT_FAMILY, prefix="allsky-keogram_"),
    AssetKind("startrail", 5, NIGHT_FAMILY, prefix="allsky-startrail_"),
    AssetKind("startrailvideo", 6, NIGHT_FAMILY, prefix="allsky-startrail_timelapse_", stamp_sep=""),
    AssetKind("panoramavideo", 14, NIGHT_FAMILY, prefix="allsky-panorama_timelapse_", stamp_sep=""),
    AssetKind("minivideo", 16, MINIVIDEO_FAMILY, prefix="allsky-minitimelapse_"),
    AssetKind("thumbnail", 15, THUMBNAIL_FAMILY),
)}
TYPE_CODES = {k.type_code: k for k in KINDS.values()}
# Thumbnail origins (the parent's type code) that live beside images rather than night products.
_IMAGE_ORIGINS = {-1, 2, 13}


@dataclass
class AssetRecord:
    """Everything needed to store one asset: its duplicate key, columns, and path without extension."""
    natural_key: str
    columns: dict
    path_stem: str
    keogram_pixels: list | None = None


def _utc(epoch: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(epoch, dt.timezone.utc).replace(tzinfo=None)


def _night_word(night: bool) -> str:
    return "night" if night else "day"


def build_record(kind: AssetKind, meta: dict, camera: Camera) -> AssetRecord:
    """Validate the metadata of a POST/PUT and compute the row and its place in storage."""
    created = md.epoch(meta, "createDate", required=True)
    offset = md.utc_offset(meta, required=True)
    day = md.day_date(meta)
    night = md.boolean(meta, "night", required=True)
    created_utc = _utc(created)
    local = created_utc + dt.timedelta(seconds=offset)
    columns: dict[str, Any] = {
        "create_date_utc": created_utc, "create_date": local, "utc_offset": offset, "day_date": day,
        "night": night, "width": md.integer(meta, "width", minimum=0),
        "height": md.integer(meta, "height", minimum=0), "data": md.data_object(meta),
        "remote_url": md.text(meta, "remote_url"), "s3_key": md.text(meta, "s3_key"),
        "thumbnail_uuid": md.uuid(meta, "thumbnail_uuid"),
    }
    base = f"ccd_{camera.uuid}"
    day_s = day.strftime("%Y%m%d")
    if kind.family == IMAGE_FAMILY:
        for key, reader in _IMAGE_FIELDS.items():
            columns[key] = reader(meta, key)
        folder = f"{base}/{kind.folder}/{day_s}/{_night_word(night)}/{local:%d_%H}"
        return AssetRecord(
            natural_key=str(int(created)), columns=columns,
            path_stem=f"{folder}/{kind.prefix}ccd{camera.id}_{local:%Y%m%d_%H%M%S}",
            keogram_pixels=md.keogram_pixels(meta) if kind.segment == "image" else None)
    if kind.family == THUMBNAIL_FAMILY:
        thumb = md.uuid(meta, "uuid", required=True)
        origin = md.integer(meta, "origin")
        columns.update(uuid=thumb, origin=-1 if origin is None else origin)
        if columns["origin"] in _IMAGE_ORIGINS:
            folder = "panoramas" if columns["origin"] == 13 else "exposures"
            parent = f"{base}/{folder}/{day_s}/{_night_word(night)}/{local:%d_%H}"
        else:
            parent = f"{base}/timelapse/{day_s}"
        return AssetRecord(natural_key=thumb, columns=columns, path_stem=f"{parent}/thumbnails/{thumb}")
    for key, reader in _NIGHT_FIELDS.items():
        columns[key] = reader(meta, key)
    name = f"{kind.prefix}ccd{camera.id}_{day_s}_{_night_word(night)}{kind.stamp_sep}{int(created)}"
    stem = f"{base}/timelapse/{day_s}/{name}"
    if kind.family == MINIVIDEO_FAMILY:
        start = md.epoch(meta, "startDate", required=True)
        end = md.epoch(meta, "endDate", required=True)
        columns.update(target_date=_utc(md.epoch(meta, "targetDate", required=True)),
                       start_date=_utc(start), end_date=_utc(end), note=md.text(meta, "note", max_len=4096))
        # Several mini timelapses per night are normal: keyed by their span, not by the night.
        return AssetRecord(natural_key=f"{int(start)}-{int(end)}", columns=columns, path_stem=stem)
    return AssetRecord(natural_key=f"{day_s}-{_night_word(night)}", columns=columns, path_stem=stem)


def lookup_key(kind: AssetKind, meta: dict) -> str | None:
    """The duplicate key from GET/DELETE metadata without `id` (skyfleet extension), or None."""
    if kind.family == IMAGE_FAMILY and meta.get("createDate") is not None:
        return str(int(md.epoch(meta, "createDate")))
    if kind.family == THUMBNAIL_FAMILY and meta.get("uuid") is not None:
        return md.uuid(meta, "uuid")
    if kind.family == MINIVIDEO_FAMILY and meta.get("startDate") is not None:
        return f"{int(md.epoch(meta, 'startDate', required=True))}-{int(md.epoch(meta, 'endDate', required=True))}"
    if kind.family == NIGHT_FAMILY and meta.get("dayDate") is not None:
        return f"{md.day_date(meta):%Y%m%d}-{_night_word(bool(md.boolean(meta, 'night', required=True)))}"
    return None
