"""Objects without an asset row in an object store, and their removal (no Flask here).

An upload is placed before its row is committed (core.recording), so a process killed in between, or
a delete that failed after its row was gone (a failed commit's clean-up, a prune), leaves an object no
row names: found by nothing, paid for all the same.  `sweep` lists the objects below the prefix and
removes those that no asset row names and that are older than `older_than` (younger ones may be
uploads whose commit is still to come).  Objects set aside by a replace or delete in flight
(`object_storage.SET_ASIDE`), and multipart uploads never completed, belong to a live request unless
they are older than `staging.STALE_SECONDS` as well.  The prefix is skyfleet's alone: whatever else
is in it goes too.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from ..core.errors import SyncError
from ..core.staging import STALE_SECONDS
from ..models import Asset

if TYPE_CHECKING:
    from ..core.object_storage import S3Storage, StoredObject

_BATCH = 500


@dataclass
class SweepReport:
    removed: list = field(default_factory=list)   # StoredObject, removed (or, in a dry run, to remove)
    failed: list = field(default_factory=list)    # (StoredObject, why)
    aborted_uploads: int = 0
    kept_young: int = 0                           # orphans too young to tell from an upload in flight

    @property
    def bytes(self) -> int:
        return sum(o.size for o in self.removed)


def sweep(sessions: sessionmaker, storage: S3Storage, *, older_than: dt.timedelta, now: dt.datetime,
          dry_run: bool = False) -> SweepReport:
    """Remove (or list, `dry_run`) the orphans older than `older_than` at `now` (aware, UTC)."""
    report = SweepReport()
    live_cutoff = now - max(older_than, dt.timedelta(seconds=STALE_SECONDS))
    cutoff = now - older_than
    batch: list = []
    for obj in storage.objects():
        if obj.set_aside:
            if obj.modified < live_cutoff:
                _remove(storage, obj, report, dry_run)
            continue
        batch.append(obj)
        if len(batch) >= _BATCH:
            _sweep_batch(sessions, storage, batch, cutoff, report, dry_run)
            batch = []
    if batch:
        _sweep_batch(sessions, storage, batch, cutoff, report, dry_run)
    for key, upload_id, started in storage.unfinished_uploads():
        if started < live_cutoff:
            if not dry_run:
                storage.abort_upload(key, upload_id)
            report.aborted_uploads += 1
    return report


def _sweep_batch(sessions: sessionmaker, storage: S3Storage, batch: list, cutoff: dt.datetime,
                 report: SweepReport, dry_run: bool) -> None:
    with sessions() as session:
        named = set(session.scalars(select(Asset.filename).where(Asset.filename.in_([o.rel for o in batch]))))
    for obj in batch:
        if obj.rel in named:
            continue
        if obj.modified >= cutoff:
            report.kept_young += 1
            continue
        _remove(storage, obj, report, dry_run)


def _remove(storage: S3Storage, obj: StoredObject, report: SweepReport, dry_run: bool) -> None:
    if not dry_run:
        try:
            storage.remove(obj)
        except SyncError as exc:
            report.failed.append((obj, exc.message))
            return
    report.removed.append(obj)
