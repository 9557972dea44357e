"""content calendar: scheduled posts and each occurrence of them

Revision ID: 0004_calendar
Revises: 0003_scheduler
Create Date: 2026-11-22 17:21:06.695359
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import db.types

revision: str = '0004_calendar'
down_revision: str | Sequence[str] | None = '0003_scheduler'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('post',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('image', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
    sa.Column('channel', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('target', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('scheduled_at', db.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('cron', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
    sa.Column('timezone', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('stage_goal', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', db.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('approved_by_id', sa.Integer(), nullable=True),
    sa.Column('approved_at', db.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('cancelled_by_id', sa.Integer(), nullable=True),
    sa.Column('cancelled_at', db.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('sent_at', db.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['approved_by_id'], ['user.id'], ),
    sa.ForeignKeyConstraint(['cancelled_by_id'], ['user.id'], ),
    sa.ForeignKeyConstraint(['created_by_id'], ['user.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('post', schema=None) as batch_op:
        batch_op.create_index('ix_post_status_scheduled_at', ['status', 'scheduled_at'], unique=False)

    op.create_table('postrun',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('post_id', sa.Integer(), nullable=False),
    sa.Column('scheduled_for', db.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('started_at', db.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('finished_at', db.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('platform_message_id', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
    sa.Column('message_id', sa.Integer(), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['message_id'], ['message.id'], ),
    sa.ForeignKeyConstraint(['post_id'], ['post.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('post_id', 'scheduled_for')
    )
    with op.batch_alter_table('postrun', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_postrun_post_id'), ['post_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_postrun_scheduled_for'), ['scheduled_for'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('postrun', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_postrun_scheduled_for'))
        batch_op.drop_index(batch_op.f('ix_postrun_post_id'))

    op.drop_table('postrun')
    with op.batch_alter_table('post', schema=None) as batch_op:
        batch_op.drop_index('ix_post_status_scheduled_at')

    op.drop_table('post')
