"""Which stored file a stable "latest" URL stands for: the newest of a kind, of all time or of tonight.

A night carries the date of its evening and runs from local noon to the next local noon (as indi-allsky's
dayDate does), so "tonight" at 03:00 is the night that began yesterday evening, and from noon on it is
the coming night, which has nothing until dusk.  Each answer is one index probe on (camera, kind,
create_date_utc); nothing here imports Flask.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Optional

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from ..models import Asset, Camera
from . import queries

# The names in the URL -> the asset kind they show.  A thumbnail is that of the newest image that has one.
KINDS = {"image": "image", "thumbnail": "image", "keogram": "keogram", "startrail": "startrail",
         "timelapse": "video"}
NIGHT_STARTS_AT_LOCAL_HOUR = 12


@dataclass(frozen=True)
class Choice:
    asset: Asset        # what the URL is about (for a thumbnail: its image)
    filename: str       # the stored file to send


def find_camera(session: Session, ref: str, include_hidden: bool) -> Optional[Camera]:
    """A camera by its name when exactly one visible camera has it, else by its numeric id."""
    query = select(Camera).where(Camera.name == ref)
    if not include_hidden:
        query = query.where(Camera.hidden.is_(False))
    named = list(session.scalars(query.limit(2)))
    if len(named) == 1:
        return named[0]
    if ref.isdigit() and len(ref) < 12:
        return queries.camera(session, int(ref), include_hidden)
    return None


def tonight(now_utc: dt.datetime, utc_offset_seconds: int) -> dt.date:
    """The dayDate of the night a camera with this UTC offset is in, or is waiting for, at `now_utc`."""
    local = now_utc + dt.timedelta(seconds=utc_offset_seconds)
    return (local - dt.timedelta(hours=NIGHT_STARTS_AT_LOCAL_HOUR)).date()


def newest(session: Session, camera: Camera, name: str, night_of: Optional[dt.date] = None) -> Optional[Choice]:
    """The newest file for KINDS[name], of the night `night_of` when given."""
    kind = KINDS[name]
    where = [Asset.camera_id == camera.id, Asset.kind == kind, Asset.filename.is_not(None)]
    if night_of is not None:
        where.append(queries.in_night(camera.id, kind, night_of, True))
    newest_first = (Asset.create_date_utc.desc(), Asset.id.desc())
    if name != "thumbnail":
        found = session.scalar(select(Asset).where(*where).order_by(*newest_first).limit(1))
        return Choice(found, found.filename) if found is not None else None
    thumb = aliased(Asset)
    row = session.execute(
        select(Asset, thumb.filename)
        .join(thumb, (thumb.camera_id == Asset.camera_id) & (thumb.kind == "thumbnail")
              & (thumb.natural_key == Asset.thumbnail_uuid) & thumb.filename.is_not(None))
        .where(*where).order_by(*newest_first).limit(1)).first()
    return Choice(row[0], row[1]) if row is not None else None
