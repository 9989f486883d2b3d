"""What each SyncAPI method does with a validated request (no Flask here).

POST adds and never overwrites; PUT adds or overwrites; a repeated identical upload answers with the
existing id (indi-allsky answers file_exists forever once a reply was lost).  The row and its file are
written by `core.recording.save` (atomic placement before the commit; on failure the file is removed
again and an overwritten file restored); what is the server's own is here: the staged upload (its type
checked against the kind and its first bytes, `core.media_types`), the duplicate and conflict
decisions, a free name, PUT's replacement, who uploaded it.

What the server keeps (`Keeping`): an upload of an asset this server does not keep (older than its
retention, or of a night it already pruned, `housekeeping.expiry`) is refused with 410 asset_expired,
and a lookup of such an asset that is not here answers the same instead of 404, so the camera host
marks it done and never sends it again.  Below the free-space floor an upload first makes room
(`Pruner.make_room`, the floor rules); a placement that still finds the disk full makes room once
more and is tried once more before the 507.
"""
from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import Optional

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from ..core import media_types, recording
from ..core import metadata as md
from ..core.assets import AssetKind, AssetRecord, build_record, lookup_key
from ..core.errors import Conflict, Expired, InvalidMetadata, NotFound, StorageFull
from ..core.storage import Storage
from ..housekeeping.expiry import expired_reason
from ..housekeeping.policy import RetentionPolicy
from ..housekeeping.prune import Pruner
from ..models import Asset, Camera, User
from .multipart import StagedMedia

_MIB = 1024 * 1024
_PRODUCT_ORIGIN = 4  # a keogram's type code: the origin of a product's thumbnail (policy.class_of)


@dataclass
class Keeping:
    """What this server keeps: its retention policy on the server's date `today`, and the pruner that
    makes room when free space is below the floor (None: uploads never prune)."""
    policy: RetentionPolicy
    today: dt.date
    pruner: Optional[Pruner] = None
    log: logging.Logger = field(default_factory=lambda: logging.getLogger(__name__))

    def reason(self, session: Session, camera: Camera, kind: str, day: dt.date, night: bool,
               origin: Optional[int]) -> Optional[str]:
        return expired_reason(session, self.policy, camera, kind, day, night, origin, self.today)

    def refuse_expired(self, session: Session, camera: Camera, kind: AssetKind, record: AssetRecord) -> None:
        """Expired (410) when the asset of this upload is not kept here."""
        cols = record.columns
        why = self.reason(session, camera, kind.segment, cols["day_date"], bool(cols["night"]), cols.get("origin"))
        if why is not None:
            raise Expired(f"not stored: {why}",
                          log_detail=f"{kind.segment} {record.natural_key} of camera {camera.uuid}: {why}")

    def lookup_expired(self, session: Session, camera: Camera, kind: AssetKind, meta: dict) -> Optional[str]:
        """Why an asset that a lookup did not find was expired here; None when it was not (or the
        lookup does not name its night: dayDate and night)."""
        if meta.get("dayDate") is None or meta.get("night") is None:
            return None
        try:
            day = md.day_date(meta)
            night = bool(md.flag(meta, "night", required=True))
        except InvalidMetadata:
            return None
        if kind.segment != "thumbnail":
            return self.reason(session, camera, kind.segment, day, night, None)
        origin = meta.get("origin")
        if isinstance(origin, int) and not isinstance(origin, bool):
            return self.reason(session, camera, kind.segment, day, night, origin)
        # A lookup without the origin: expired only if it is as a frame's and as a product's thumbnail.
        as_frame = self.reason(session, camera, kind.segment, day, night, None)
        as_product = self.reason(session, camera, kind.segment, day, night, _PRODUCT_ORIGIN)
        return as_frame if as_frame is not None and as_product is not None else None

    def due(self) -> bool:
        if self.pruner is None:
            return False
        try:
            return self.pruner.due()
        except OSError as exc:
            self.log.warning("syncapi: free space of the storage folder unknown: %s", exc)
            return False

    def make_room(self, why: str) -> None:
        """Prune by the floor rules at once (or leave it to the prune already running), and say so."""
        if self.pruner is None:
            return
        try:
            report = self.pruner.make_room()
        except Exception:  # the upload goes on; if the disk is really full it is a 507, never a 500
            self.log.exception("syncapi: making room (%s) failed", why)
            return
        if report.busy:
            self.log.warning("syncapi: %s; another prune is making room already", why)
            return
        after = report.disk_after
        free = f"{after.free_bytes / _MIB:.1f} MiB free" if after is not None else "free space unknown"
        still = " (still below the floor)" if after is not None and after.below(self.policy.floor) else ""
        self.log.warning("syncapi: %s: pruned %d night(s), %d asset(s), %d bytes; %s%s", why, len(report.nights),
                         report.assets, report.bytes, free, still)


@dataclass
class Result:
    asset: Asset
    created: bool


def reply(asset: Asset) -> dict:
    return {"id": asset.id, "url": Storage.url(asset.filename)}


