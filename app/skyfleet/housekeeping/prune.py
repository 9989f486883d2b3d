"""Pruning: the retention policy, then the free-space floor, then (only if that was not enough) the
emergency floor.  The same rules on every tier (no Flask here).

1. **Retention**: every night (dayDate) of a camera whose class is past its days goes, a whole night
   at a time: rows, files, thumbnails and the folders left empty; frames with line detections stay.
2. **Floor**: while free space is below the floor, the oldest nights go, class by class in
   `policy.FLOOR_ORDER` (FITS, day frames, night frames, products), across all cameras.
3. **Emergency**: while free space is below the emergency floor, the same, now including assets not
   yet delivered to every remote, in `policy.EMERGENCY_ORDER` (never a night's products).  Each such
   night is recorded (`PruneEvent.undelivered`) and logged as an error.

Until then an asset with an upload job that is not done is never deleted: it is *held* (counted in
the report) and goes at a later prune once delivered.  A host without remotes has no upload jobs, so
all its assets count as delivered.

Rows are deleted and committed first, the files after: a prune killed in between leaves files
without rows (found by nothing, freed by nothing: harmless), never a row without its file.  One
prune runs at a time (a lock file in the storage folder); writers that find the disk below the floor
call `make_room`, which prunes at once, or leaves it to the prune already running.

On an object store (`storage.root` is None) there is no local free space to keep: the floors do not
apply (`due()` is False, only the retention prunes), its objects are deleted through the storage, and
the lock lives in the folder the caller names (`lock_dir`, the data folder).  An object whose delete
failed is an orphan for `housekeeping.orphans`.
"""
from __future__ import annotations

import datetime as dt
import fcntl
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator, Optional

from sqlalchemy import and_, delete, exists, func, not_, or_, select
from sqlalchemy.orm import Session, aliased, sessionmaker

from ..core.storage import Storage
from ..models import Asset, Camera, ExpiryMark, PruneEvent, UploadJob, utcnow
from . import disk
from .policy import (
    CLASSES,
    DAY_FRAMES,
    EMERGENCY_ORDER,
    FLOOR_ORDER,
    FRAME_THUMBNAIL_ORIGINS,
    NIGHT_FRAMES,
    THUMBNAILS,
    Floor,
    RetentionPolicy,
)

log = logging.getLogger(__name__)

RETENTION, FLOOR, EMERGENCY = "retention", "floor", "emergency"
LOCK_NAME = ".prune.lock"
_DELETE_CHUNK = 500
_DONE = "done"  # upload.queue.DONE (the core does not import the camera side)
# Frames with line detections (and their thumbnails) outlive the retention of their class: only the
# floors take them, as anything else.  Their mini timelapses are products.
DETECTION_KINDS = ("image", "panoramaimage")
KEPT_BY_RETENTION = (DAY_FRAMES, NIGHT_FRAMES, THUMBNAILS)


@dataclass
class NightPruned:
    camera: str
    prune_class: str
    day: dt.date
    reason: str
    assets: int
    bytes: int
    undelivered: int = 0


@dataclass
class Report:
    nights: list = field(default_factory=list)  # NightPruned, in the order they went
    held: int = 0                                # past retention but not yet delivered: kept
    busy: bool = False                           # another prune was running: nothing done
    disk_before: Optional[disk.DiskUsage] = None
    disk_after: Optional[disk.DiskUsage] = None

    @property
    def assets(self) -> int:
        return sum(n.assets for n in self.nights)

    @property
    def bytes(self) -> int:
        return sum(n.bytes for n in self.nights)

    @property
    def undelivered(self) -> int:
        return sum(n.undelivered for n in self.nights)


def _frame_thumbnail():
    return and_(Asset.kind == "thumbnail",
                or_(Asset.origin.is_(None), Asset.origin.in_(FRAME_THUMBNAIL_ORIGINS)))


def class_filter(name: str):
    """SQL condition for the assets of a prune class, its thumbnails included."""
    spec = CLASSES[name]
    if name == THUMBNAILS:
        return _frame_thumbnail()
    own = Asset.kind.in_(spec.kinds)
    if spec.thumbnails == "frame":
        own = or_(own, _frame_thumbnail())
    elif spec.thumbnails == "product":
        own = or_(own, and_(Asset.kind == "thumbnail", Asset.origin.is_not(None),
                            Asset.origin.not_in(FRAME_THUMBNAIL_ORIGINS)))
    if spec.night is not None:
        own = and_(own, Asset.night.is_(spec.night))
    return own


def with_detections(camera_id: int):
    """SQL condition: a frame with line detections (a meteor, a satellite), or the thumbnail of one."""
    frame = aliased(Asset)
    return or_(and_(Asset.kind.in_(DETECTION_KINDS), func.coalesce(Asset.detections, 0) > 0),
               and_(Asset.kind == "thumbnail", Asset.natural_key.in_(select(frame.thumbnail_uuid).where(
                   frame.camera_id == camera_id, frame.kind.in_(DETECTION_KINDS), frame.detections > 0,
                   frame.thumbnail_uuid.is_not(None)))))


