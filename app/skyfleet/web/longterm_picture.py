"""The long-term keogram as one picture: a column per night, local noon to noon top to bottom.

Every image leaves five [R, G, B] pixels down its keogram line (`core.longterm_keogram`); they outlive
the images, so months fit on one picture.  A cell is BIN_MINUTES of one night: the mean colour of the
pixels of its images (the five averaged), black where no image was taken.  The web tier has no imaging
library, so the picture is a PNG written here (lossless, and small: the rows are long flat runs).
Pictures are cached per camera and range, under a key that changes with any row in the range.
"""
from __future__ import annotations

import datetime as dt
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..models import LongTermKeogram
from .latest import NIGHT_STARTS_AT_LOCAL_HOUR

BIN_MINUTES = 5
BINS = 24 * 60 // BIN_MINUTES
NIGHT_STARTS = dt.timedelta(hours=NIGHT_STARTS_AT_LOCAL_HOUR)
MAX_NIGHTS = 400
PICTURE_WIDTH = 1200  # pixels the columns share; a column is 1 to 12 pixels wide
ROW_HEIGHT = 2        # pixels per bin
CACHED_PER_CAMERA = 8


@dataclass(frozen=True)
class Span:
    first: dt.date  # first night shown
    nights: int

    @property
    def last(self) -> dt.date:
        return self.first + dt.timedelta(days=self.nights - 1)


def ts_bounds(span: Span, utc_offset: int) -> tuple:
    """Unix seconds [lo, hi) of the span's nights for a camera at this UTC offset."""
    start = dt.datetime.combine(span.first, dt.time(), tzinfo=dt.timezone.utc) + NIGHT_STARTS
    lo = int(start.timestamp()) - utc_offset
    return lo, lo + span.nights * 86400


def cache_key(session: Session, camera_id: int, span: Span, utc_offset: int) -> str:
    lo, hi = ts_bounds(span, utc_offset)
    count, newest = session.execute(select(func.count(), func.max(LongTermKeogram.id)).where(
        LongTermKeogram.camera_id == camera_id, LongTermKeogram.ts >= lo, LongTermKeogram.ts < hi)).one()
    return f"{camera_id}-{span.first:%Y%m%d}-{span.nights}-{utc_offset}-{count}-{newest or 0}"


def grid(session: Session, camera_id: int, span: Span, utc_offset: int) -> list:
    """[night][bin] -> (r, g, b) or None."""
    lo, hi = ts_bounds(span, utc_offset)
    sums = [[None] * BINS for _ in range(span.nights)]
    rows = session.execute(select(LongTermKeogram.ts, LongTermKeogram.pixels).where(
        LongTermKeogram.camera_id == camera_id, LongTermKeogram.ts >= lo, LongTermKeogram.ts < hi)
        .execution_options(yield_per=5000))
    for ts, pixels in rows:
        colour = _mean(pixels)
        if colour is None:
            continue
        offset = ts - lo
        night, second = divmod(offset, 86400)
        cell = sums[night][second // (BIN_MINUTES * 60)]
        if cell is None:
            sums[night][second // (BIN_MINUTES * 60)] = [*colour, 1]
        else:
            cell[0] += colour[0]
            cell[1] += colour[1]
            cell[2] += colour[2]
            cell[3] += 1
    return [[None if c is None else (c[0] // c[3], c[1] // c[3], c[2] // c[3]) for c in night] for night in sums]


def _mean(pixels) -> Optional[tuple]:
    """The mean of the five pixels, or None for anything that is not a list of [R, G, B] in 0-255."""
    if not isinstance(pixels, list) or not pixels:
        return None
    total = [0, 0, 0]
    for p in pixels:
        if not (isinstance(p, list) and len(p) == 3 and all(isinstance(v, int) and 0 <= v <= 255 for v in p)):
            return None
        total[0] += p[0]
        total[1] += p[1]
        total[2] += p[2]
    n = len(pixels)
    return total[0] // n, total[1] // n, total[2] // n


def column_width(nights: int) -> int:
    return max(1, min(12, PICTURE_WIDTH // max(nights, 1)))


def render(cells: list) -> bytes:
    """The PNG of a grid: nights left to right, noon at the top."""
    width = column_width(len(cells))
    rows = []
    for b in range(BINS):
        row = bytearray()
        for night in cells:
            r, g, bl = night[b] or (0, 0, 0)
            row += bytes((r, g, bl)) * width
        rows.extend([bytes(row)] * ROW_HEIGHT)
    return png(width * len(cells), BINS * ROW_HEIGHT, rows)


def png(width: int, height: int, rows: list) -> bytes:
    """An 8-bit RGB PNG of `rows` (each width * 3 bytes)."""
    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)
    raw = b"".join(b"\x00" + row for row in rows)  # filter type 0 on every row
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b"")


def cached(folder: Path, key: str, build: Callable[[], bytes]) -> Path:
    """The picture for `key`, built once; older pictures of the same camera beyond the newest few go."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{key}.png"
    if not path.exists():
        partial = folder / f".{key}.png.part"
        partial.write_bytes(build())
        partial.replace(path)
        camera = key.split("-", 1)[0]
        mine = sorted(folder.glob(f"{camera}-*.png"), key=lambda p: p.stat().st_mtime, reverse=True)
        for old in mine[CACHED_PER_CAMERA:]:
            old.unlink(missing_ok=True)
    return path
