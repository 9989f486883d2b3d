"""Camera upsert by uuid: the first sync creates the camera, later ones update it."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import Camera, utcnow
from . import metadata as md

# indi-allsky keys that are never copied from a client (protocol section 2.3, camera).
_IGNORED = {"id", "name_alt1", "name_alt2", "type", "local", "sync_id", "friendlyName", "filename",
            "s3_key", "remote_url", "hidden", "file_size", "web_nonlocal_images", "web_local_images_admin",
            "uuid", "data", "camera_uuid"}
_TEXT = ("driver", "tz", "location", "owner")
_FLOATS = {
    "latitude": ("latitude", "lat"),
    "longitude": ("longitude", "lon", "long"),
    "elevation": ("elevation", "elev"),
}


def upsert(session: Session, meta: dict) -> Camera:
    camera_uuid = md.uuid(meta, "uuid", required=True)
    name = md.text(meta, "name", required=True, max_len=128)
    camera = session.scalar(select(Camera).where(Camera.uuid == camera_uuid))
    if camera is None:
        camera = Camera(uuid=camera_uuid, name=name, data={}, utc_offset=0)
        session.add(camera)
    camera.name = name
    for key in _TEXT:
        if meta.get(key) is not None:
            setattr(camera, key, md.text(meta, key, max_len=128))
    for column, aliases in _FLOATS.items():
        for alias in aliases:
            if meta.get(alias) is not None:
                setattr(camera, column, md.number(meta, alias))
                break
    for key in ("width", "height"):
        if meta.get(key) is not None:
            setattr(camera, key, md.integer(meta, key, minimum=0))
    if meta.get("utc_offset") is not None:
        camera.utc_offset = md.utc_offset(meta, required=True)
    merged = dict(camera.data or {})
    merged.update(md.data_object(meta))
    extra = {k: v for k, v in meta.items() if k not in _IGNORED and k not in _TEXT and k != "name"
             and k not in {a for aliases in _FLOATS.values() for a in aliases}
             and k not in ("width", "height", "utc_offset")}
    if extra:
        merged["camera"] = md.data_object({"camera": extra}, "camera")
    camera.data = merged
    camera.connect_date = utcnow()
    return camera


def find(session: Session, camera_uuid: str) -> Camera | None:
    return session.scalar(select(Camera).where(Camera.uuid == camera_uuid))
