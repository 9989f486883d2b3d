"""The database queries of the pages, each one cheap on a camera with 100k images.

Grids page with a keyset on (create_date_utc, id): a page is an index range scan that stops after
`limit` rows, however deep into a night it is.  Night lists group on the (camera, kind, day_date,
night) index without touching the table.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Iterable, Optional, Sequence

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from ..models import Asset, Camera

IMAGE = "image"
GRID_KINDS = ("image", "panoramaimage")
PRODUCT_KINDS = ("keogram", "startrail", "video", "startrailvideo", "panoramavideo", "minivideo")
PAGE_SIZE = 120
# A night's local times lie within [D 12:00, D+1 12:00), a day's within [D, D+1); UTC offsets span
# -12 h to +14 h.  This generous UTC window lets the (camera, kind, create_date_utc) index bound a scan.
_WINDOW_BEFORE = dt.timedelta(hours=14)
_WINDOW_AFTER = dt.timedelta(hours=12)


def cameras(session: Session, include_hidden: bool = False) -> list:
    query = select(Camera).order_by(Camera.name, Camera.id)
    if not include_hidden:
        query = query.where(Camera.hidden.is_(False))
    return list(session.scalars(query))


def camera(session: Session, camera_id: int, include_hidden: bool = False) -> Optional[Camera]:
    cam = session.get(Camera, camera_id)
    if cam is None or (cam.hidden and not include_hidden):
        return None
    return cam


def latest(session: Session, camera_id: int, kind: str = IMAGE) -> Optional[Asset]:
    return session.scalar(
        select(Asset).where(Asset.camera_id == camera_id, Asset.kind == kind, Asset.filename.is_not(None))
        .order_by(Asset.create_date_utc.desc(), Asset.id.desc()).limit(1))


def asset(session: Session, camera_id: int, asset_id: int) -> Optional[Asset]:
    found = session.get(Asset, asset_id)
    return found if found is not None and found.camera_id == camera_id else None


def thumbnails(session: Session, camera_id: int, assets: Iterable) -> dict:
    """thumbnail uuid -> file name of that thumbnail, for the assets that name one (one query)."""
    uuids = sorted({a.thumbnail_uuid for a in assets if a.thumbnail_uuid})
    if not uuids:
        return {}
    rows = session.execute(select(Asset.natural_key, Asset.filename).where(
        Asset.camera_id == camera_id, Asset.kind == "thumbnail", Asset.natural_key.in_(uuids),
        Asset.filename.is_not(None)))
    return dict(rows.all())


def night_window(day: dt.date, night: bool) -> tuple:
    start = dt.datetime.combine(day, dt.time(12 if night else 0))
    return start - _WINDOW_BEFORE, start + dt.timedelta(days=1) + _WINDOW_AFTER


def in_night(camera_id: int, kind: str, day: dt.date, night: bool):
    lo, hi = night_window(day, night)
    return and_(Asset.camera_id == camera_id, Asset.kind == kind, Asset.day_date == day, Asset.night == night,
                Asset.create_date_utc >= lo, Asset.create_date_utc < hi)


def _after(t: dt.datetime, i: int):
    return and_(Asset.create_date_utc >= t, or_(Asset.create_date_utc > t, Asset.id > i))


def _before(t: dt.datetime, i: int):
    return and_(Asset.create_date_utc <= t, or_(Asset.create_date_utc < t, Asset.id < i))


_ASC = (Asset.create_date_utc.asc(), Asset.id.asc())
# What a grid cell needs: plain rows, not ORM objects (ten times cheaper for a page of 120).
GRID_COLUMNS = (Asset.id, Asset.kind, Asset.create_date, Asset.create_date_utc, Asset.exposure, Asset.filename,
                Asset.thumbnail_uuid, Asset.width, Asset.height)
_DESC = (Asset.create_date_utc.desc(), Asset.id.desc())


@dataclass
class Page:
    items: list
    prev_id: Optional[int] = None   # "before=<id>" shows the page before this one
    next_id: Optional[int] = None   # "after=<id>" shows the page after this one


def night_page(session: Session, camera_id: int, kind: str, day: dt.date, night: bool, *,
               after: Optional[int] = None, before: Optional[int] = None, last: bool = False,
               limit: int = PAGE_SIZE) -> Page:
    """One page of a night's images in time order; `after`/`before` are ids of the neighbouring page's edge."""
    where = in_night(camera_id, kind, day, night)
    anchor_id = after if after is not None else before
    if anchor_id is not None:
        anchor = session.scalar(select(Asset.create_date_utc).where(
            Asset.id == anchor_id, Asset.camera_id == camera_id, Asset.kind == kind))
        if anchor is None:
            after = before = None
            anchor_id = None
    if after is not None:
        rows = session.execute(select(*GRID_COLUMNS).where(where, _after(anchor, after))
                               .order_by(*_ASC).limit(limit + 1)).all()
        more = len(rows) > limit
        rows = rows[:limit]
        return Page(rows, prev_id=rows[0].id if rows else after, next_id=rows[-1].id if more else None)
    if before is not None or last:
        query = select(*GRID_COLUMNS).where(where)
        if before is not None:
            query = query.where(_before(anchor, before))
        rows = session.execute(query.order_by(*_DESC).limit(limit + 1)).all()
        more = len(rows) > limit
        rows = rows[:limit][::-1]
        nxt = rows[-1].id if rows and before is not None else None
        return Page(rows, prev_id=rows[0].id if more else None, next_id=nxt)
    rows = session.execute(select(*GRID_COLUMNS).where(where).order_by(*_ASC).limit(limit + 1)).all()
    more = len(rows) > limit
    rows = rows[:limit]
    return Page(rows, next_id=rows[-1].id if more else None)


def night_count(session: Session, camera_id: int, kind: str, day: dt.date, night: bool) -> int:
    return session.scalar(select(func.count()).select_from(Asset).where(
        Asset.camera_id == camera_id, Asset.kind == kind, Asset.day_date == day, Asset.night == night)) or 0


def neighbours(session: Session, current: Asset) -> tuple:
    """(previous, next) asset of the same kind in the same night, or None at either end."""
    where = in_night(current.camera_id, current.kind, current.day_date, current.night)
    t, i = current.create_date_utc, current.id
    prev = session.scalar(select(Asset).where(where, _before(t, i)).order_by(*_DESC).limit(1))
    nxt = session.scalar(select(Asset).where(where, _after(t, i)).order_by(*_ASC).limit(1))
    return prev, nxt


def position(session: Session, current: Asset) -> int:
    """1-based position of an asset in its night (index-only count)."""
    where = in_night(current.camera_id, current.kind, current.day_date, current.night)
    return (session.scalar(select(func.count()).select_from(Asset).where(
        where, _before(current.create_date_utc, current.id))) or 0) + 1


def products(session: Session, camera_id: int, day: dt.date, night: bool) -> dict:
    """kind -> assets with a file (keogram, star trail, timelapse, mini videos, ...) of one night."""
    rows = session.scalars(select(Asset).where(
        Asset.camera_id == camera_id, Asset.kind.in_(PRODUCT_KINDS), Asset.day_date == day,
        Asset.night == night, Asset.filename.is_not(None)).order_by(Asset.create_date_utc, Asset.id))
    out: dict = {}
    for row in rows:
        out.setdefault(row.kind, []).append(row)
    return out


def day_date_range(session: Session, camera_id: int) -> tuple:
    """(first, last) dayDate with any image or night product, or (None, None).

    One SELECT of scalar subqueries, each a single min() or max() on the (camera, kind, day_date)
    index prefix: an index probe each, where min() and max() in one SELECT would scan every image.
    """
    subqueries = []
    for kind in (IMAGE,) + PRODUCT_KINDS:
        where = (Asset.camera_id == camera_id, Asset.kind == kind)
        subqueries.append(select(func.min(Asset.day_date)).where(*where).scalar_subquery())
        subqueries.append(select(func.max(Asset.day_date)).where(*where).scalar_subquery())
    values = session.execute(select(*subqueries)).one()
    lows = [v for v in values[0::2] if v is not None]
    highs = [v for v in values[1::2] if v is not None]
    return (min(lows), max(highs)) if lows else (None, None)


@dataclass
class NightSummary:
    day: dt.date
    night: bool
    images: int = 0
    kinds: set = field(default_factory=set)


def nights(session: Session, camera_id: int, start: dt.date, end: dt.date) -> list:
    """Nights (and days) with images or products in [start, end), newest first."""
    found: dict = {}
    for day, night, n in session.execute(
            select(Asset.day_date, Asset.night, func.count()).where(
                Asset.camera_id == camera_id, Asset.kind == IMAGE, Asset.day_date >= start, Asset.day_date < end)
            .group_by(Asset.day_date, Asset.night)):
        found[(day, night)] = NightSummary(day, bool(night), images=n)
    for day, night, kind in session.execute(
            select(Asset.day_date, Asset.night, Asset.kind).where(
                Asset.camera_id == camera_id, Asset.kind.in_(PRODUCT_KINDS), Asset.day_date >= start,
                Asset.day_date < end).distinct()):
        found.setdefault((day, night), NightSummary(day, bool(night))).kinds.add(kind)
    return sorted(found.values(), key=lambda s: (s.day, s.night), reverse=True)


CHART_COLUMNS = ("exposure", "gain", "adu", "temp", "stars", "sqm", "moonphase", "detections")


def chart_rows(session: Session, camera_id: int, day: dt.date, night: bool) -> list:
    """(local time, utc offset, *CHART_COLUMNS) of a night's images."""
    cols = [getattr(Asset, c) for c in CHART_COLUMNS]
    return list(session.execute(select(Asset.create_date, Asset.utc_offset, *cols).where(
        in_night(camera_id, IMAGE, day, night)).order_by(*_ASC)))


