"""retention marks, prune events, alert states

expiry_mark: per camera and prune class, the last night whose assets were expired (the SyncAPI answers
410 for them), and an index of upload jobs by asset (pruning asks whether an asset was delivered,
and deleting one deletes its jobs).  prune_event: one row per night and class a prune removed.  alert_state: each alert's
incident, so it is announced once and its recovery once.  Only new tables and an index.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 15:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('upload_job', schema=None) as batch_op:
        batch_op.create_index('ix_upload_job_asset_id', ['asset_id'], unique=False)
    op.create_table('expiry_mark',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('camera_id', sa.Integer(), nullable=False),
    sa.Column('prune_class', sa.String(length=20), nullable=False),
    sa.Column('through_day', sa.Date(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['camera_id'], ['camera.id'], name=op.f('fk_expiry_mark_camera_id_camera'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_expiry_mark')),
    sa.UniqueConstraint('camera_id', 'prune_class', name=op.f('uq_expiry_mark_camera_id'))
    )
    op.create_table('prune_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.Column('camera_id', sa.Integer(), nullable=True),
    sa.Column('prune_class', sa.String(length=20), nullable=False),
    sa.Column('day_date', sa.Date(), nullable=False),
    sa.Column('reason', sa.String(length=12), nullable=False),
    sa.Column('assets', sa.Integer(), nullable=False),
    sa.Column('bytes', sa.BigInteger(), nullable=False),
    sa.Column('undelivered', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['camera_id'], ['camera.id'], name=op.f('fk_prune_event_camera_id_camera'),
                            ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_prune_event'))
    )
    with op.batch_alter_table('prune_event', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_prune_event_at'), ['at'], unique=False)
    op.create_table('alert_state',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=40), nullable=False),
    sa.Column('subject', sa.String(length=128), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('since', sa.DateTime(), nullable=True),
    sa.Column('message', sa.Text(), nullable=True),
    sa.Column('notified_at', sa.DateTime(), nullable=True),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_alert_state')),
    sa.UniqueConstraint('name', 'subject', name=op.f('uq_alert_state_name'))
    )


def downgrade():
    op.drop_table('alert_state')
    with op.batch_alter_table('prune_event', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_prune_event_at'))
    op.drop_table('prune_event')
    op.drop_table('expiry_mark')
    with op.batch_alter_table('upload_job', schema=None) as batch_op:
        batch_op.drop_index('ix_upload_job_asset_id')
