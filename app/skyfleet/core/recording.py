"""Recording an asset written once: its row (found by its duplicate key, or new), its file in the
layout, and its long-term keogram pixels, committed together (no Flask here).

Both tiers record assets: the SyncAPI server an upload it has staged (`syncapi.service.store`), the
camera host a file it has produced (`local_assets.record_asset`).  The file is placed with an atomic
rename before the row is committed; if anything fails the session is rolled back, the placed file is
removed again and a replaced file put back, so a failure leaves neither a half file nor a row
without its file.  What differs between the callers is theirs to pass in: where the file comes
from (`place`), which existing file is replaced (`replaced`), and what else belongs in the same
transaction (`before_flush`, `after_flush`).
"""
from __future__ import annotations

import logging
from typing import Callable, Optional

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from ..models import Asset, Camera
from . import longterm_keogram
from .assets import AssetKind, AssetRecord
from .storage import Storage

log = logging.getLogger(__name__)


# asked for every asset recorded: built once (building and keying a select cost more than running it)
_BY_NATURAL_KEY = select(Asset).where(Asset.camera_id == bindparam("camera_id"), Asset.kind == bindparam("kind"),
                                      Asset.natural_key == bindparam("natural_key"))


def find_existing(session: Session, camera: Camera, kind: AssetKind, natural_key: str) -> Optional[Asset]:
    """The camera's asset of this kind with this duplicate key, if one was recorded."""
    return session.scalar(_BY_NATURAL_KEY, {"camera_id": camera.id, "kind": kind.segment, "natural_key": natural_key})


def save(session: Session, storage: Storage, kind: AssetKind, camera: Camera, record: AssetRecord,
         existing: Optional[Asset], *, filename: Optional[str], size: int, sha256: str,
         place: Optional[Callable[[], object]] = None, replaced: Optional[str] = None,
         before_flush: Optional[Callable[[Asset], None]] = None,
         after_flush: Optional[Callable[[Asset], None]] = None) -> Asset:
    """Place the file, fill the row (`existing`, or a new one) from `record`, and commit.

    `place` puts the file at `filename` (None: the caller has no file to place); `replaced` is a
    stored file the new one replaces, set aside first and dropped only once the commit succeeded.
    `before_flush(asset)` adds caller-specific columns, `after_flush(asset)` rows that need the
    asset's id (the camera host's upload jobs).
    """
    backup = storage.set_aside(replaced) if replaced else None
    placed = False
    try:
        if place is not None:
            place()
            placed = True
        asset = existing or kind.model(camera_id=camera.id, natural_key=record.natural_key)
        for column, value in record.columns.items():
            setattr(asset, column, value)
        asset.filename, asset.file_size, asset.sha256 = filename, size, sha256
        if before_flush is not None:
            before_flush(asset)
        session.add(asset)
        if record.keogram_pixels:
            longterm_keogram.keep(session, camera.id, record.keogram_ts, record.keogram_pixels)
        session.flush()
        if after_flush is not None:
            after_flush(asset)
        session.commit()
    except BaseException:
        session.rollback()
        if placed:
            try:
                storage.delete(filename)
            except Exception as exc:  # the store went away: an orphan for the sweep; the restore still runs
                log.error("could not remove %s after the failed commit: %s", filename, getattr(exc, "log_detail", exc))
        if backup is not None:
            storage.restore(backup, replaced)
        raise
    if backup is not None:
        storage.drop(backup)
    return asset
