"""camera owners, remembered v1 MACs, server-side web sessions

camera.registered_by_id: the SyncAPI account that registered the camera.  Existing cameras get the
account that uploaded their first asset (NULL when there is none: the next account to sync the camera
claims it).  sync_v1_mac: v1 MACs seen in the clock window with the method and media they came with.
login_session: one row per signed-in browser; logout deletes it.  Online only (the data step reads rows).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 11:20:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade():
    # batch mode on SQLite rebuilds the table: env.py switches foreign keys off for that
    with op.batch_alter_table('camera', schema=None) as batch_op:
        batch_op.add_column(sa.Column('registered_by_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_camera_registered_by_id_users'), 'users',
                                    ['registered_by_id'], ['id'], ondelete='SET NULL')
    first_uploader = sa.text(
        "UPDATE camera SET registered_by_id = (SELECT a.uploaded_by_id FROM asset a "
        "WHERE a.camera_id = camera.id AND a.uploaded_by_id IS NOT NULL "
        "ORDER BY a.uploaded_at, a.id LIMIT 1)")
    op.execute(first_uploader)

    op.create_table('sync_v1_mac',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('mac', sa.String(length=64), nullable=False),
    sa.Column('method', sa.String(length=8), nullable=False),
    sa.Column('media_sha256', sa.String(length=64), nullable=False),
    sa.Column('seen_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_sync_v1_mac_user_id_users'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sync_v1_mac')),
    sa.UniqueConstraint('user_id', 'mac', name=op.f('uq_sync_v1_mac_user_id'))
    )
    with op.batch_alter_table('sync_v1_mac', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sync_v1_mac_seen_at'), ['seen_at'], unique=False)

    op.create_table('login_session',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('token_sha256', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('last_seen_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_login_session_user_id_users'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_login_session')),
    sa.UniqueConstraint('token_sha256', name=op.f('uq_login_session_token_sha256'))
    )
    with op.batch_alter_table('login_session', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_login_session_last_seen_at'), ['last_seen_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_login_session_user_id'), ['user_id'], unique=False)


def downgrade():
    with op.batch_alter_table('login_session', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_login_session_user_id'))
        batch_op.drop_index(batch_op.f('ix_login_session_last_seen_at'))
    op.drop_table('login_session')
    with op.batch_alter_table('sync_v1_mac', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sync_v1_mac_seen_at'))
    op.drop_table('sync_v1_mac')
    with op.batch_alter_table('camera', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_camera_registered_by_id_users'), type_='foreignkey')
        batch_op.drop_column('registered_by_id')
