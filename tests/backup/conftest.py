"""Hosts of their own for the backup tests: a settings file, a data folder and a database each (a fresh
PostgreSQL database per host with SKYFLEET_TEST_DATABASE_URL set), so one test can back up one host and
restore into another."""
from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask_migrate import upgrade
from sqlalchemy import create_engine, inspect, text

from skyfleet import settings as settings_mod
from skyfleet.backup_cli import backup_cli
from skyfleet.extensions import db
from skyfleet.factory import create_app
from tests.helpers import retention
from tests.helpers.databases import drop_own_database, own_database_url

SCRIPT = Path(sys.executable).parent / "skyfleet"


@dataclass
class Host:
    root: Path
    database_url: str
    apps: list = field(default_factory=list)

    @property
    def config(self) -> Path:
        return self.root / "skyfleet.toml"

    @property
    def data(self) -> Path:
        return self.root / "data"

    def write_config(self, extra: str = "") -> Host:
        self.root.mkdir(parents=True, exist_ok=True)
        self.config.write_text(f'data_dir = "{self.data}"\ndatabase_url = "{self.database_url}"\n{extra}'
                               + retention.toml())
        return self

    @property
    def settings(self) -> settings_mod.Settings:
        return settings_mod.load(self.config)

    def app(self, migrate: bool = True, settings: settings_mod.Settings | None = None):
        app = create_app(settings or self.settings)
        app.config["TESTING"] = True
        if migrate:
            with app.app_context():
                upgrade()
        self.apps.append(app)
        return app

    def backup(self, *args):
        """`skyfleet backup ARGS` in this process, with this host's settings file."""
        return CliRunner(mix_stderr=False).invoke(backup_cli, list(args), env={"SKYFLEET_CONFIG": str(self.config)})

    def script(self, *args, stdin: str = ""):
        """The installed console script, from a bare PATH, with this host's settings file."""
        env = {"PATH": "/usr/bin:/bin", "SKYFLEET_CONFIG": str(self.config), "LANG": "C.UTF-8"}
        return subprocess.run([str(SCRIPT), *args], input=stdin, capture_output=True, text=True, env=env,
                              timeout=120)

    def close(self) -> None:
        for app in self.apps:
            with app.app_context():
                db.session.remove()
                db.engine.dispose()
        drop_own_database(self.database_url)


@pytest.fixture
def host_factory(tmp_path):
    made = []

    def factory(name: str, extra: str = "") -> Host:
        root = tmp_path / name
        root.mkdir()
        host = Host(root, own_database_url(root / "data" / "skyfleet.db")).write_config(extra)
        made.append(host)
        return host

    yield factory
    for host in made:
        host.close()


def snapshot(url: str) -> dict:
    """Every table's columns and rows (sorted), to compare a database before and after."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            insp = inspect(conn)
            return {name: ([c["name"] for c in insp.get_columns(name)],
                           sorted(map(repr, conn.execute(text(f'SELECT * FROM "{name}"')).all())))
                    for name in sorted(insp.get_table_names())}
    finally:
        engine.dispose()
