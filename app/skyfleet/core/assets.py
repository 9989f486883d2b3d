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
from typing import Any

from ..models import ASSET_CLASSES, Asset, Camera
from . import media_types
from . import metadata as md
from .fields import REFUSED, Fields, for_column, to_integer, to_number_list, to_utc_offset
from .media_types import FITS_FILES, IMAGES, RAW_IMAGES, VIDEOS

IMAGE_FAMILY, NIGHT_FAMILY, MINIVIDEO_FAMILY, THUMBNAIL_FAMILY = "image", "night", "minivideo", "thumbnail"

# Columns filled from the metadata key of the same name, read by the column's type (see fields.py).
_COMMON_COLUMNS = ("width", "height", "remote_url", "s3_key")
_IMAGE_COLUMNS = ("exposure", "exp_elapsed", "gain", "binmode", "temp", "calibrated", "adu", "stable",
                  "moonmode", "moonphase", "sqm", "stars", "detections", "process_elapsed", "kpindex",
                  "ovation_max", "smoke_rating", "exclude")
_NIGHT_COLUMNS = ("framerate", "frames", "success")
# Keys that are read elsewhere or mean nothing here: never kept under data["_received"].
_NOT_KEPT = ("type", "camera_uuid", "file_size", "fileSize", "id")
_PIXEL = to_integer(0, 65535)


@dataclass(frozen=True)
class AssetKind:
    segment: str
    type_code: int
    family: str
    extensions: tuple     # the media file extensions it takes (core.media_types)
    folder: str = ""      # image-like: exposures / panoramas / export / fits
    prefix: str = ""      # file name prefix
    stamp_sep: str = "_"  # separator before the epoch in night-product names

    @property
    def model(self) -> type:
        return ASSET_CLASSES[self.segment]

    def media_extension(self, filename: str) -> str:
        """The stored file's extension: from the media file name, one this kind takes (else a 415)."""
        return media_types.extension(filename, self.extensions, self.segment)