@dataclass
class CameraSync:
    camera: Camera
    counts: dict = field(default_factory=dict)  # kind -> count
    last_upload: Optional[dt.datetime] = None
    last_asset: Optional[dt.datetime] = None


def sync_status(session: Session, all_cameras: Sequence[Camera]) -> list:
    """Per camera: assets per kind, when the last one arrived and how new the newest is."""
    by_id = {c.id: CameraSync(c) for c in all_cameras}
    for cid, kind, n, uploaded, created in session.execute(
            select(Asset.camera_id, Asset.kind, func.count(), func.max(Asset.uploaded_at),
                   func.max(Asset.create_date_utc)).group_by(Asset.camera_id, Asset.kind)):
        entry = by_id.get(cid)
        if entry is None:
            continue
        entry.counts[kind] = n
        entry.last_upload = max(filter(None, (entry.last_upload, uploaded)), default=None)
        entry.last_asset = max(filter(None, (entry.last_asset, created)), default=None)
    return list(by_id.values())


def adjacent_nights(session: Session, camera_id: int, day: dt.date, night: bool) -> tuple:
    """The dayDate of the previous and the next night (or day) with images, or None."""
    same = and_(Asset.camera_id == camera_id, Asset.kind == IMAGE, Asset.night == night)
    prev = session.scalar(select(Asset.day_date).where(same, Asset.day_date < day)
                          .order_by(Asset.day_date.desc()).limit(1))
    nxt = session.scalar(select(Asset.day_date).where(same, Asset.day_date > day)
                         .order_by(Asset.day_date.asc()).limit(1))
    return prev, nxt
