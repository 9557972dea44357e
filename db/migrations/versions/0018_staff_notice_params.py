"""i18n: a staff notice keeps its figures, so each reader gets it in their own language

Revision ID: 0018_staff_notice_params
Revises: 0017_layout_job_refs
Create Date: 2026-12-06 21:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018_staff_notice_params"
down_revision: str | Sequence[str] | None = "0017_layout_job_refs"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("staffnotice", schema=None) as batch_op:
        batch_op.add_column(sa.Column("params", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("staffnotice", schema=None) as batch_op:
        batch_op.drop_column("params")
