"""an index for each night's best frame

The gallery shows each night's frame with the most stars: with (camera, kind, day_date, night, stars)
that is one index probe per night instead of reading every frame of it.  Only a new index.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 16:10:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('asset', schema=None) as batch_op:
        batch_op.create_index('ix_asset_camera_kind_day_stars', ['camera_id', 'kind', 'day_date', 'night', 'stars'],
                              unique=False)


def downgrade():
    with op.batch_alter_table('asset', schema=None) as batch_op:
        batch_op.drop_index('ix_asset_camera_kind_day_stars')
