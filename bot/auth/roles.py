"""Login roles ranked agent < supervisor < admin, in one place for the console, CLI, calendar
and crisis rules (they were read from review decisions and repeated in the queue)."""

from __future__ import annotations

from db.enums import Role
from db.models import User

ROLE_RANK: dict[str, int] = {role: role.rank for role in Role}


def rank(role: str | None) -> int:
    """A role's rank; 0 for a role nobody has (it opens nothing)."""
    return ROLE_RANK.get(role or "", 0)


def has_role(user: User, role: str) -> bool:
    """Whether `user` holds `role` or one above it; an unknown required role is never met."""
    return rank(user.role) >= ROLE_RANK.get(role, 99)
