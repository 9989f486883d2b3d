"""A mini timelapse around a frame with line detections (a meteor, a satellite): indi-allsky's `minivideo`.

The frames around the event are read back from the stored JPEGs (they carry the overlay, as the
timelapse viewer expects), written with the night timelapse's encoder, and recorded with a thumbnail
of the event frame, both queued for the remotes.  Keyed by its first and last frame (startDate,
endDate), so a rebuild replaces it and two events in one night are two videos.
"""
from __future__ import annotations

import calendar
import logging
import shutil
import uuid
from pathlib import Path
from typing import Optional, Sequence

import cv2
from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from ..core.storage import Storage
from ..imaging.jpeg import thumbnail, write_jpeg
from ..imaging.timelapse import TimelapseWriter
from ..local_assets import record_asset
from ..models import Asset, Camera

log = logging.getLogger(__name__)

FRAMES_BEFORE = 5
FRAMES_AFTER = 5
FPS = 5.0
MINIVIDEO, THUMBNAIL = 16, 15  # SyncAPI type codes


def epoch(asset: Asset) -> int:
    return calendar.timegm(asset.create_date_utc.utctimetuple())


def frames_around(session, camera_id: int, event: Asset, before: int, after: int) -> list:
    """The event frame with up to `before` images before it and `after` after it, in time order."""
    same = (Asset.camera_id == camera_id, Asset.kind == "image", Asset.filename.is_not(None))
    earlier = list(session.scalars(select(Asset).where(*same, Asset.create_date_utc <= event.create_date_utc)
                                   .order_by(Asset.create_date_utc.desc(), Asset.id.desc()).limit(before + 1)))
    later = list(session.scalars(select(Asset).where(*same, Asset.create_date_utc > event.create_date_utc)
                                 .order_by(Asset.create_date_utc, Asset.id).limit(after)))
    return earlier[::-1] + later


def build_minivideo(sessions: sessionmaker, storage: Storage, camera: Camera, event_id: int, remotes: Sequence[str],
                    *, before: int = FRAMES_BEFORE, after: int = FRAMES_AFTER, fps: float = FPS,
                    thumb_width: int = 320) -> Optional[Asset]:
    """Build and record the mini timelapse around image `event_id`; None when there is nothing to build."""
    with sessions() as session:
        event = session.get(Asset, event_id)
        if event is None or event.filename is None:
            return None
        frames = frames_around(session, camera.id, event, before, after)
    work = storage.staging / f"mini-{uuid.uuid4().hex}"
    work.mkdir(parents=True, exist_ok=True)
    try:
        writer = TimelapseWriter(work / "mini.mp4", fps=fps, fsync=False)
        used, picture = [], None
        try:
            for frame in frames:
                img = cv2.imread(str(storage.path(frame.filename)), cv2.IMREAD_COLOR)
                if img is None:
                    log.warning("mini timelapse: skipping unreadable %s", frame.filename)
                    continue
                writer.add(img)
                used.append(frame)
                if frame.id == event.id:
                    picture = img
        except BaseException:
            writer.abort()
            raise
        if len(used) < 2 or picture is None:
            writer.abort()
            return None
        video = writer.close()
        thumb = write_jpeg(str(work / "mini_thumb.jpg"), thumbnail(picture, thumb_width), fsync=False)
        return _record(sessions, storage, camera, event, used, Path(video), Path(thumb), remotes, fps)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _record(sessions, storage, camera, event: Asset, used: list, video: Path, thumb: Path, remotes, fps: float):
    common = {"createDate": epoch(event), "dayDate": f"{event.day_date:%Y%m%d}", "utc_offset": event.utc_offset,
              "night": bool(event.night), "camera_uuid": camera.uuid}
    height, width = cv2.imread(str(thumb), cv2.IMREAD_UNCHANGED).shape[:2]
    thumb_uuid = str(uuid.uuid4())
    note = f"{event.detections} line detection{'s' if event.detections != 1 else ''}"
    with sessions() as session:
        cam = session.merge(camera)
        record_asset(session, storage, cam, "thumbnail",
                     dict(common, type=THUMBNAIL, uuid=thumb_uuid, origin=MINIVIDEO, width=width, height=height),
                     thumb, remotes)
        meta = dict(common, type=MINIVIDEO, framerate=fps, frames=len(used), targetDate=epoch(event),
                    startDate=epoch(used[0]), endDate=epoch(used[-1]), note=note, thumbnail_uuid=thumb_uuid)
        recorded = record_asset(session, storage, cam, "minivideo", meta, video, remotes)
    log.info("mini timelapse %s: %d frames around %s (%s)", recorded.filename, len(used), event.filename, note)
    return recorded
