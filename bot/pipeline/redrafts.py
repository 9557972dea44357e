"""Drafts redone after a person corrected a message's label (bot/review/decisions.py `correct`).

The correction itself is quick: feedback, the new label, the old drafts superseded and a
`redraft` row, in one transaction. Drafting again may embed the text and load the model, so
the worker does it in its next round, outside any request, with the embedding computed before
its write transaction opens (the FAQ search and crisis detection reuse it)."""

from __future__ import annotations

import logging

from sqlalchemy import delete
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from bot.pipeline.drafting import Drafting, draft_message, next_ranks
from db.engine import session_scope
from db.enums import MessageState
from db.models import Contact, Message, Redraft, User
from nlp.types import Classification

log = logging.getLogger(__name__)
BATCH = 8  # corrections redrafted per worker round


def redraft_corrected(engine: Engine, drafting: Drafting, limit: int = BATCH) -> int:
    """Redraft up to `limit` corrected messages, oldest correction first; how many were."""
    with Session(engine) as session:
        owed = session.exec(select(Redraft).order_by(col(Redraft.requested_at)).limit(limit)).all()
        ids = [r.message_id for r in owed]
        messages = {m.id: m for m in session.exec(select(Message).where(col(Message.id).in_(ids)))}
        session.expunge_all()
    done = 0
    for row in owed:
        message = messages.get(row.message_id)
        vector, model = _embedding(drafting, message.text or "" if message else "")
        if message is not None:  # the FAQ index too is built before the transaction
            drafting.playbooks.prepare([corrected(message, "", vector, model)])
        try:
            done += _redraft(engine, drafting, row, vector, model)
        except Exception:  # one message must not hold back the others; its row stays
            log.exception("redrafting corrected message %s failed", row.message_id)
    return done


def _embedding(drafting: Drafting, text: str):
    """The text's "query: " embedding from the shared encoder, outside any transaction."""
    embed = drafting.playbooks.faq.embed
    model = getattr(embed, "model", None)
    if embed is None or not model or not text.strip():
        return None, ""
    try:
        return embed([text.strip()], "query: ")[0], model
    except Exception:  # no encoder here: FAQ search degrades as it does for new messages
        log.exception("redraft: embedding the corrected message failed")
        return None, ""


def _redraft(engine: Engine, drafting: Drafting, row: Redraft, vector, model: str) -> int:
    with session_scope(engine) as session:
        taken = session.exec(
            delete(Redraft).where(
                col(Redraft.message_id) == row.message_id,
                col(Redraft.requested_at) == row.requested_at,
            )
        )
        if taken.rowcount != 1:  # another worker took it, or a newer correction replaced it
            return 0
        message = session.get(Message, row.message_id, with_for_update=True)
        if message is None or message.state != MessageState.PROCESSED:
            return 0
        user = session.get(User, row.user_id) if row.user_id else None
        result = corrected(message, user.username if user else "a reviewer", vector, model)
        contact = session.get(Contact, message.contact_id) if message.contact_id else None
        first_rank = next_ranks(session, [row.message_id])[row.message_id]
        draft_message(drafting, session, message, result, message.stage or "identification",
                      contact, allow_auto=False, first_rank=first_rank)  # fmt: skip
    return 1


def corrected(message: Message, username: str, vector=None, model: str = "") -> Classification:
    """The message's classification as people corrected it."""
    return Classification(
        type=message.type or "other",
        scores=message.type_scores or {},
        sentiment=message.sentiment or 0.0,
        language=message.language or "en",
        suggestion=bool(message.suggestion),
        subtype=message.subtype,
        confidence=1.0,
        model=f"corrected by {username}",
        embedding=vector,
        embedding_model=model if vector is not None else "",
    )