def store(session: Session, storage: Storage, kind: AssetKind, meta: dict, camera: Camera,
          staged: StagedMedia, user: User, *, overwrite: bool, keeping: Optional[Keeping] = None) -> Result:
    """Store the staged upload; with `keeping`: refuse what this server does not keep (410), make room
    below the floor first, and after a full disk make room and try the placement once more."""
    try:
        record = build_record(kind, meta, camera)
        ext = _checked_extension(kind, staged)
        if keeping is None:
            return _store(session, storage, kind, camera, record, ext, staged, user, overwrite)
        keeping.refuse_expired(session, camera, kind, record)
        if keeping.due():
            keeping.make_room(f"storage below the floor before storing a {kind.segment}")
            keeping.refuse_expired(session, camera, kind, record)  # the prune may have taken its night
        try:
            return _store(session, storage, kind, camera, record, ext, staged, user, overwrite)
        except StorageFull as exc:
            keeping.make_room(f"storage full placing a {kind.segment} ({exc.log_detail})")
        keeping.refuse_expired(session, camera, kind, record)
        try:
            result = _store(session, storage, kind, camera, record, ext, staged, user, overwrite)
        except StorageFull as exc:
            keeping.log.error("syncapi: storage still full after making room; %s %s of camera %s not stored: %s",
                              kind.segment, record.natural_key, camera.uuid, exc.log_detail)
            raise
        keeping.log.warning("syncapi: %s %s of camera %s stored at the second try, after making room",
                            kind.segment, record.natural_key, camera.uuid)
        return result
    except BaseException:
        staged.discard()
        raise


def _store(session: Session, storage: Storage, kind: AssetKind, camera: Camera, record: AssetRecord, ext: str,
           staged: StagedMedia, user: User, overwrite: bool) -> Result:
    """One try: the duplicate decision, a free name, the placement and the row (a failed placement
    leaves the staged file where it was, for another try)."""
    existing = recording.find_existing(session, camera, kind, record.natural_key)
    if existing is not None:
        if existing.file_size == staged.size and existing.sha256 == staged.sha256:
            staged.discard()
            return Result(existing, created=False)
        if not overwrite:
            staged.discard()
            raise Conflict(f"a {kind.segment} with this key already exists (id {existing.id}) with other "
                           "content; PUT replaces it", code="file_exists")
    rel = _free_name(session, record.path_stem, ext, record.natural_key, existing) if staged.size else None

    def uploaded(asset: Asset) -> None:
        asset.uploaded_by_id = user.id
        if camera.utc_offset != record.columns["utc_offset"]:
            camera.utc_offset = record.columns["utc_offset"]

    asset = recording.save(
        session, storage, kind, camera, record, existing, filename=rel, size=staged.size, sha256=staged.sha256,
        place=(lambda: staged.place(storage, rel)) if rel else None,
        replaced=existing.filename if existing is not None else None, before_flush=uploaded)
    return Result(asset, created=existing is None)


def _checked_extension(kind: AssetKind, staged: StagedMedia) -> str:
    """The extension of the file to store: one the kind takes, and the staged content must be of that
    type (checked before anything is placed; the request's staged upload is discarded by the view)."""
    if not staged.size:  # nothing is stored (indi-allsky's EMPTY_FILE); a name must still be a plain one
        return md.media_extension(staged.filename) if staged.filename else ""
    ext = kind.media_extension(staged.filename)
    media_types.check_file(ext, staged.path)
    return ext


_HOLDER_OF_NAME = select(Asset.id).where(Asset.filename == bindparam("filename"))  # every upload's: built once


def _free_name(session: Session, stem: str, ext: str, natural_key: str, existing: Asset | None) -> str:
    """The layout's name, unless another row holds it (e.g. the same local time twice across a DST change)."""
    rel = stem + ext
    holder = session.scalar(_HOLDER_OF_NAME, {"filename": rel})
    if holder is None or (existing is not None and holder == existing.id):
        return rel
    return f"{stem}_{natural_key}{ext}"


def find(session: Session, kind: AssetKind, meta: dict, camera: Camera) -> Asset:
    """By `id` (as indi-allsky's client asks), by the kind's duplicate key (createDate, dayDate + night,
    startDate + endDate, uuid), or by both, which must then name the same asset of this camera."""
    asset_id = md.whole_number(meta, "id", minimum=1)
    key = lookup_key(kind, meta)
    if asset_id is None and key is None:
        raise InvalidMetadata("GET and DELETE need 'id', or the asset's key "
                              "(createDate, dayDate + night, startDate + endDate, or uuid)",
                              code="metadata_missing_key")
    query = select(Asset).where(Asset.camera_id == camera.id, Asset.kind == kind.segment)
    if asset_id is not None:
        query = query.where(Asset.id == asset_id)
    if key is not None:
        query = query.where(Asset.natural_key == key)
    asset = session.scalar(query)
    if asset is None:
        raise NotFound(f"no {kind.segment} with that {'id' if asset_id is not None else 'key'} for this camera",
                       code="file_missing")
    return asset


def describe(asset: Asset) -> dict:
    body = reply(asset)
    body.update(file_size=asset.file_size, sha256=asset.sha256, kind=asset.kind)
    return body


def delete(session: Session, storage: Storage, asset: Asset) -> None:
    rel = asset.filename
    backup = storage.set_aside(rel) if rel else None
    try:
        session.delete(asset)
        session.commit()
    except BaseException:
        session.rollback()
        if backup is not None:
            storage.restore(backup, rel)
        raise
    if backup is not None:
        storage.drop(backup)
