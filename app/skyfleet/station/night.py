"""A night's products (keogram, star trail, timelapse, each with a thumbnail) from its stored images.

Frames are read back one at a time from the stored JPEGs, so memory stays flat however long the night,
and a restart of the capture service never loses the night: `skyfleet night build DATE` does the same.
"""
from __future__ import annotations

import calendar
import datetime as dt
import logging
import shutil
import uuid
from pathlib import Path
from typing import Callable, Optional, Sequence

import cv2
from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from ..core.storage import Storage
from ..imaging.products import NightProducts, ProductSettings
from ..local_assets import record_asset
from ..models import Asset, Camera

log = logging.getLogger(__name__)


def night_images(session, camera: Camera, day: dt.date, night: bool) -> list:
    return list(session.scalars(
        select(Asset).where(Asset.camera_id == camera.id, Asset.kind == "image", Asset.day_date == day,
                            Asset.night.is_(night), Asset.filename.is_not(None))
        .order_by(Asset.create_date_utc)))


def build_night(sessions: sessionmaker, storage: Storage, camera: Camera, day: dt.date, remotes: Sequence[str],
                settings: Optional[ProductSettings] = None, *, night: bool = True,
                progress: Optional[Callable[[int], None]] = None) -> list:
    """Build and record the products of one night (or day); returns the recorded assets."""
    settings = settings or ProductSettings()
    with sessions() as session:
        images = night_images(session, camera, day, night)
    if not images:
        log.info("no %s images for %s: nothing to build", "night" if night else "day", day)
        return []
    work = storage.staging / f"night-{uuid.uuid4().hex}"
    products = NightProducts(settings, work_dir=str(work / "tmp"))
    try:
        for image in images:
            frame = cv2.imread(str(storage.path(image.filename)), cv2.IMREAD_UNCHANGED)
            if frame is None:
                log.warning("skipping unreadable %s", image.filename)
            else:
                products.add(frame, night=night)
            if progress:
                progress(1)
        result = products.finish(str(work), f"{day:%Y%m%d}_{'night' if night else 'day'}")
        for error in result.errors:
            log.error("night %s: %s", day, error)
        return _record(sessions, storage, camera, day, night, images, result, remotes, settings.timelapse_fps)
    except BaseException:
        products.abort()
        raise
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _record(sessions, storage, camera, day, night, images, result, remotes, fps: float) -> list:
    first = images[0]
    created = calendar.timegm(first.create_date_utc.utctimetuple())
    common = {"createDate": created, "dayDate": f"{day:%Y%m%d}", "utc_offset": first.utc_offset,
              "night": night, "camera_uuid": camera.uuid}
    made = (("keogram", 4, result.keogram, result.keogram_thumb, result.keogram_frames),
            ("startrail", 5, result.startrail, result.startrail_thumb, result.startrail_frames),
            ("video", 3, result.timelapse, result.timelapse_thumb, result.timelapse_frames))
    recorded = []
    with sessions() as session:
        cam = session.merge(camera)
        for kind, code, path, thumb, frames in made:
            if not path:
                continue
            meta = dict(common, type=code, frames=frames, success=True)
            if kind == "video":
                meta["framerate"] = fps
            if thumb:
                thumb_uuid = str(uuid.uuid4())
                height, width = cv2.imread(thumb, cv2.IMREAD_UNCHANGED).shape[:2]
                record_asset(session, storage, cam, "thumbnail",
                             dict(common, type=15, uuid=thumb_uuid, origin=code, width=width, height=height),
                             Path(thumb), remotes)
                meta["thumbnail_uuid"] = thumb_uuid
            recorded.append(record_asset(session, storage, cam, kind, meta, Path(path), remotes))
    log.info("night %s: recorded %s", day, ", ".join(a.kind for a in recorded))
    return recorded
