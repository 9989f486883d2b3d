"""What each SyncAPI method does with a validated request (no Flask here).

POST adds and never overwrites; PUT adds or overwrites; a repeated identical upload answers with the
existing id (indi-allsky answers file_exists forever once a reply was lost).  The row and its file are
written by `core.recording.save` (atomic placement before the commit; on failure the file is removed
again and an overwritten file restored); what is the server's own is here: the staged upload (its type
checked against the kind and its first bytes, `core.media_types`), the duplicate and conflict
decisions, a free name, PUT's replacement, who uploaded it.
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..core import media_types, recording
from ..core import metadata as md
from ..core.assets import AssetKind, build_record, lookup_key
from ..core.errors import Conflict, InvalidMetadata, NotFound
from ..core.storage import Storage
from ..models import Asset, Camera, User
from .multipart import StagedMedia


@dataclass
class Result:
    asset: Asset
    created: bool


def reply(asset: Asset) -> dict:
    return {"id": asset.id, "url": Storage.url(asset.filename)}


def store(session: Session, storage: Storage, kind: AssetKind, meta: dict, camera: Camera,
          staged: StagedMedia, user: User, *, overwrite: bool) -> Result:
    record = build_record(kind, meta, camera)
    ext = _checked_extension(kind, staged)
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

    try:
        asset = recording.save(
            session, storage, kind, camera, record, existing, filename=rel, size=staged.size, sha256=staged.sha256,
            place=(lambda: staged.place(storage, rel)) if rel else None,
            replaced=existing.filename if existing is not None else None, before_flush=uploaded)
    except BaseException:
        staged.discard()
        raise
    return Result(asset, created=existing is None)


def _checked_extension(kind: AssetKind, staged: StagedMedia) -> str:
    """The extension of the file to store: one the kind takes, and the staged content must be of that
    type (checked before anything is placed; the request's staged upload is discarded by the view)."""
    if not staged.size:  # nothing is stored (indi-allsky's EMPTY_FILE); a name must still be a plain one
        return md.media_extension(staged.filename) if staged.filename else ""
    ext = kind.media_extension(staged.filename)
    media_types.check_file(ext, staged.path)
    return ext


def _free_name(session: Session, stem: str, ext: str, natural_key: str, existing: Asset | None) -> str:
    """The layout's name, unless another row holds it (e.g. the same local time twice across a DST change)."""
    rel = stem + ext
    holder = session.scalar(select(Asset.id).where(Asset.filename == rel))
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
