"""The `skyfleet` command: the operator's CLI, usable without activating any venv.

It offers the appliance's command groups only (user, camera, db, asset, sync, night, storage, health,
backup) and `--version`, not Flask's developer CLI; developers reach `run`, `routes` and `shell` through
`flask --app skyfleet.factory:create_app ...`.
"""
from __future__ import annotations

import sys

import click
from flask.cli import ScriptInfo

from . import settings as settings_mod
from .backup_cli import backup_cli
from .core.version import version
from .db_cli import db_cli
from .factory import CLI_GROUPS, create_app
from .health_cli import health_cli
from .storage_cli import storage_cli

EXIT_CONFIG_ERROR = 2


class OperatorGroup(click.Group):
    """A plain click group whose commands run in an app context built by `create_app` (no --app, no .env)."""

    def make_context(self, info_name, args, parent=None, **extra):
        extra.setdefault("obj", ScriptInfo(create_app=create_app, set_debug_flag=False))
        return super().make_context(info_name, args, parent=parent, **extra)


@click.group(cls=OperatorGroup, name="skyfleet",
             help="skyfleet: all-sky camera appliance. Settings from $SKYFLEET_CONFIG.")
@click.version_option(version(), "--version", prog_name="skyfleet")
def cli_group() -> None:
    pass


for _group in (*CLI_GROUPS, db_cli, storage_cli, health_cli, backup_cli):
    cli_group.add_command(_group)


def main(argv=None):
    """Console script: a broken settings file is one clear line and exit code 2, not a traceback."""
    try:
        settings_mod.load()
    except settings_mod.SettingsError as exc:
        click.echo(f"skyfleet: {exc}", err=True)
        sys.exit(EXIT_CONFIG_ERROR)
    return cli_group.main(args=argv, prog_name="skyfleet")
