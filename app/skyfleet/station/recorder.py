"""Turning each captured frame into a finished, recorded and queued sky image.

process -> thumbnail and image (optionally the FITS) recorded in the local database with their upload
jobs -> when a night ends, its keogram, star trail and timelapse are built in the background.
"""
from __future__ import annotations

import datetime as dt
import logging
import shutil
import threading
import uuid
from pathlib import Path
from typing import Callable, Optional, Sequence

from sqlalchemy.orm import sessionmaker

from ..core.errors import StorageFull
from ..core.storage import Storage
from ..housekeeping.prune import Pruner
from ..imaging.keogram import keogram_pixels
from ..imaging.pipeline import ProcessingSettings, process_frame
from ..local_assets import local_camera, record_asset
from . import minivideo
from .observing import day_date, local_time

log = logging.getLogger(__name__)


def _measured(processed) -> dict:
    """stars, sqm and detections as indi-allsky sends them (zeros when measuring is switched off)."""
    m = processed.measurements
    if m is None:
        return {"sqm": 0.0, "stars": 0, "detections": 0}
    return {"sqm": m.sqm, "stars": m.stars, "detections": m.detections}


class FrameRecorder:
    """The capture loop's on_frame: one call per frame, from the capture thread."""

    def __init__(self, sessions: sessionmaker, storage: Storage, camera_name: str, remotes: Sequence[str],
                 processing: ProcessingSettings, *, accounts: Sequence[str] = (), camera_fields: Optional[dict] = None,
                 on_night_end: Optional[Callable[[dt.date], None]] = None, tz: Optional[dt.tzinfo] = None,
                 pruner: Optional[Pruner] = None, on_detection: Optional[Callable[[int], None]] = None):
        self.sessions = sessions
        self.pruner = pruner
        self.storage = storage
        self.remotes = list(remotes)
        self.processing = processing
        self.on_night_end = on_night_end
        self.tz = tz
        self.camera_name = camera_name
        _, offset = local_time(dt.datetime.now(dt.timezone.utc), tz)
        with sessions() as session:
            self.camera = local_camera(session, camera_name, self.remotes, accounts, utc_offset=offset,
                                       **(camera_fields or {}))
        self._night_of: Optional[dt.date] = None
        self._last_epoch: Optional[int] = None
        self._previous = None  # the last frame's working copy, for line detection
        # a frame with line detections: its mini timelapse is built once FRAMES_AFTER more frames are in
        self.on_detection = on_detection or self._build_minivideo_in_background
        self._event: Optional[int] = None
        self._frames_to_come = 0

    def __call__(self, frame, context) -> None:
        started = self._unique_second(frame)
        local, offset = local_time(started, self.tz)
        night_day = day_date(local, context.night)
        self._watch_night(context.night, night_day)
        self._make_room_if_needed()
        work = self.storage.staging / f"frame-{uuid.uuid4().hex}"
        try:
            processed = process_frame(
                frame.fits_bytes, self.processing, when_local=local,
                meta={"title": self.camera_name, "exposure": frame.exposure, "gain": frame.gain,
                      "temperature": frame.temperature},
                out_dir=str(work), basename=local.strftime("%Y%m%d_%H%M%S"), previous=self._previous)
            self._previous = processed.measure_copy
            try:
                image = self._record(frame, context, processed, started, offset, night_day)
            except StorageFull:  # filled up between the check and the write: make room, try once more
                self._make_room_if_needed(force=True)
                image = self._record(frame, context, processed, started, offset, night_day)
            self._follow_detections(image.id, image.detections or 0)
        finally:
            shutil.rmtree(work, ignore_errors=True)

    def _make_room_if_needed(self, force: bool = False) -> None:
        """Capture never stops for a full disk: below the floor, prune at once (housekeeping/prune.py)."""
        if self.pruner is None:
            return
        try:
            if not (force or self.pruner.due()):
                return
            report = self.pruner.make_room()
        except Exception:  # the frame is still tried; the hourly prune and the alerts say what is wrong
            log.exception("making room on the disk failed")
            return
        if report.busy:
            log.info("disk below the floor: a prune is running already")
        else:
            log.warning("disk below the floor: pruned %d asset(s), %d bytes (%d not yet delivered); %d bytes free now",
                        report.assets, report.bytes, report.undelivered, report.disk_after.free_bytes)

    def _unique_second(self, frame) -> dt.datetime:
        """When the exposure started, to the second; a frame in the same second as the previous one
        (a late BLOB, a very short period) is moved to the next second instead of replacing it."""
        received = frame.received_at if frame.received_at.tzinfo else frame.received_at.replace(tzinfo=dt.timezone.utc)
        epoch = int((received - dt.timedelta(seconds=frame.exposure)).timestamp())
        if self._last_epoch is not None and epoch <= self._last_epoch:
            epoch = self._last_epoch + 1
        self._last_epoch = epoch
        return dt.datetime.fromtimestamp(epoch, dt.timezone.utc)

    def _record(self, frame, context, processed, started: dt.datetime, offset: int, night_day: dt.date) -> None:
        common = {"createDate": int(started.timestamp()), "dayDate": night_day.strftime("%Y%m%d"), "utc_offset": offset,
                  "night": bool(context.night), "camera_uuid": self.camera.uuid}
        thumb_uuid = str(uuid.uuid4()) if processed.thumb_path else None
        image_meta = dict(
            common, type=2, exposure=frame.exposure, exp_elapsed=frame.exp_to_blob, gain=frame.gain or 0.0,
            binmode=frame.binning, temp=frame.temperature, calibrated=bool(processed.dark_path),
            adu=context.measured_adu if context.measured_adu is not None else processed.adu, adu_roi=[],
            stable=context.stable, moonmode=context.moon_alt > 0, moonphase=round(context.moon_phase, 1),
            **_measured(processed), process_elapsed=round(processed.process_elapsed, 3),
            width=processed.width, height=processed.height,
            keogram_pixels=keogram_pixels(processed.image) if processed.image is not None else None,
            data={"sun_alt": round(context.sun_alt, 2), "moon_alt": round(context.moon_alt, 2),
                  "target_adu": context.target_adu, "bayer": processed.bayer_pattern})
        with self.sessions() as session:
            camera = session.merge(self.camera)
            if thumb_uuid:
                record_asset(session, self.storage, camera, "thumbnail",
                             dict(common, type=15, uuid=thumb_uuid, origin=2, width=self.processing.thumb_width,
                                  height=round(processed.height * self.processing.thumb_width / processed.width)),
                             Path(processed.thumb_path), self.remotes)
                image_meta["thumbnail_uuid"] = thumb_uuid
            image = record_asset(session, self.storage, camera, "image", image_meta, Path(processed.jpeg_path),
                                 self.remotes)
            if processed.fits_path:
                record_asset(session, self.storage, camera, "fitsimage", dict(image_meta, type=8),
                             Path(processed.fits_path), self.remotes)
        log.info("recorded image %s (%s, exposure %gs, ADU %.0f, %d stars, SQM %.2f, %d detections)",
                 image.filename, "night" if context.night else "day", frame.exposure, image_meta["adu"],
                 image_meta["stars"], image_meta["sqm"], image_meta["detections"])
        return image

    def _follow_detections(self, image_id: int, detections: int) -> None:
        """The first frame with detections opens an event; FRAMES_AFTER frames later its video is built
        (frames with detections in between are in that video)."""
        if self._event is None:
            if detections:
                self._event, self._frames_to_come = image_id, minivideo.FRAMES_AFTER
            return
        self._frames_to_come -= 1
        if self._frames_to_come <= 0:
            event, self._event = self._event, None
            self.on_detection(event)

    def _build_minivideo_in_background(self, event_id: int) -> None:
        def build():
            try:
                minivideo.build_minivideo(self.sessions, self.storage, self.camera, event_id, self.remotes,
                                          thumb_width=self.processing.thumb_width)
            except Exception:  # the frames stay recorded and queued; only the video is missing
                log.exception("building the mini timelapse around image %s failed", event_id)
        threading.Thread(target=build, name=f"minivideo-{event_id}", daemon=True).start()

    def _watch_night(self, night: bool, night_day: dt.date) -> None:
        """A day frame after night frames ends that night: build its products."""
        if night:
            self._night_of = night_day
            return
        if self._night_of is not None and self.on_night_end is not None:
            ended, self._night_of = self._night_of, None
            threading.Thread(target=self.on_night_end, args=(ended,), name=f"night-{ended}", daemon=True).start()
