"""A migration that fails after some DDL and data changes succeeded leaves the database exactly as it was
(one transaction, on SQLite too), exits 1 with the error and the backup's path, and that backup restores."""
from __future__ import annotations

import re
import shutil

from skyfleet import accounts
from skyfleet.backup import database, schema
from skyfleet.backup.schema import MIGRATIONS_DIR
from skyfleet.db_cli import db_cli
from skyfleet.extensions import db
from tests.conftest import add_api_user
from tests.helpers import metadata as mdh
from tests.helpers.wire import Sender

from .conftest import snapshot

HEAD = schema.head(schema.scripts())

FAILING = '''"""fails half-way"""
import sqlalchemy as sa
from alembic import op

revision = "9999"
down_revision = "{head}"


def upgrade():
    op.create_table("half_done", sa.Column("id", sa.Integer, primary_key=True), sa.Column("note", sa.String(20)))
    op.execute("INSERT INTO half_done (id, note) VALUES (1, 'written')")
    # SQLite: a table rebuild (copy, drop, rename), the batch operation that must roll back too
    with op.batch_alter_table("users", recreate="always" if op.get_context().dialect.name == "sqlite" else "auto") as b:
        b.add_column(sa.Column("nickname", sa.String(20)))
    op.execute("UPDATE users SET nickname = 'changed', is_admin = NOT is_admin")
    op.execute("DELETE FROM camera")
    op.execute("SELECT no_such_column FROM half_done")


def downgrade():
    pass
'''


def migrations_with_a_failing_one(tmp_path):
    folder = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS_DIR, folder, ignore=shutil.ignore_patterns("__pycache__"))
    (folder / "versions" / "9999_fails.py").write_text(FAILING.replace("{head}", HEAD))
    return folder


def test_failed_migration_leaves_the_database_as_it_was_and_the_backup_restores(host_factory, tmp_path):
    host = host_factory("remote")
    app = host.app()
    with app.app_context():
        accounts.add(db.session, "alice", "correct horse battery", admin=True)
        db.session.commit()
    add_api_user(app)
    resp = Sender(app.test_client()).send("PUT", "camera", mdh.camera(), media=b"", media_name="bogus.ext")
    assert resp.status_code == 200, resp.get_json()
    before = snapshot(host.database_url)
    assert before["camera"][1] and before["users"][1]

    res = app.test_cli_runner(mix_stderr=False).invoke(db_cli, ["upgrade", "-d", str(migrations_with_a_failing_one(
        tmp_path))])
    assert res.exit_code == 1, res.output
    assert "database backup: " in res.stdout
    failed = [line for line in res.stderr.splitlines() if line.startswith("skyfleet db upgrade failed: ")]
    assert len(failed) == 1 and "no_such_column" in failed[0], res.stderr
    found = re.search(r"^the database is as it was before; backup: (\S+)$", res.stderr, re.M)
    assert found, res.stderr
    assert snapshot(host.database_url) == before
    assert schema.revision_of(host.database_url) == HEAD

    copy = host_factory("copy")
    database.restore(copy.database_url, found.group(1))
    assert snapshot(copy.database_url) == before
