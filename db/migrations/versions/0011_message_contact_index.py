"""message: an index on (contact_id, id)

A contact's history (the stage rules, repeat trolls, crisis membership) was found by scanning
every processed message: each message's drafting grew slower as the inbox grew.

Revision ID: 0011_message_contact
Revises: 0010_crisis_feed
Create Date: 2026-11-22 23:55:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0011_message_contact"
down_revision: str | Sequence[str] | None = "0010_crisis_feed"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_message_contact_id", "message", ["contact_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_message_contact_id", table_name="message")
