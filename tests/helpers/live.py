"""A real skyfleet server: its database migrated and a SyncAPI account, gunicorn on loopback."""
from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

from tests.helpers import retention

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def gunicorn_shape(workers: int, threads: int = 1) -> list[str]:
    """gunicorn's worker options: sync workers, or gthread workers with `threads` threads each."""
    shape = ["--workers", str(workers)]
    return shape + ["--worker-class", "gthread", "--threads", str(threads)] if threads > 1 else shape


@dataclass
class LiveServer:
    root: Path
    user: str = "remote-sync"
    key: str = "5e" * 32
    workers: int = 2
    threads: int = 1  # above 1: gthread workers, the shape the role deploys (skyfleet_web_syncapi_threads)
    port: int = field(default_factory=free_port)
    extra_settings: str = ""
    proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def config(self) -> Path:
        return self.root / "skyfleet.toml"

    @property
    def env(self) -> dict:
        return {"PATH": "/usr/bin:/bin", "SKYFLEET_CONFIG": str(self.config), "LANG": "C.UTF-8"}

    def cli(self, *args: str, stdin: str = "") -> subprocess.CompletedProcess:
        res = subprocess.run([str(BIN / "skyfleet"), *args], input=stdin, capture_output=True, text=True,
                             env=self.env, timeout=120)
        if res.returncode != 0:
            raise RuntimeError(f"skyfleet {' '.join(args)} failed: {res.stderr}")
        return res

    def prepare(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        lines = [f'data_dir = "{self.root / "data"}"', 'log_level = "INFO"']
        db_url = os.environ.get("SKYFLEET_TEST_DATABASE_URL")
        if db_url:
            lines.append(f'database_url = "{db_url}"')
        # Keep everything and never prune unless the test says otherwise (tests/helpers/retention.py).
        keep = "" if "[retention]" in self.extra_settings else retention.toml()
        self.config.write_text("\n".join(lines) + "\n" + self.extra_settings + keep)
        self.add_sync_account()

    def add_sync_account(self) -> None:
        """The database at head with the SyncAPI account, made in this process from the settings file
        gunicorn reads (three `skyfleet` processes cost several seconds of CPU per server; the CLI itself
        is tested in tests/cli)."""
        from flask_migrate import upgrade

        from skyfleet.extensions import db
        from skyfleet.factory import create_app
        from skyfleet.settings import load
        from tests.conftest import add_api_user

        app = create_app(load(self.config))
        with app.app_context():
            upgrade()
        add_api_user(app, self.user, self.key)
        with app.app_context():
            db.engine.dispose()

    def start(self) -> None:
        log = open(self.root / "gunicorn.log", "ab")
        self.proc = subprocess.Popen(
            [str(BIN / "gunicorn"), "--bind", f"127.0.0.1:{self.port}", *gunicorn_shape(self.workers, self.threads),
             "--timeout", "300", "skyfleet.factory:create_app()"],
            env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self.proc = None
                raise RuntimeError(f"gunicorn exited: {self.log_tail()}")
            try:
                if requests.get(self.url + "/", timeout=1).status_code == 200:
                    return
            except requests.RequestException:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"gunicorn did not answer within 30 s: {self.log_tail()}")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.proc = None

    def worker_pids(self) -> list[int]:
        out = subprocess.run(["pgrep", "-P", str(self.proc.pid)], capture_output=True, text=True).stdout
        return [int(p) for p in out.split()]

    def log_tail(self, n: int = 4000) -> str:
        try:
            return (self.root / "gunicorn.log").read_text(errors="replace")[-n:]
        except FileNotFoundError:
            return ""


@contextlib.contextmanager
def running_server(root: Path, **kw):
    """A prepared, started LiveServer; stopped (and its PostgreSQL tables emptied or dropped) afterwards."""
    srv = LiveServer(root, **kw)
    srv.prepare()
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()
        db_url = os.environ.get("SKYFLEET_TEST_DATABASE_URL")
        if db_url:
            from skyfleet.factory import create_app
            from tests.conftest import drop_everything
            drop_everything(create_app({"data_dir": str(root / "data"), "database_url": db_url}))


def peak_rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise RuntimeError("no VmHWM")


@contextlib.contextmanager
def app_on_server_database(server: LiveServer):
    """An app on a running server's database, to look at the rows it wrote (the test database in the
    PostgreSQL pass)."""
    from skyfleet.extensions import db
    from skyfleet.factory import create_app

    config = {"data_dir": str(server.root / "data")}
    if os.environ.get("SKYFLEET_TEST_DATABASE_URL"):
        config["database_url"] = os.environ["SKYFLEET_TEST_DATABASE_URL"]
    app = create_app(config)
    try:
        yield app
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
