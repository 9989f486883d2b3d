"""A camera host (its own database, storage and settings file) and a real remote under gunicorn.

The camera host's database is a SQLite file, or a PostgreSQL database of its own in the PostgreSQL pass.
"""
from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path

import pytest
from flask_migrate import upgrade
from sqlalchemy import create_engine, func, select

from skyfleet.db_setup import session_factory
from skyfleet.extensions import db
from skyfleet.factory import create_app
from skyfleet.local_assets import local_camera, record_asset, storage_for
from skyfleet.models import Asset, UploadJob
from skyfleet.upload.config import from_table
from skyfleet.upload.worker import UploadWorker
from tests.helpers import media
from tests.helpers import metadata as mdh
from tests.helpers.databases import drop_own_database, own_database_url
from tests.helpers.live import LiveServer, running_server
from tests.helpers.waiting import wait_until

_open_hosts: list[CameraHost] = []


@pytest.fixture(autouse=True)
def close_camera_hosts():
    yield
    while _open_hosts:
        _open_hosts.pop().close()


@dataclass
class CameraHost:
    root: Path
    remote: LiveServer
    protocol: str = "auto"
    key: str | None = None

    def setup(self, **upload_overrides) -> CameraHost:
        self.data = self.root / "data"
        self.root.mkdir(parents=True, exist_ok=True)
        self.key_file = self.root / "remote.key"
        self.key_file.write_text((self.key or self.remote.key) + "\n")
        os.chmod(self.key_file, 0o600)
        # a lease long enough that a heartbeat starved on a loaded box never hands a job to a second
        # worker; the takeover test sets a short one
        self.upload_table = {"lease_seconds": 30.0, "retry_base_seconds": 0.2, "retry_max_seconds": 1.0,
                             "idle_poll_seconds": 0.1, **upload_overrides,
                             "remotes": [{"name": "remote", "url": self.remote.url + "/indi-allsky",
                                          "username": self.remote.user, "api_key_file": str(self.key_file),
                                          "protocol": self.protocol, "read_timeout": 60.0}]}
        self.database_url = own_database_url(self.data / "local.db")
        self.config = {"data_dir": str(self.data), "database_url": self.database_url, "upload": self.upload_table}
        self.toml = self.root / "skyfleet.toml"
        self.toml.write_text(_toml(self.config))
        self.app = create_app(self.config)
        with self.app.app_context():
            upgrade()
        self.sessions = session_factory(self.config["database_url"])
        _open_hosts.append(self)
        self.storage = storage_for(self.app.extensions["skyfleet"].settings.storage_dir)
        self.upload = from_table(self.upload_table)
        with self.sessions() as s:
            self.camera = local_camera(s, "Test sky", ["remote"], utc_offset=-18000, latitude=40.0)
        return self

    def add(self, kind: str, payload: bytes, **meta_overrides) -> Asset:
        """Record a file of `payload` behind its type's first bytes (both tiers check them)."""
        src = self.root / f"incoming-{os.urandom(4).hex()}{mdh.EXTENSION[kind]}"
        src.write_bytes(media.fake(src.suffix, payload))
        with self.sessions() as s:
            camera = s.merge(self.camera)
            meta = mdh.asset(kind, camera_uuid=self.camera.uuid, **meta_overrides)
            return record_asset(s, self.storage, camera, kind, meta, src, ["remote"])

    def add_file(self, kind: str, path: Path, **meta_overrides) -> Asset:
        """Record a copy of an existing file (the original stays where it is)."""
        with self.sessions() as s:
            meta = mdh.asset(kind, camera_uuid=self.camera.uuid, **meta_overrides)
            return record_asset(s, self.storage, s.merge(self.camera), kind, meta, path, ["remote"], move=False)

    def add_sized(self, kind: str, size: int, when: int) -> Asset:
        src = self.root / f"big-{when}{mdh.EXTENSION[kind]}"
        with open(src, "wb") as fh:
            block = os.urandom(1 << 20)
            for i in range(size >> 20):
                fh.write(media.fake(src.suffix, block)[:len(block)] if i == 0 else block)
        with self.sessions() as s:
            meta = mdh.asset(kind, when=when, camera_uuid=self.camera.uuid)
            return record_asset(s, self.storage, s.merge(self.camera), kind, meta, src, ["remote"])

    def worker(self, name="w1", **kw) -> UploadWorker:
        return UploadWorker(self.upload, self.storage.root, self.sessions, name=name, **kw)

    def drain(self, timeout: float = 60.0, workers: int = 1) -> None:
        """Run workers until no job is waiting (bounded)."""
        stop = threading.Event()
        threads = [threading.Thread(target=self.worker(f"w{i}", stop=stop).run) for i in range(workers)]
        for t in threads:
            t.start()
        try:
            assert wait_until(lambda: self.waiting() == 0, timeout), f"{self.waiting()} jobs still waiting"
        finally:
            stop.set()
            for t in threads:
                t.join(timeout=120)

    def waiting(self) -> int:
        with self.sessions() as s:
            return s.scalar(select(func.count(UploadJob.id)).where(UploadJob.state.in_(("pending", "leased"))))

    def close(self) -> None:
        """Let go of the database (and drop it, when it is a PostgreSQL one)."""
        self.sessions.kw["bind"].dispose()
        with self.app.app_context():
            db.engine.dispose()
        drop_own_database(self.database_url)

    def jobs(self, state=None) -> list:
        with self.sessions() as s:
            q = select(UploadJob).order_by(UploadJob.id)
            if state:
                q = q.where(UploadJob.state == state)
            return list(s.scalars(q))


def _toml(config: dict) -> str:
    lines = [f'{k} = "{v}"' for k, v in config.items() if isinstance(v, str)]
    up = config["upload"]
    lines.append("[upload]")
    lines += [f"{k} = {v}" for k, v in up.items() if k != "remotes"]
    for r in up["remotes"]:
        lines.append("[[upload.remotes]]")
        lines += [f'{k} = "{v}"' if isinstance(v, str) else f"{k} = {v}" for k, v in r.items()]
    return "\n".join(lines) + "\n"


def remote_assets(remote: LiveServer) -> list:
    """(id, kind, natural_key, file_size) of every asset the remote stored."""
    url = os.environ.get("SKYFLEET_TEST_DATABASE_URL") or f"sqlite:///{remote.root / 'data' / 'skyfleet.db'}"
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(
                select(Asset.id, Asset.kind, Asset.natural_key, Asset.file_size).order_by(Asset.id))]
    finally:
        engine.dispose()


@pytest.fixture
def remote(tmp_path):
    with running_server(tmp_path / "remote") as srv:
        yield srv


@pytest.fixture
def host(tmp_path, remote):
    return CameraHost(tmp_path / "camera", remote).setup()
