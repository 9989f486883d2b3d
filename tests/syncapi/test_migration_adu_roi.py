"""Migration 0004: adu_roi becomes a JSON list; existing booleans are read as the SyncAPI reader reads them
(false: no ROI, []; true: an ROI of unknown extent, NULL and kept under data["_received"]).  Runs on SQLite
and, with SKYFLEET_TEST_DATABASE_URL, on PostgreSQL."""
import datetime as dt

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade

from skyfleet.extensions import db
from skyfleet.models import Base

WHEN = dt.datetime(2025, 1, 1)


def _insert_rows(conn, rois: dict) -> None:
    """Rows as revision 0003 stored them: natural key -> adu_roi (True, False or None)."""
    tables = sa.MetaData()
    camera = sa.Table("camera", tables, autoload_with=conn)
    asset = sa.Table("asset", tables, autoload_with=conn)
    camera_id = conn.execute(sa.insert(camera).values(
        uuid="6f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f", name="cam", utc_offset=0, hidden=False, data={},
        created_at=WHEN).returning(camera.c.id)).scalar_one()
    for key, roi in rois.items():
        conn.execute(sa.insert(asset).values(
            kind="image", camera_id=camera_id, natural_key=key, create_date_utc=WHEN, create_date=WHEN,
            utc_offset=0, day_date=WHEN.date(), night=True, file_size=0, data={"uptime": 5, "key": key},
            uploaded_at=WHEN, adu_roi=roi))


def _rows(conn) -> dict:
    asset = sa.Table("asset", sa.MetaData(), autoload_with=conn)
    return {r.natural_key: (r.adu_roi, r.data) for r in conn.execute(sa.select(asset))}


def test_0004_converts_adu_roi_booleans_and_back(app):
    with app.app_context():
        downgrade(revision="0003")
        with db.engine.begin() as conn:
            _insert_rows(conn, {"false": False, "true": True, "none": None})
        upgrade()
        with db.engine.connect() as conn:
            rows = _rows(conn)
            assert rows["false"] == ([], {"uptime": 5, "key": "false"})
            assert rows["true"] == (None, {"uptime": 5, "key": "true", "_received": {"adu_roi": True}})
            assert rows["none"] == (None, {"uptime": 5, "key": "none"})
            assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []
            asset = sa.Table("asset", sa.MetaData(), autoload_with=conn)
            conn.execute(sa.update(asset).where(asset.c.natural_key == "none").values(adu_roi=[1, 2, 3, 4]))
            conn.commit()

        downgrade(revision="0003")
        with db.engine.connect() as conn:
            rois = {key: roi for key, (roi, _data) in _rows(conn).items()}
            assert rois == {"false": False, "true": None, "none": True}  # a set ROI: true
        upgrade()
