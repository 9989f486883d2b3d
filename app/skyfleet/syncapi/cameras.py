"""Camera upsert by uuid, and who may change a camera.

Upsert: the first sync creates the camera, later ones update it.  Only `uuid` is strict.  Every other
key is read tolerantly (core/fields.py): a value that fits its column is stored, one that does not is
kept under data["_received"] (replaced on each sync), and keys without a column are kept under
data["camera"], as indi-allsky sends many.

Ownership: a camera belongs to the SyncAPI account that registered it (`Camera.registered_by_id`).
Only that account and admins may sync the camera, add, replace or delete its assets, or read them
through the SyncAPI; another account gets 403 `not_camera_owner`.  A camera without an owner and
without assets (registered before owners existed and never uploaded to) is claimed by the next
account that syncs it (POST/PUT /sync/v1/camera).  One with assets is never claimed: that is this
host's own camera (recorded locally, no uploader) or one whose account was deleted, and its images
must not pass to whoever syncs its (public) uuid first; the operator hands it over.  Until then anyone
may read an unowned camera, admins may write its assets, and other accounts get 403
`camera_unclaimed`.  `skyfleet camera
owner` hands a camera to another account.
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import bindparam, exists, select, update
from sqlalchemy.orm import Session

from ..core import metadata as md
from ..core.errors import Forbidden
from ..core.fields import RECEIVED, Fields, storable_text, to_utc_offset
from ..models import Asset, Camera, User, utcnow

NOT_OWNER = "not_camera_owner"
UNCLAIMED = "camera_unclaimed"

# indi-allsky keys that are never copied from a client (protocol section 2.3, camera).
_IGNORED = {"id", "name_alt1", "name_alt2", "type", "local", "sync_id", "friendlyName", "filename",
            "s3_key", "remote_url", "hidden", "file_size", "web_nonlocal_images", "web_local_images_admin",
            "camera_uuid"}
_COLUMNS = ("driver", "tz", "location", "owner", "width", "height")
_FLOATS = {
    "latitude": ("latitude", "lat"),
    "longitude": ("longitude", "lon", "long"),
    "elevation": ("elevation", "elev"),
}
EXTRAS = "camera"


@dataclass
class Synced:
    camera: Camera
    claimed: bool  # the camera had no owner and is now the syncing account's


def upsert(session: Session, meta: dict, user: User) -> Synced:
    """Create or update the camera for `user`: a new camera becomes the user's, an existing one must be
    the user's (or the user an admin, or the camera without owner, which `user` then claims)."""
    camera_uuid = md.uuid(meta, "uuid", required=True)
    fields = Fields(meta)
    fields.seen.update(("uuid", "utc_offset", *_COLUMNS, *(a for aliases in _FLOATS.values() for a in aliases)))
    camera = session.scalar(select(Camera).where(Camera.uuid == camera_uuid))
    claimed = False
    if camera is None:
        camera = Camera(uuid=camera_uuid, name=f"camera {camera_uuid}", data={}, utc_offset=0,
                        registered_by_id=user.id)
        session.add(camera)
    else:
        claimed = authorize(session, camera, user, "PUT", claim=True)
    camera.name = _name(fields, camera.name)
    table = Camera.__table__
    for key in _COLUMNS:
        if meta.get(key) is not None:
            value = fields.column(table.c[key])
            if value is not None:
                setattr(camera, key, value)
    for column, aliases in _FLOATS.items():
        for alias in aliases:
            if meta.get(alias) is not None:
                value = fields.column(table.c[column], alias)
                if value is not None:
                    setattr(camera, column, value)
                break
    if meta.get("utc_offset") is not None:
        offset = fields.get("utc_offset", to_utc_offset)
        if offset is not None:
            camera.utc_offset = offset
    merged = dict(camera.data or {})
    merged.update(fields.data())
    extras = Fields({k: v for k, v in meta.items() if k not in fields.seen and k not in _IGNORED})
    extras.keep_unread(())
    if extras.received:
        merged[EXTRAS] = extras.received
    merged.pop(RECEIVED, None)  # what the previous sync could not store
    camera.data = fields.with_received(merged)
    camera.connect_date = utcnow()
    return Synced(camera, claimed)


def _name(fields: Fields, current: str) -> str:
    """The sent name; cut to the column's length (the whole name is kept), or the current one if unusable."""
    value = fields.meta.get("name")
    fields.seen.add("name")
    limit = Camera.__table__.c.name.type.length
    if isinstance(value, str) and value.strip() and storable_text(value):
        if len(value) > limit:
            fields.keep("name", value)
        return value[:limit]
    if value is not None:
        fields.keep("name", value)
    return current


_CAMERA_BY_UUID = select(Camera).where(Camera.uuid == bindparam("uuid"))  # every upload's: built once


def find(session: Session, camera_uuid: str | None = None, camera_id: int | None = None) -> Camera | None:
    """By uuid, by id, or by both (then both must match)."""
    if camera_id is None and camera_uuid is not None:
        return session.scalar(_CAMERA_BY_UUID, {"uuid": camera_uuid})
    query = select(Camera)
    if camera_uuid is not None:
        query = query.where(Camera.uuid == camera_uuid)
    if camera_id is not None:
        query = query.where(Camera.id == camera_id)
    return session.scalar(query)


def authorize(session: Session, camera: Camera, user: User, method: str, *, claim: bool = False) -> bool:
    """Raise Forbidden (403) unless `user` may do `method` on `camera` or its assets.

    With `claim` (the request syncs the camera itself) a camera without owner and without assets
    becomes the user's: one conditional UPDATE, so of two accounts claiming at once exactly one wins
    and the other is refused.  Returns whether this call claimed the camera."""
    if claim and camera.registered_by_id is None:
        has_assets = exists().where(Asset.camera_id == Camera.id)
        won = session.execute(update(Camera).where(Camera.id == camera.id, Camera.registered_by_id.is_(None),
                                                   ~has_assets)
                              .values(registered_by_id=user.id)
                              .execution_options(synchronize_session=False)).rowcount == 1
        session.refresh(camera, ["registered_by_id"])
        if won:
            return True
    refusal = _refusal(camera, user, method)
    if refusal is not None:
        raise _forbidden(session, camera, user, method, refusal)
    return False


def may(camera: Camera, user: User, method: str) -> bool:
    return _refusal(camera, user, method) is None


def _refusal(camera: Camera, user: User, method: str) -> str | None:
    if user.is_admin or camera.registered_by_id == user.id:
        return None
    if camera.registered_by_id is None:
        return None if method == "GET" else UNCLAIMED
    return NOT_OWNER


def _forbidden(session: Session, camera: Camera, user: User, method: str, code: str) -> Forbidden:
    if code == UNCLAIMED:
        message = (f"camera {camera.uuid} has no owner: sync the camera (PUT /sync/v1/camera) to register "
                   "it to this account, then retry; a camera that already has images is handed over only "
                   "by the server's operator (skyfleet camera owner)")
        owner = "no one"
    else:
        action = "read" if method == "GET" else "change"
        message = (f"camera {camera.uuid} is registered to another account: only that account or an admin "
                   f"may {action} it or its assets (the server's operator can hand it over)")
        holder = session.get(User, camera.registered_by_id)
        owner = holder.username if holder is not None else f"user id {camera.registered_by_id}"
    # The client is not told who owns the camera; the operator's log says it.
    return Forbidden(message, code=code, log_detail=f"user {user.username} may not {method} camera "
                                                    f"{camera.uuid} (id {camera.id}), registered to {owner}")
