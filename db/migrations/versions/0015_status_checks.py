"""types: CHECK constraints keep every status and role column to its enum's values

The values are written out here (not read from db/enums.py) so this migration keeps meaning
what it meant when a later one changes an enum. SQLite cannot add a constraint to a table, so
batch mode copies each table; PostgreSQL checks the rows already there.

Revision ID: 0015_status_checks
Revises: 0014_security
Create Date: 2026-12-06 18:00:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0015_status_checks"
down_revision: str | Sequence[str] | None = "0014_security"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ROLES = ("agent", "supervisor", "admin")
CHECKS: dict[str, dict[str, tuple[str, ...]]] = {
    "message": {"state": ("received", "processed", "ignored", "failed")},
    "draft": {
        "status": (
            "pending", "approved", "edited", "sent", "failed", "rejected", "superseded",
            "withdrawn",
        ),
        "required_role": ROLES,
    },
    "user": {"role": ROLES},
    "post": {"status": ("planned", "approved", "sent", "failed", "missed", "cancelled")},
    "postrun": {"status": ("sending", "sent", "failed", "missed")},
    "incident": {"status": ("open", "acknowledged", "resolved")},
    "ticket": {"status": ("open", "closed")},
    "proposal": {"status": ("open", "under_review", "adopted", "declined")},
}  # fmt: skip


def upgrade() -> None:
    for table, columns in CHECKS.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            for column, values in columns.items():
                listed = ", ".join(f"'{value}'" for value in values)
                batch_op.create_check_constraint(f"ck_{table}_{column}", f"{column} IN ({listed})")


def downgrade() -> None:
    for table, columns in CHECKS.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            for column in columns:
                batch_op.drop_constraint(f"ck_{table}_{column}", type_="check")
