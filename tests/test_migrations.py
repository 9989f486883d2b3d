"""The migrations build exactly the schema the models describe, and can be walked down and up again."""
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect

from skyfleet.extensions import db
from skyfleet.models import Base


def test_upgraded_database_matches_the_models(app):
    with app.app_context(), db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []


def test_downgrade_then_upgrade(app):
    with app.app_context():
        downgrade(revision="base")
        assert set(inspect(db.engine).get_table_names()) <= {"alembic_version"}
        upgrade()
        assert {"users", "camera", "asset", "sync_nonce", "longterm_keogram"} <= set(
            inspect(db.engine).get_table_names())
