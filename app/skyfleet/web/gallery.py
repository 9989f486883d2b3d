"""The queries of the loop (a camera's last N images) and of the gallery (a month of nights at a glance).

Both read thumbnails only and stay index-bound with 100k images: the loop is one descending range scan
on (camera, kind, create_date_utc) that stops after N rows; a gallery page is one month: one statement
finds its nights and, inside the database, probes each for its best frame.  The best frame is the one
with the most stars (the (camera, kind, day_date, night, stars) index); when no frame of the night
counted any, the first from local midnight on.  Nothing here imports Flask.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Optional

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from ..models import Asset
from . import queries
from .queries import GRID_COLUMNS

LOOP_DEFAULT, LOOP_MAX = 60, 300
GALLERY_PRODUCTS = ("keogram", "startrail", "video")


def loop_frames(session: Session, camera_id: int, count: int) -> tuple:
    """(the last `count` images oldest first, their thumbnails: uuid -> file name)."""
    rows = session.execute(select(*GRID_COLUMNS).where(
        Asset.camera_id == camera_id, Asset.kind == queries.IMAGE, Asset.filename.is_not(None))
        .order_by(Asset.create_date_utc.desc(), Asset.id.desc()).limit(count)).all()[::-1]
    return rows, queries.thumbnails(session, camera_id, rows)


@dataclass
class GalleryNight:
    day: dt.date
    best: Optional[object] = None                  # a GRID_COLUMNS row
    products: dict = field(default_factory=dict)   # kind -> Asset


def month_nights(session: Session, camera_id: int, utc_offset: int, month: dt.date,
                 following: dt.date) -> tuple:
    """(nights of [month, following) with images or products, newest first; thumbnails: uuid -> file)."""
    in_month = (Asset.camera_id == camera_id, Asset.night.is_(True), Asset.day_date >= month,
                Asset.day_date < following)
    days = select(Asset.day_date).where(*in_month, Asset.kind == queries.IMAGE).distinct().subquery()
    starred = aliased(Asset)
    most_stars = select(starred.id).where(
        starred.camera_id == camera_id, starred.kind == queries.IMAGE, starred.day_date == days.c.day_date,
        starred.night.is_(True), starred.stars > 0, starred.filename.is_not(None)) \
        .order_by(starred.stars.desc()).limit(1).scalar_subquery()
    best_ids = dict(session.execute(select(days.c.day_date, most_stars)).all())
    rows = {r.id: r for r in session.execute(select(*GRID_COLUMNS).where(Asset.id.in_(
        [i for i in best_ids.values() if i is not None])))} if any(best_ids.values()) else {}
    nights = {}
    for day, best_id in best_ids.items():
        best = rows.get(best_id) if best_id is not None else _nearest_midnight(session, camera_id, utc_offset, day)
        if best is not None:
            nights[day] = GalleryNight(day, best=best)
    for product in session.scalars(select(Asset).where(
            *in_month, Asset.kind.in_(GALLERY_PRODUCTS), Asset.filename.is_not(None))
            .order_by(Asset.create_date_utc, Asset.id)):
        nights.setdefault(product.day_date, GalleryNight(product.day_date)).products[product.kind] = product
    shown = [n.best for n in nights.values() if n.best is not None]
    shown += [p for n in nights.values() for p in n.products.values()]
    return sorted(nights.values(), key=lambda n: n.day, reverse=True), queries.thumbnails(session, camera_id, shown)


def _nearest_midnight(session: Session, camera_id: int, utc_offset: int, day: dt.date):
    """The night's first frame from local midnight on, else its last before: two index probes at most."""
    midnight_utc = dt.datetime.combine(day + dt.timedelta(days=1), dt.time()) - dt.timedelta(seconds=utc_offset)
    where = (queries.in_night(camera_id, queries.IMAGE, day, True), Asset.filename.is_not(None))
    after = session.execute(select(*GRID_COLUMNS).where(*where, Asset.create_date_utc >= midnight_utc)
                            .order_by(Asset.create_date_utc, Asset.id).limit(1)).first()
    if after is not None:
        return after
    return session.execute(select(*GRID_COLUMNS).where(*where).order_by(
        Asset.create_date_utc.desc(), Asset.id.desc()).limit(1)).first()
