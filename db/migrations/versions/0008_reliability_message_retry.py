"""reliability: message retry time, for poison messages

Revision ID: 0008_reliability
Revises: 0007_crisis
Create Date: 2026-11-22 18:35:57.438887
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import db.types

revision: str = '0008_reliability'
down_revision: str | Sequence[str] | None = '0007_crisis'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('message', schema=None) as batch_op:
        batch_op.add_column(sa.Column('retry_at', db.types.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('message', schema=None) as batch_op:
        batch_op.drop_column('retry_at')
