"""reliability: failed console logins, for the login rate limit

Revision ID: 0005_reliability
Revises: 0004_calendar
Create Date: 2026-11-22 17:24:12.558080
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


import db.types

revision: str = '0005_reliability'
down_revision: str | Sequence[str] | None = '0004_calendar'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('loginfailure',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('username', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('ip', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('at', db.types.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('loginfailure', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_loginfailure_at'), ['at'], unique=False)
        batch_op.create_index('ix_loginfailure_ip_at', ['ip', 'at'], unique=False)
        batch_op.create_index('ix_loginfailure_username_at', ['username', 'at'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('loginfailure', schema=None) as batch_op:
        batch_op.drop_index('ix_loginfailure_username_at')
        batch_op.drop_index('ix_loginfailure_ip_at')
        batch_op.drop_index(batch_op.f('ix_loginfailure_at'))

    op.drop_table('loginfailure')
