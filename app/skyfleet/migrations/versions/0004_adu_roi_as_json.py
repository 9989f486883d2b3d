"""adu_roi holds indi-allsky's ADU_ROI list, not a boolean

indi-allsky sends its ADU_ROI setting: [] by default, [x1, y1, x2, y2] when set.  Existing values are
converted the way the SyncAPI reader now reads a boolean: false (no ROI) becomes [], true (an ROI of
unknown extent) becomes NULL and is kept under data["_received"]["adu_roi"].  Downgrade: [] and NULL
become false and NULL, any other list true.  Online only (the data step reads rows).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 09:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

RECEIVED = "_received"


def _asset(roi_type):
    return sa.table("asset", sa.column("id", sa.Integer), sa.column("adu_roi", roi_type),
                    sa.column("data", sa.JSON))


def upgrade():
    conn = op.get_bind()
    asset = _asset(sa.Boolean())
    for row_id, data in conn.execute(sa.select(asset.c.id, asset.c.data).where(asset.c.adu_roi == sa.true())).all():
        data = dict(data) if isinstance(data, dict) else {}
        received = dict(data.get(RECEIVED) or {})
        received["adu_roi"] = True
        data[RECEIVED] = received
        conn.execute(sa.update(asset).where(asset.c.id == row_id).values(data=data))
    with op.batch_alter_table('asset', schema=None) as batch_op:
        batch_op.alter_column('adu_roi', existing_type=sa.Boolean(), type_=sa.JSON(), existing_nullable=True,
                              postgresql_using="CASE WHEN adu_roi = false THEN '[]'::json END")
    if conn.dialect.name != "postgresql":  # SQLite copied the 0/1 integers
        op.execute("UPDATE asset SET adu_roi = CASE WHEN adu_roi = 0 THEN '[]' END WHERE adu_roi IS NOT NULL")


def downgrade():
    conn = op.get_bind()
    if conn.dialect.name == "postgresql":
        using = ("CASE WHEN adu_roi IS NULL OR adu_roi::text = 'null' THEN NULL "
                 "WHEN adu_roi::text IN ('[]', 'false') THEN false ELSE true END")
    else:
        using = None
        op.execute("UPDATE asset SET adu_roi = CASE WHEN adu_roi IS NULL OR adu_roi = 'null' THEN NULL "
                   "WHEN adu_roi IN ('[]', 'false') THEN 0 ELSE 1 END")
    with op.batch_alter_table('asset', schema=None) as batch_op:
        batch_op.alter_column('adu_roi', existing_type=sa.JSON(), type_=sa.Boolean(), existing_nullable=True,
                              postgresql_using=using)