def undelivered():
    """SQL condition: the asset has an upload job that is not done (some remote lacks it)."""
    return exists(select(UploadJob.id).where(UploadJob.asset_id == Asset.id, UploadJob.state != _DONE))


class _Space:
    """Free space as it is (statvfs after each night), or as a dry run would leave it."""

    def __init__(self, root: Optional[Path], dry_run: bool):
        self.root, self.dry_run = root, dry_run
        self.start = disk.usage(root) if root is not None else None
        self.freed = 0
        self.counted: set = set()  # asset ids a dry run has counted as removed

    def now(self) -> Optional[disk.DiskUsage]:
        if self.root is None:  # an object store: no floor to keep
            return None
        if self.dry_run:
            return disk.DiskUsage(self.root, self.start.total_bytes,
                                  min(self.start.total_bytes, self.start.free_bytes + self.freed))
        return disk.usage(self.root)

    def below(self, floor: Floor) -> bool:
        now = self.now()
        return now is not None and now.below(floor)


class Pruner:
    def __init__(self, sessions: sessionmaker, storage: Storage, policy: RetentionPolicy, *,
                 clock: Callable[[], dt.datetime] = utcnow,
                 progress: Optional[Callable[[int], None]] = None, lock_dir: Optional[Path] = None):
        self.sessions = sessions
        self.storage = storage
        # The storage folder where there is one (every prune of a host meets there), else `lock_dir`.
        self.lock_dir = storage.root if storage.root is not None else lock_dir
        if self.lock_dir is None:
            raise ValueError("an object store has no folder for the prune lock: pass lock_dir")
        self.policy = policy
        self.clock = clock
        self.progress = progress

    # -- entry points ---------------------------------------------------------------------------------
    def run(self, *, dry_run: bool = False, wait: bool = True) -> Report:
        """The whole prune: retention, floor, emergency.  ``wait=False``: give up if one is running."""
        with self._lock(wait) as locked:
            if not locked:
                return Report(busy=True)
            return self._run(dry_run, retention=True)

    def make_room(self) -> Report:
        """Floor and emergency only, at once, for a writer that found the disk below the floor; does
        nothing when another prune is running (it is making room already)."""
        with self._lock(wait=False) as locked:
            if not locked:
                return Report(busy=True)
            return self._run(dry_run=False, retention=False)

    def due(self) -> bool:
        """Whether free space is below the floor (what writers check before each file); never on an
        object store."""
        if self.storage.root is None:
            return False
        return disk.usage(self.storage.root).below(self.policy.floor)

    # -- phases ---------------------------------------------------------------------------------------
    def _run(self, dry_run: bool, retention: bool) -> Report:
        space = _Space(self.storage.root, dry_run)
        report = Report(disk_before=space.start)
        today = self.clock().date()
        with self.sessions() as session:
            cameras = {c.id: c for c in session.scalars(select(Camera))}
            if retention:
                for camera in cameras.values():
                    days = self.policy.days_for(camera.name, camera.uuid)
                    for name in (*FLOOR_ORDER, THUMBNAILS):
                        if name == THUMBNAILS and not days.thumbnails_days:
                            continue  # they go with their frames
                        cutoff = self.policy.cutoff(days, name, today)
                        if cutoff is not None:
                            for day in self._nights(session, name, [camera.id], before=cutoff):
                                self._prune(session, camera, name, day, RETENTION, report, space, dry_run)
            for reason, floor, order in ((FLOOR, self.policy.floor, FLOOR_ORDER),
                                         (EMERGENCY, self.policy.emergency, EMERGENCY_ORDER)):
                for name in order:
                    if not space.below(floor):
                        break
                    for camera_id, day in self._oldest_nights(session, name, include_undelivered=reason == EMERGENCY):
                        if not space.below(floor):
                            break
                        self._prune(session, cameras[camera_id], name, day, reason, report, space, dry_run)
        report.disk_after = space.now()
        return report

    def _nights(self, session: Session, name: str, camera_ids: list, *, before: dt.date) -> list:
        return list(session.scalars(
            select(Asset.day_date).where(class_filter(name), Asset.camera_id.in_(camera_ids), Asset.day_date < before)
            .group_by(Asset.day_date).order_by(Asset.day_date)))

    def _oldest_nights(self, session: Session, name: str, *, include_undelivered: bool) -> Iterator:
        query = select(Asset.camera_id, Asset.day_date).where(class_filter(name))
        if not include_undelivered:
            query = query.where(not_(undelivered()))
        rows = session.execute(query.group_by(Asset.camera_id, Asset.day_date)
                               .order_by(Asset.day_date, Asset.camera_id)).all()
        session.rollback()  # the list is read; every night is then pruned in its own transaction
        yield from rows

    def _prune(self, session: Session, camera: Camera, name: str, day: dt.date, reason: str, report: Report,
               space: _Space, dry_run: bool) -> None:
        """One night of one class of one camera: delivered assets (all of them below the emergency floor)."""
        night = and_(class_filter(name), Asset.camera_id == camera.id, Asset.day_date == day)
        if reason == RETENTION and name in KEPT_BY_RETENTION:
            night = and_(night, not_(with_detections(camera.id)))
        rows = session.execute(select(Asset.id, Asset.filename, Asset.file_size, undelivered().label("undelivered"))
                               .where(night)).all()
        if dry_run:  # what this dry run already counted is not counted again
            rows = [r for r in rows if r.id not in space.counted]
        held = [r for r in rows if r.undelivered] if reason != EMERGENCY else []
        gone = [r for r in rows if not r.undelivered] if reason != EMERGENCY else rows
        report.held += len(held) if reason == RETENTION else 0
        if not gone:
            session.rollback()
            return
        entry = NightPruned(camera.name, name, day, reason, len(gone), sum(r.file_size or 0 for r in gone),
                            sum(1 for r in gone if r.undelivered))
        report.nights.append(entry)
        if dry_run:
            session.rollback()
            space.freed += entry.bytes
            space.counted.update(r.id for r in gone)
            return
        ids = [r.id for r in gone]
        for start in range(0, len(ids), _DELETE_CHUNK):
            session.execute(delete(Asset).where(Asset.id.in_(ids[start:start + _DELETE_CHUNK]))
                            .execution_options(synchronize_session=False))
        session.add(PruneEvent(camera_id=camera.id, prune_class=name, day_date=day, reason=reason,
                               assets=entry.assets, bytes=entry.bytes, undelivered=entry.undelivered))
        if not held:
            self._mark(session, camera.id, name, day)
        session.commit()
        self._unlink([r.filename for r in gone if r.filename])
        if self.progress:
            self.progress(len(gone))
        if entry.undelivered:
            log.error("disk below the emergency floor: dropped %d asset(s) of %s of camera %s, night %s, "
                      "before every remote had them (%d bytes)", entry.undelivered, name.replace("_", " "),
                      camera.name, day, entry.bytes)
        else:
            log.info("pruned %s of camera %s, night %s (%s): %d asset(s), %d bytes", name.replace("_", " "),
                     camera.name, day, reason, entry.assets, entry.bytes)

    def _mark(self, session: Session, camera_id: int, name: str, day: dt.date) -> None:
        mark = session.scalar(select(ExpiryMark).where(ExpiryMark.camera_id == camera_id,
                                                       ExpiryMark.prune_class == name))
        if mark is None:
            session.add(ExpiryMark(camera_id=camera_id, prune_class=name, through_day=day))
        elif mark.through_day < day:
            mark.through_day = day

    def _unlink(self, names: list) -> None:
        if self.storage.root is None:
            self._delete_objects(names)
            return
        folders = set()
        for rel in names:
            try:
                path = self.storage.path(rel)
                path.unlink()
            except FileNotFoundError:
                pass
            except OSError as exc:  # the row is gone: the file is only space, say which
                log.warning("pruned %s but could not remove its file: %s", rel, exc.strerror or exc)
                continue
            folders.add(path.parent)
        for folder in sorted(folders, key=lambda p: len(p.parts), reverse=True):
            self._remove_empty(folder)

    def _delete_objects(self, names: list) -> None:
        for rel in names:
            try:
                self.storage.delete(rel)
            except Exception as exc:  # the row is gone: the object is an orphan for the sweep
                log.warning("pruned %s but could not delete its object: %s", rel, getattr(exc, "log_detail", exc))

    def _remove_empty(self, folder: Path) -> None:
        root = self.storage.root
        while folder != root and root in folder.parents:
            try:
                folder.rmdir()
            except OSError:
                return  # not empty (or already gone by another path): its parents are not empty either
            folder = folder.parent

    def _lock(self, wait: bool) -> _PruneLock:
        return _PruneLock(self.lock_dir / LOCK_NAME, wait)


class _PruneLock:
    """One prune at a time, across processes: an flock on a file in the storage (or lock) folder."""

    def __init__(self, path: Path, wait: bool):
        self.path, self.wait, self.fd = path, wait, None

    def __enter__(self) -> bool:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o640)
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | (0 if self.wait else fcntl.LOCK_NB))
        except BlockingIOError:
            os.close(self.fd)
            self.fd = None
            return False
        return True

    def __exit__(self, *exc) -> None:
        if self.fd is not None:
            os.close(self.fd)  # closing releases the lock


def held_for_delivery(session: Session) -> int:
    """Assets some remote still lacks (what pruning keeps while above the emergency floor)."""
    return session.scalar(select(func.count(Asset.id)).where(undelivered())) or 0
