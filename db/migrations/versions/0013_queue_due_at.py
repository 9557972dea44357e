"""review queue: each message's first-response deadline stored, and pending drafts by message

The console ordered the queue by computing every pending message's deadline in Python, after
loading all of them: with a backlog of thousands each refresh took seconds. With the deadline
stored when drafts are written, the database orders and pages the queue; the index finds the
pending messages without reading the drafts table. Messages drafted before this migration have
no stored deadline and are ordered as due when they arrived.

Revision ID: 0013_queue_due_at
Revises: 0012_state_version
Create Date: 2026-12-06 05:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import db.types

revision: str = "0013_queue_due_at"
down_revision: str | Sequence[str] | None = "0012_state_version"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("message", schema=None) as batch_op:
        batch_op.add_column(sa.Column("due_at", db.types.UTCDateTime(timezone=True), nullable=True))
    op.create_index("ix_draft_status_message_id", "draft", ["status", "message_id"])


def downgrade() -> None:
    op.drop_index("ix_draft_status_message_id", table_name="draft")
    with op.batch_alter_table("message", schema=None) as batch_op:
        batch_op.drop_column("due_at")
