"""The `skyfleet` console script is the operator's CLI, not Flask's developer CLI; developers keep
Flask's commands through `flask --app skyfleet.factory:create_app`."""
import re
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import skyfleet
from skyfleet.core import version as version_mod

BIN = Path(sys.executable).parent
APP_GROUPS = ["asset", "backup", "camera", "db", "health", "night", "storage", "sync", "user"]
# registered in skyfleet.cli only, not in factory.CLI_GROUPS (they need no app)
OPERATOR_ONLY = {"storage", "health", "backup"}
FLASK_ONLY = ["run", "routes", "shell"]
FLASK_OPTIONS = ["--env-file", "--app", "--debug"]


def run(tmp_path, *argv):
    env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "SKYFLEET_DATA_DIR": str(tmp_path / "data")}
    return subprocess.run([str(a) for a in argv], capture_output=True, text=True, env=env, timeout=60)


def commands(help_text: str) -> list:
    listed = help_text.split("Commands:", 1)[1]
    return sorted(re.findall(r"^  (\S+)", listed, flags=re.M))


def test_help_shows_only_the_appliance_command_groups(tmp_path):
    res = run(tmp_path, BIN / "skyfleet", "--help")
    assert res.returncode == 0, res.stderr
    assert commands(res.stdout) == APP_GROUPS
    for option in FLASK_OPTIONS:
        assert option not in res.stdout
    assert "--version" in res.stdout


def test_version_is_the_package_version(tmp_path):
    res = run(tmp_path, BIN / "skyfleet", "--version")
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == f"skyfleet, version {metadata.version('skyfleet')}"
    assert metadata.version("skyfleet") == version_mod.pyproject_version()


def test_version_falls_back_to_pyproject_when_not_installed(monkeypatch, tmp_path):
    def not_installed(name):
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(version_mod.metadata, "version", not_installed)
    assert version_mod.version() == version_mod.pyproject_version() == skyfleet.__version__
    assert version_mod.pyproject_version(tmp_path / "missing.toml") == "unknown"


def test_flask_developer_commands_stay_reachable_through_the_factory(tmp_path):
    res = run(tmp_path, BIN / "flask", "--app", "skyfleet.factory:create_app", "--help")
    assert res.returncode == 0, res.stderr
    assert set(APP_GROUPS + FLASK_ONLY) - OPERATOR_ONLY <= set(commands(res.stdout))
    routes = run(tmp_path, BIN / "flask", "--app", "skyfleet.factory:create_app", "routes")
    assert routes.returncode == 0, routes.stderr
    assert re.search(r"^syncapi\.sync\s.*\s/indi-allsky/sync/v1/<segment>", routes.stdout, flags=re.M), routes.stdout


def test_app_commands_run_in_the_operator_cli(tmp_path):
    up = run(tmp_path, BIN / "skyfleet", "db", "upgrade")
    assert up.returncode == 0, up.stderr
    listed = run(tmp_path, BIN / "skyfleet", "user", "list")
    assert (listed.returncode, listed.stdout) == (0, "")
