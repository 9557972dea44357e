"""outbox: flag drafts whose send may have gone out without an answer

Revision ID: 0009_outbox
Revises: 0008_reliability
Create Date: 2026-11-22 20:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_outbox"
down_revision: str | Sequence[str] | None = "0008_reliability"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("draft", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("maybe_sent", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("draft", schema=None) as batch_op:
        batch_op.drop_column("maybe_sent")
