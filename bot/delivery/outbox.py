"""The last step: deliver approved drafts through their channel and record what happened.

Drafts of one conversation go out one at a time in approval order; different conversations
go out concurrently. A transient failure is retried with backoff (or the platform's
retry_after); a permanent one, or too many attempts, marks the draft failed with the reason.
A failed draft whose attempt got no answer (timeout, 5xx) is flagged `maybe_sent`: it may have
reached the customer, so the console says so instead of inviting a blind resend.

Several processes may run an outbox on one database. Before calling the platform a process
claims the draft with a lease: in one short transaction it locks the draft row
(`FOR UPDATE SKIP LOCKED` on PostgreSQL; SQLite has one writer), checks it is still approved
and due, counts the attempt and moves `next_attempt_at` to the end of the lease. Other
processes see a draft that is not due and, because it is still the oldest approved draft of its
conversation, leave the whole conversation alone, which keeps replies in order. The result is
recorded when the platform answers. If the process dies mid-send, the lease runs out and
another process sends again with the draft's idempotency key, which lets the platform drop the
repeat; the lease must outlast a channel's request timeout.

A send the channel deferred (its rate limit has no slot yet) waits without using an attempt."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import or_
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from bot import metrics
from db.engine import session_scope
from db.enums import DraftStatus, MessageState
from db.models import Contact, Conversation, Draft, Message
from db.types import utcnow
from handlers.base import Channel, OutboundReply, SendResult
from handlers.redact import redact

log = logging.getLogger(__name__)
READY = (DraftStatus.APPROVED, DraftStatus.EDITED)
BLOCKED = (
    "not sent: the person unfollowed (blocked) the account; nothing goes to them until they "
    "follow again"
)


@dataclass
class Outbox:
    engine: Engine
    channels: dict[str, Channel]
    max_attempts: int = 5
    lease_seconds: float = 120.0
    _busy: set[int] = field(default_factory=set)  # conversations with a send in flight

    def due(self, limit: int = 50) -> list[Draft]:
        """The next draft of each conversation whose turn it is."""
        now = utcnow()
        with Session(self.engine) as session:
            drafts = session.exec(
                select(Draft)
                .where(col(Draft.status).in_(READY))
                .order_by(col(Draft.approved_at), col(Draft.id))
                .limit(limit * 4)
            ).all()
        heads: dict[int, Draft] = {}
        for d in drafts:
            heads.setdefault(d.conversation_id, d)
        return [
            d
            for d in heads.values()
            if d.conversation_id not in self._busy
            and (d.next_attempt_at is None or d.next_attempt_at <= now)
        ][:limit]

    def claim(self, drafts: list[Draft]) -> list[tuple[Draft, datetime]]:
        """Lease the drafts no other process is sending; returns them with their lease end.
        A draft that used up its attempts (e.g. every try died with its process) fails."""
        if not drafts:
            return []
        now = utcnow()
        lease_until = now + timedelta(seconds=self.lease_seconds)
        claimed = []
        with session_scope(self.engine) as session:
            rows = session.exec(
                select(Draft)
                .where(
                    col(Draft.id).in_([d.id for d in drafts]),
                    col(Draft.status).in_(READY),
                    or_(col(Draft.next_attempt_at).is_(None), col(Draft.next_attempt_at) <= now),
                )
                .with_for_update(skip_locked=True)
            ).all()
            for draft in rows:
                if draft.send_attempts >= self.max_attempts:
                    # the last attempt never recorded an answer: its process died mid-send
                    draft.status, draft.maybe_sent = DraftStatus.FAILED, True
                    draft.error = draft.error or f"gave up after {draft.send_attempts} attempts"
                    metrics.SEND_FAILURES.labels("unknown", "failed").inc()
                else:
                    draft.send_attempts += 1
                    draft.next_attempt_at = lease_until
                    claimed.append((draft, lease_until))
                session.add(draft)
        return claimed

    async def send_due(self) -> int:
        due = self.due()
        for draft in due:  # no other send of these conversations starts in this process
            self._busy.add(draft.conversation_id)
        try:
            claimed = await asyncio.to_thread(self.claim, due)
            await asyncio.gather(*(self._send(d, lease) for d, lease in claimed))
        finally:
            for draft in due:
                self._busy.discard(draft.conversation_id)
        return len(claimed)

    async def _send(self, draft: Draft, lease_until: datetime) -> None:
        assert draft.id is not None  # claimed from the table
        try:
            reply, channel, blocked = await asyncio.to_thread(self._prepare, draft)
            if blocked:
                result = SendResult(False, error=BLOCKED, permanent=True)
            elif channel is None:
                result = SendResult(
                    False, error=f"channel {reply.channel} is not configured", permanent=True
                )
            else:
                try:
                    result = await channel.send(reply)
                except Exception as exc:  # a bug or network error must not kill the outbox
                    log.exception("sending draft %s failed", draft.id)
                    result = SendResult(False, error=f"{type(exc).__name__}: {exc}", unknown=True)
            await asyncio.to_thread(self.record, draft.id, reply, result, lease_until)
        except Exception:  # the database may be away; the lease runs out and it is retried
            log.exception("draft %s: sending could not be completed", draft.id)

    def _prepare(self, draft: Draft) -> tuple[OutboundReply, Channel | None, bool]:
        """The reply, its channel, and whether the person blocked the account (unfollowed)."""
        with Session(self.engine) as session:
            message = session.get(Message, draft.message_id)
            conversation = session.get(Conversation, draft.conversation_id)
            assert message is not None and conversation is not None  # the draft's foreign keys
            contact = session.get(Contact, message.contact_id) if message.contact_id else None
        blocked = contact is not None and contact.blocked and conversation.kind == "direct"
        assert draft.id is not None
        reply = OutboundReply(
            draft_id=draft.id,
            channel=conversation.channel,
            chat_id=conversation.chat_id,
            chat_kind=conversation.kind,
            text=draft.text,
            idempotency_key=draft.idempotency_key or f"draft-{draft.id}",
            reply_to_platform_message_id=message.platform_message_id,
            reply_token=message.reply_token,
            reply_token_received_at=message.received_at,
        )
        return reply, self.channels.get(conversation.channel), blocked

    def record(
        self,
        draft_id: int,
        reply: OutboundReply,
        result: SendResult,
        lease_until: datetime | None = None,
    ) -> None:
        """Store what the platform answered. A failure is only recorded while our lease holds:
        past it another process may already be sending this draft again."""
        now = utcnow()
        with session_scope(self.engine) as session:
            draft = session.get(Draft, draft_id, with_for_update=True)
            if draft is None or draft.status not in READY:
                return
            if not result.ok and lease_until and draft.next_attempt_at != lease_until:
                log.warning("draft %s: lease ran out while sending; left to the next try", draft_id)
                return
            draft.maybe_sent = draft.maybe_sent or result.unknown
            if result.deferred:  # nothing went out: a rate limit asks to wait, not an attempt
                draft.send_attempts = max(0, draft.send_attempts - 1)
                draft.next_attempt_at = now + timedelta(seconds=result.retry_after or 1)
                session.add(draft)
                return
            if result.ok:
                conversation = session.get(Conversation, draft.conversation_id)
                assert conversation is not None  # the draft's foreign key
                sent = Message(
                    channel=conversation.channel,
                    conversation_id=draft.conversation_id,
                    direction="out",
                    text=draft.text,
                    platform_message_id=result.platform_message_id,
                    state=MessageState.IGNORED,
                    sent_at=now,
                )
                session.add(sent)
                session.flush()
                draft.status, draft.sent_at, draft.sent_message_id = DraftStatus.SENT, now, sent.id
                draft.error, draft.next_attempt_at = None, None
                metrics.SENT.labels(reply.channel).inc()
            elif result.permanent or draft.send_attempts >= self.max_attempts:
                draft.status = DraftStatus.FAILED
                draft.error = redact(result.error or "failed")
                log.warning("draft %s failed: %s", draft_id, draft.error)
                metrics.SEND_FAILURES.labels(reply.channel, "failed").inc()
            else:
                delay = result.retry_after or min(300, 2**draft.send_attempts)
                draft.next_attempt_at = now + timedelta(seconds=delay)
                draft.error = redact(result.error) if result.error else None
                metrics.SEND_FAILURES.labels(reply.channel, "retry").inc()
            session.add(draft)
