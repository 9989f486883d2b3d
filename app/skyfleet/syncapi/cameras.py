"""Camera upsert by uuid: the first sync creates the camera, later ones update it.

Only `uuid` is strict.  Every other key is read tolerantly (core/fields.py): a value that fits its column
is stored, one that does not is kept under data["_received"] (replaced on each sync), and keys without
a column are kept under data["camera"], as indi-allsky sends many.
"""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..core import metadata as md
from ..core.fields import RECEIVED, Fields, storable_text, to_utc_offset
from ..models import Camera, utcnow

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


def upsert(session: Session, meta: dict) -> Camera:
    camera_uuid = md.uuid(meta, "uuid", required=True)
    fields = Fields(meta)
    fields.seen.update(("uuid", "utc_offset", *_COLUMNS, *(a for aliases in _FLOATS.values() for a in aliases)))
    camera = session.scalar(select(Camera).where(Camera.uuid == camera_uuid))
    if camera is None:
        camera = Camera(uuid=camera_uuid, name=f"camera {camera_uuid}", data={}, utc_offset=0)
        session.add(camera)
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
    return camera


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


def find(session: Session, camera_uuid: str | None = None, camera_id: int | None = None) -> Camera | None:
    """By uuid, by id, or by both (then both must match)."""
    query = select(Camera)
    if camera_uuid is not None:
        query = query.where(Camera.uuid == camera_uuid)
    if camera_id is not None:
        query = query.where(Camera.id == camera_id)
    return session.scalar(query)
