"""The states rows move through, one StrEnum each, shared by the tables and the code.

Each is a `str`, so members compare equal to the text stored and shown (`"sent" ==
DraftStatus.SENT`); the database refuses any other value with a CHECK constraint (`one_of`)."""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy import CheckConstraint


class MessageState(StrEnum):
    """Where an inbound message is in the pipeline."""

    RECEIVED = "received"  # still needs classifying and drafting
    PROCESSED = "processed"
    IGNORED = "ignored"  # a non-message event, or nothing to answer
    FAILED = "failed"  # gave up after several attempts


class DraftStatus(StrEnum):
    """pending → approved | edited → sent | failed; or rejected, superseded, withdrawn."""

    PENDING = "pending"
    APPROVED = "approved"
    EDITED = "edited"
    SENT = "sent"
    FAILED = "failed"
    REJECTED = "rejected"
    SUPERSEDED = "superseded"  # a sibling candidate was chosen
    WITHDRAWN = "withdrawn"  # the customer's message was edited, unsent or erased


class Role(StrEnum):
    """Console roles, weakest first: each may do what the ones before it may."""

    AGENT = "agent"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        return list(Role).index(self) + 1


class PostStatus(StrEnum):
    """planned → approved → sent | failed | missed; or cancelled."""

    PLANNED = "planned"
    APPROVED = "approved"
    SENT = "sent"
    FAILED = "failed"
    MISSED = "missed"
    CANCELLED = "cancelled"


class PostRunStatus(StrEnum):
    """One occurrence of a post: claimed as sending, then sent, failed or missed."""

    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    MISSED = "missed"


class IncidentStatus(StrEnum):
    """open → acknowledged → resolved."""

    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


class TicketStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class ProposalStatus(StrEnum):
    """open → under_review → adopted | declined."""

    OPEN = "open"
    UNDER_REVIEW = "under_review"
    ADOPTED = "adopted"
    DECLINED = "declined"


def one_of(table: str, column: str, values: type[StrEnum]) -> CheckConstraint:
    """The CHECK constraint that keeps `column` to the enum's values (named for migrations)."""
    return CheckConstraint(check_sql(column, values), name=f"ck_{table}_{column}")


def check_sql(column: str, values: type[StrEnum]) -> str:
    listed = ", ".join(f"'{member.value}'" for member in values)
    return f"{column} IN ({listed})"
