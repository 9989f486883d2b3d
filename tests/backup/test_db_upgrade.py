"""`skyfleet db upgrade` backs a database with a schema up before it migrates, says where in one line,
keeps the newest [backup] keep, and takes no backup when nothing is pending or the database is new."""
from __future__ import annotations

import datetime as dt
import re
import stat

from skyfleet.backup import database, preupgrade, schema

from .conftest import snapshot

HEAD = schema.head(schema.scripts())

BACKUP_LINE = re.compile(r"^database backup: (/\S+/skyfleet-db-\d{8}T\d{6}Z-0005\.(sqlite|pgdump))$")
PASSWORD = "a long password\n"


def test_pending_migrations_on_an_existing_database_are_backed_up_first(host_factory):
    host = host_factory("remote")
    assert host.script("db", "upgrade", "0005").returncode == 0
    added = host.script("user", "add", "alice", stdin=PASSWORD * 2)
    assert added.returncode == 0, added.stderr
    before = snapshot(host.database_url)
    res = host.script("db", "upgrade")
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    assert len(lines) == 1 and BACKUP_LINE.match(lines[0]), res.stdout
    assert "Running upgrade 0005 -> 0006" in res.stderr and f"-> {HEAD}" in res.stderr
    backup = host.settings.backup.dir.resolve() / lines[0].rsplit("/", 1)[1]
    assert lines[0] == f"database backup: {backup}"
    assert stat.S_IMODE(backup.stat().st_mode) == 0o600
    assert stat.S_IMODE(backup.parent.stat().st_mode) == 0o700
    assert schema.revision_of(host.database_url) == HEAD
    copy = host_factory("copy")
    database.restore(copy.database_url, backup)
    assert schema.revision_of(copy.database_url) == "0005"
    assert snapshot(copy.database_url) == before and "alice" in repr(before["users"])


def test_nothing_pending_or_a_new_database_takes_no_backup(host_factory):
    host = host_factory("remote")
    for _ in range(2):  # a brand-new database, then one at the head already
        res = host.script("db", "upgrade")
        assert res.returncode == 0, res.stderr
        assert "database backup" not in res.stdout
    assert not host.settings.backup.dir.exists()
    assert schema.revision_of(host.database_url) == HEAD


def test_backup_flag_backs_up_a_database_at_the_head_and_never_a_new_one(host_factory):
    """What Ansible runs at each new release: a backup even when the release brings no migration."""
    host = host_factory("remote")
    fresh = host.script("db", "upgrade", "--backup")
    assert fresh.returncode == 0, fresh.stderr
    assert "database backup" not in fresh.stdout and not host.settings.backup.dir.exists()
    before = snapshot(host.database_url)
    res = host.script("db", "upgrade", "--backup")
    assert res.returncode == 0, res.stderr
    assert "Running upgrade" not in res.stderr
    (line,) = res.stdout.splitlines()
    assert re.match(rf"^database backup: /\S+/skyfleet-db-\d{{8}}T\d{{6}}Z-{HEAD}\.(sqlite|pgdump)$", line), line
    copy = host_factory("copy")
    database.restore(copy.database_url, line.split(": ", 1)[1])
    assert snapshot(copy.database_url) == before


def test_only_the_newest_keep_backups_are_kept(host_factory):
    host = host_factory("remote", extra='[backup]\nkeep = 2\n')
    host.app()
    settings = host.settings
    start = dt.datetime(2026, 12, 1, 18, 0, tzinfo=dt.timezone.utc)
    made = [preupgrade.take(settings, "0006", now=start + dt.timedelta(minutes=i)) for i in range(3)]
    other = settings.backup.dir / "notes.txt"
    other.write_text("not a backup")
    preupgrade.take(settings, "0006", now=start + dt.timedelta(minutes=3))
    left = sorted(p.name for p in settings.backup.dir.iterdir())
    assert left == sorted(["notes.txt", made[2].name, f"skyfleet-db-20261201T180300Z-0006{made[0].suffix}"])
    assert made[0].name.startswith("skyfleet-db-20261201T180000Z-0006.")


def test_flask_migrate_commands_stay_reachable(host_factory):
    host = host_factory("remote")
    host.script("db", "upgrade")
    current = host.script("db", "current")
    assert current.returncode == 0 and f"{HEAD} (head)" in current.stdout
    history = host.script("db", "history")
    assert history.returncode == 0 and "0006 -> 0007 (head)" in history.stdout
