"""Adapters: staff review cards and edit prompts for the Telegram staff chat.

Revision ID: 0002_adapters
Revises: 0001
Create Date: 2026-11-22 17:23:53.277112
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import db.types

revision: str = '0002_adapters'
down_revision: str | Sequence[str] | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('staffcard',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('message_id', sa.Integer(), nullable=False),
    sa.Column('draft_id', sa.Integer(), nullable=False),
    sa.Column('chat_id', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
    sa.Column('platform_message_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('text', sa.Text(), nullable=True),
    sa.Column('created_at', db.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('claimed_until', db.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('sent_at', db.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('closed_at', db.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', db.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['draft_id'], ['draft.id'], ),
    sa.ForeignKeyConstraint(['message_id'], ['message.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('message_id')
    )
    with op.batch_alter_table('staffcard', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_staffcard_draft_id'), ['draft_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_staffcard_sent_at'), ['sent_at'], unique=False)

    op.create_table('staffeditrequest',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('draft_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('chat_id', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
    sa.Column('card_message_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('prompt_message_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('created_at', db.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('claimed_until', db.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('prompted_at', db.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('used_at', db.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', db.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['draft_id'], ['draft.id'], ),
    sa.ForeignKeyConstraint(['user_id'], ['user.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('staffeditrequest', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_staffeditrequest_prompt_message_id'), ['prompt_message_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('staffeditrequest', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_staffeditrequest_prompt_message_id'))

    op.drop_table('staffeditrequest')
    with op.batch_alter_table('staffcard', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_staffcard_sent_at'))
        batch_op.drop_index(batch_op.f('ix_staffcard_draft_id'))

    op.drop_table('staffcard')
