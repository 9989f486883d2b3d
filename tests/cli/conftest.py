"""CLI test fixtures: cheap password hashing (as in tests/web/conftest.py) and the installed console
script run from a bare PATH against its own settings file and database."""
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import PG_URL

SCRIPT = Path(sys.executable).parent / "skyfleet"


@pytest.fixture
def console_script(tmp_path):
    """run(*args, stdin="") -> CompletedProcess of `skyfleet ARGS` with data in tmp_path/data (and, on
    PostgreSQL, the test database, emptied afterwards)."""
    data = tmp_path / "data"
    config = tmp_path / "skyfleet.toml"
    lines = [f'data_dir = "{data}"']
    if PG_URL:
        lines.append(f'database_url = "{PG_URL}"')
    config.write_text("\n".join(lines) + "\n")
    env = {"PATH": "/usr/bin:/bin", "SKYFLEET_CONFIG": str(config), "LANG": "C.UTF-8"}

    def run(*args, stdin=""):
        return subprocess.run([str(SCRIPT), *args], input=stdin, capture_output=True, text=True, env=env,
                              timeout=60)

    yield run
    if PG_URL:
        from skyfleet.factory import create_app
        from tests.conftest import drop_everything
        drop_everything(create_app({"data_dir": str(data), "database_url": PG_URL}))
