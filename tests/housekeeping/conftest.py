"""A host's storage filled with synthetic nights: real rows (recorded as the camera host records them),
real files, upload jobs delivered or not; and a clock the tests set (never the wall clock)."""
from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from flask_migrate import upgrade
from sqlalchemy import func, select, update

from skyfleet.core.storage import LocalStorage
from skyfleet.db_setup import session_factory
from skyfleet.extensions import db
from skyfleet.factory import create_app
from skyfleet.housekeeping.policy import RetentionPolicy
from skyfleet.housekeeping.prune import Pruner
from skyfleet.local_assets import local_camera, record_asset
from skyfleet.models import Asset, UploadJob
from tests.helpers import media
from tests.helpers import metadata as mdh
from tests.helpers.databases import drop_own_database, own_database_url

REMOTE = "remote"
FRAME_KINDS = ("image", "fitsimage")
PRODUCT_KINDS = ("keogram", "startrail", "video")


def evening(day: dt.date) -> int:
    """20:00 UTC of `day`: the first frame of the night that dayDate names."""
    return int(dt.datetime(day.year, day.month, day.day, 20, tzinfo=dt.timezone.utc).timestamp())


@dataclass
class Site:
    root: Path
    now: dt.datetime = dt.datetime(2026, 6, 30, 12)
    cameras: dict = field(default_factory=dict)

    def __post_init__(self):
        data = self.root / "data"
        self.database_url = own_database_url(self.root / "site.db")
        self.app = create_app({"data_dir": str(data), "database_url": self.database_url})
        with self.app.app_context():
            upgrade()
        self.sessions = session_factory(self.database_url)
        settings = self.app.extensions["skyfleet"].settings
        self.storage = LocalStorage(settings.storage_dir, settings.staging_dir)
        self.counter = 0

    def camera(self, name: str = "cam"):
        if name not in self.cameras:
            with self.sessions() as s:
                self.cameras[name] = local_camera(s, name, [REMOTE])
        return self.cameras[name]

    def add(self, kind: str, day: dt.date, *, night: bool = True, when: int | None = None, size: int = 1000,
            camera: str = "cam", delivered: bool = True, **meta) -> Asset:
        """One asset of the night `day` (its file `size` bytes), delivered to the remote or not."""
        self.counter += 1
        cam = self.camera(camera)
        when = when or evening(day) + self.counter
        src = self.root / f"in-{self.counter}{mdh.EXTENSION[kind]}"
        src.write_bytes(media.fake(src.suffix, os.urandom(max(0, size - 16))))
        with self.sessions() as s:
            m = mdh.asset(kind, when=when, camera_uuid=cam.uuid, dayDate=f"{day:%Y%m%d}", night=night, **meta)
            asset = record_asset(s, self.storage, s.merge(cam), kind, m, src, [REMOTE])
            if delivered:
                s.execute(update(UploadJob).where(UploadJob.asset_id == asset.id).values(state="done"))
                s.commit()
            return asset

    def add_night(self, day: dt.date, *, delivered: bool = True, camera: str = "cam", frames: int = 2,
                  day_frames: int = 1, fits: int = 1, products: bool = True) -> None:
        """A typical night: frames with thumbnails, day frames, FITS, and the night's products."""
        for _ in range(frames):
            thumb = self.add("thumbnail", day, camera=camera, delivered=delivered, origin=2)
            self.add("image", day, camera=camera, delivered=delivered, thumbnail_uuid=thumb.uuid)
        for _ in range(day_frames):
            self.add("image", day, night=False, camera=camera, delivered=delivered)
        for _ in range(fits):
            self.add("fitsimage", day, camera=camera, delivered=delivered)
        if products:
            for kind, code in (("keogram", 4), ("startrail", 5), ("video", 3)):
                thumb = self.add("thumbnail", day, camera=camera, delivered=delivered, origin=code)
                self.add(kind, day, camera=camera, delivered=delivered, when=evening(day),
                         thumbnail_uuid=thumb.uuid)

    def pruner(self, policy: RetentionPolicy) -> Pruner:
        return Pruner(self.sessions, self.storage, policy, clock=lambda: self.now)

    def nights(self, kind: str, *, night: bool | None = None, camera: str | None = None) -> list:
        """The distinct night dates that still have assets of `kind`."""
        with self.sessions() as s:
            q = select(Asset.day_date).where(Asset.kind == kind)
            if night is not None:
                q = q.where(Asset.night.is_(night))
            if camera is not None:
                q = q.where(Asset.camera_id == self.cameras[camera].id)
            return sorted(set(s.scalars(q)))

    def count(self, **where) -> int:
        with self.sessions() as s:
            q = select(func.count(Asset.id))
            for key, value in where.items():
                q = q.where(getattr(Asset, key) == value)
            return s.scalar(q)

    def files(self) -> set:
        """Every file under storage (relative), staging and the lock file excluded."""
        root = self.storage.root
        return {str(p.relative_to(root)) for p in root.rglob("*")
                if p.is_file() and ".staging" not in p.parts and p.name != ".prune.lock"}

    def filenames(self) -> set:
        with self.sessions() as s:
            return set(s.scalars(select(Asset.filename).where(Asset.filename.is_not(None))))

    def close(self):
        self.sessions.kw["bind"].dispose()
        with self.app.app_context():
            db.engine.dispose()
        drop_own_database(self.database_url)


@pytest.fixture
def site(tmp_path):
    s = Site(tmp_path)
    yield s
    s.close()


def days_before(base: dt.date, n: int) -> dt.date:
    return base - dt.timedelta(days=n)
