"""The long-term keogram: five pixels per image, kept by camera and capture second (no Flask here).

Both tiers keep them: a camera host when it records a frame (and sends them with the image), a
remote when an image arrives with them.  They outlive the images, so months fit on one picture.
"""
from __future__ import annotations

from typing import Optional

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from ..models import LongTermKeogram

# a frame's row, looked up for every image recorded: built once
_ROW_AT = select(LongTermKeogram).where(LongTermKeogram.camera_id == bindparam("camera_id"),
                                        LongTermKeogram.ts == bindparam("ts"))

def keep(session: Session, camera_id: int, ts: int, pixels: list) -> None:
    """Store (or replace) the pixels of the image taken at Unix second ``ts``; the caller commits."""
    row = session.scalar(_ROW_AT, {"camera_id": camera_id, "ts": ts})
    if row is None:
        session.add(LongTermKeogram(camera_id=camera_id, ts=ts, pixels=pixels))
    else:
        row.pixels = pixels


def pixels_at(session: Session, camera_id: int, ts: int) -> Optional[list]:
    return session.scalar(select(LongTermKeogram.pixels).where(
        LongTermKeogram.camera_id == camera_id, LongTermKeogram.ts == ts))
