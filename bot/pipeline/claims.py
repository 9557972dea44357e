"""Claiming conversations across processes, so several replyline processes on one PostgreSQL
database never work on the same conversation at the same time.

On PostgreSQL a process claims a conversation with a transaction-scoped advisory lock,
`pg_try_advisory_xact_lock(namespace, conversation_id)`, taken on a connection it keeps open
while it works and rolls back when done. Another process skips a conversation whose lock is
taken (like `FOR UPDATE SKIP LOCKED`, but nothing is written and no row is locked, so webhooks
keep storing new messages into a claimed conversation without waiting). If the process dies,
PostgreSQL drops its connection and the lock with it: no lease to expire, no cleanup.

On SQLite there is one writer at a time and one replyline process per database file; every
claim is granted, and the guarded state updates in the pipeline keep work exactly once."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from sqlalchemy import bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import Engine
from sqlalchemy.types import Integer

# The first key of replyline's two-key advisory locks ("RL" + 1). Single-bigint advisory
# locks (e.g. a scheduler leader lock) live in a separate key space and never collide.
PIPELINE = 0x524C_0001

_TRY_LOCK = text(
    "SELECT id FROM unnest(:ids) AS id WHERE pg_try_advisory_xact_lock(:namespace, id)"
).bindparams(bindparam("ids", type_=ARRAY(Integer)))


@contextmanager
def claim_conversations(
    engine: Engine, conversation_ids: Sequence[int], namespace: int = PIPELINE
) -> Iterator[set[int]]:
    """The subset of `conversation_ids` this process may work on until the block ends."""
    if not conversation_ids:
        yield set()
        return
    if engine.dialect.name != "postgresql":
        yield set(conversation_ids)
        return
    with engine.connect() as connection:
        # No LIMIT in this query: every candidate is tried exactly once, so we hold exactly
        # the locks of the ids returned.
        claimed = set(
            connection.execute(
                _TRY_LOCK, {"ids": list(conversation_ids), "namespace": namespace}
            ).scalars()
        )
        try:
            yield claimed
        finally:
            connection.rollback()  # ends the transaction: every lock taken above is released