KINDS: dict[str, AssetKind] = {k.segment: k for k in (
    AssetKind("image", 2, IMAGE_FAMILY, IMAGES, folder="exposures", prefix=""),
    AssetKind("rawimage", 7, IMAGE_FAMILY, RAW_IMAGES, folder="export", prefix="raw_"),
    AssetKind("fitsimage", 8, IMAGE_FAMILY, FITS_FILES, folder="fits", prefix=""),
    AssetKind("panoramaimage", 13, IMAGE_FAMILY, IMAGES, folder="panoramas", prefix="panorama_"),
    AssetKind("video", 3, NIGHT_FAMILY, VIDEOS, prefix="allsky-timelapse_"),
    AssetKind("keogram", 4, NIGHT_FAMILY, IMAGES, prefix="allsky-keogram_"),
    AssetKind("startrail", 5, NIGHT_FAMILY, IMAGES, prefix="allsky-startrail_"),
    AssetKind("startrailvideo", 6, NIGHT_FAMILY, VIDEOS, prefix="allsky-startrail_timelapse_", stamp_sep=""),
    AssetKind("panoramavideo", 14, NIGHT_FAMILY, VIDEOS, prefix="allsky-panorama_timelapse_", stamp_sep=""),
    AssetKind("minivideo", 16, MINIVIDEO_FAMILY, VIDEOS, prefix="allsky-minitimelapse_"),
    AssetKind("thumbnail", 15, THUMBNAIL_FAMILY, IMAGES),
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
    keogram_ts: int | None = None  # the Unix second the long-term keogram keeps the pixels under


def _utc(epoch: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(epoch, dt.timezone.utc).replace(tzinfo=None)


def _night_word(night: bool) -> str:
    return "night" if night else "day"


def build_record(kind: AssetKind, meta: dict, camera: Camera) -> AssetRecord:
    """Validate the metadata of a POST/PUT and compute the row and its place in storage.

    Strict keys (identity, path) raise InvalidMetadata; every other field is read tolerantly.
    """
    created = md.epoch(meta, "createDate", required=True)
    day = md.day_date(meta)
    night = md.flag(meta, "night", required=True)
    thumbnail_uuid = md.uuid(meta, "thumbnail_uuid")
    fields = Fields(meta)
    fields.seen.update(("createDate", "dayDate", "night", "thumbnail_uuid"))
    # A missing or unusable offset: the one the camera announced when it synced.
    offset = fields.get("utc_offset", to_utc_offset, default=camera.utc_offset or 0)
    created_utc = _utc(created)
    local = created_utc + dt.timedelta(seconds=offset)
    columns: dict[str, Any] = {
        "create_date_utc": created_utc, "create_date": local, "utc_offset": offset, "day_date": day,
        "night": night, "thumbnail_uuid": thumbnail_uuid, **fields.columns(Asset.__table__, _COMMON_COLUMNS),
    }
    data = fields.data()
    record = _record_for(kind, meta, fields, columns, camera, created, local, day.strftime("%Y%m%d"), night)
    fields.keep_unread(_NOT_KEPT)
    columns["data"] = fields.with_received(data)
    return record


def _record_for(kind: AssetKind, meta: dict, fields: Fields, columns: dict, camera: Camera, created: float,
                local: dt.datetime, day_s: str, night: bool) -> AssetRecord:
    base = f"ccd_{camera.uuid}"
    if kind.family == IMAGE_FAMILY:
        columns.update(fields.columns(Asset.__table__, _IMAGE_COLUMNS))
        columns["adu_roi"] = fields.get("adu_roi", to_number_list)
        pixels = fields.get("keogram_pixels", _keogram_pixels) if kind.segment == "image" else None
        folder = f"{base}/{kind.folder}/{day_s}/{_night_word(night)}/{local:%d_%H}"
        return AssetRecord(
            natural_key=str(int(created)), columns=columns,
            path_stem=f"{folder}/{kind.prefix}ccd{camera.id}_{local:%Y%m%d_%H%M%S}", keogram_pixels=pixels,
            keogram_ts=int(created))
    if kind.family == THUMBNAIL_FAMILY:
        thumb = md.uuid(meta, "uuid", required=True)
        fields.seen.add("uuid")
        # indi-allsky's default origin (-1) when it is missing or unusable: beside the images.
        origin = fields.get("origin", for_column(Asset.__table__.c.origin), default=-1)
        columns.update(uuid=thumb, origin=origin)
        if origin in _IMAGE_ORIGINS:
            folder = "panoramas" if origin == 13 else "exposures"
            parent = f"{base}/{folder}/{day_s}/{_night_word(night)}/{local:%d_%H}"
        else:
            parent = f"{base}/timelapse/{day_s}"
        return AssetRecord(natural_key=thumb, columns=columns, path_stem=f"{parent}/thumbnails/{thumb}")
    columns.update(fields.columns(Asset.__table__, _NIGHT_COLUMNS))
    name = f"{kind.prefix}ccd{camera.id}_{day_s}_{_night_word(night)}{kind.stamp_sep}{int(created)}"
    stem = f"{base}/timelapse/{day_s}/{name}"
    if kind.family == MINIVIDEO_FAMILY:
        # Several mini timelapses per night are normal: keyed by their span, so start and end are strict.
        start = md.epoch(meta, "startDate", required=True)
        end = md.epoch(meta, "endDate", required=True)
        fields.seen.update(("startDate", "endDate"))
        columns.update(start_date=_utc(start), end_date=_utc(end),
                       target_date=fields.column(Asset.__table__.c.target_date, "targetDate"),
                       note=fields.column(Asset.__table__.c.note))
        return AssetRecord(natural_key=f"{int(start)}-{int(end)}", columns=columns, path_stem=stem)
    return AssetRecord(natural_key=f"{day_s}-{_night_word(night)}", columns=columns, path_stem=stem)


def _keogram_pixels(value: Any) -> Any:
    """Five [R, G, B] integer triples (or fewer); anything else is kept under data["_received"]."""
    ok = isinstance(value, list) and len(value) <= 16 and all(
        isinstance(px, list) and len(px) == 3 and all(_PIXEL(c) is not REFUSED for c in px) for px in value)
    return [[_PIXEL(c) for c in px] for px in value] if ok else REFUSED


def lookup_key(kind: AssetKind, meta: dict) -> str | None:
    """The duplicate key from GET/DELETE metadata without `id` (skyfleet extension), or None."""
    if kind.family == IMAGE_FAMILY and meta.get("createDate") is not None:
        return str(int(md.epoch(meta, "createDate")))
    if kind.family == THUMBNAIL_FAMILY and meta.get("uuid") is not None:
        return md.uuid(meta, "uuid")
    if kind.family == MINIVIDEO_FAMILY and meta.get("startDate") is not None:
        return f"{int(md.epoch(meta, 'startDate', required=True))}-{int(md.epoch(meta, 'endDate', required=True))}"
    if kind.family == NIGHT_FAMILY and meta.get("dayDate") is not None:
        return f"{md.day_date(meta):%Y%m%d}-{_night_word(bool(md.flag(meta, 'night', required=True)))}"
    return None
