"""What the storage holds: assets and bytes per camera, kind and month (of the night's date)."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..models import Asset, Camera


@dataclass(frozen=True)
class UsageRow:
    camera: str
    kind: str
    month: str  # YYYY-MM of the night's date
    assets: int
    bytes: int


def _month(session: Session):
    if session.get_bind().dialect.name == "sqlite":
        return func.strftime("%Y-%m", Asset.day_date)
    return func.to_char(Asset.day_date, "YYYY-MM")


def by_camera_kind_month(session: Session) -> list:
    month = _month(session).label("month")
    rows = session.execute(
        select(Camera.name, Asset.kind, month, func.count(Asset.id), func.coalesce(func.sum(Asset.file_size), 0))
        .join(Camera, Camera.id == Asset.camera_id)
        .group_by(Camera.name, Asset.kind, month).order_by(Camera.name, month, Asset.kind)).all()
    return [UsageRow(name, kind, m, int(n), int(size)) for name, kind, m, n, size in rows]


def by_camera(session: Session) -> dict:
    """Camera name -> (assets, bytes)."""
    rows = session.execute(
        select(Camera.name, func.count(Asset.id), func.coalesce(func.sum(Asset.file_size), 0))
        .join(Asset, Asset.camera_id == Camera.id).group_by(Camera.name).order_by(Camera.name)).all()
    return {name: (int(n), int(size)) for name, n, size in rows}
