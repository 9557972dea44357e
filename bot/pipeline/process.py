"""Steps two to four of the pipeline: classify stored messages, update the sender's stage and
draft replies, each message in one transaction.

A message's results, the stage change and its drafts commit together, guarded by the message
still being `received`; so work interrupted by a crash is simply done again after a restart,
and work that committed is never done twice.

Several processes (`replyline serve` and `replyline worker`) may share one PostgreSQL
database. Each round a process picks the conversations with the oldest waiting messages and
claims them (bot/pipeline/claims.py: an advisory lock per conversation, skipped when another process
holds it); it reads the waiting messages of its conversations only after claiming them,
classifies them once, and processes them oldest first, one commit each, before letting go.
So each message is classified and drafted by one process, and a conversation's messages are
processed in the order they arrived. On PostgreSQL results are committed a few messages at a
time (one disk flush for several); SQLite commits each message alone, because its write lock
covers the whole database and webhooks waiting to store must not wait for four messages'
drafting. The senders' contact rows are locked, in id order, for the length of that
transaction, since one person can write in several conversations at once.

A message that cannot be classified or drafted (a poison message) must not stop the worker:
the failed attempt is counted on the message with its (redacted) error, it is retried after a
backoff that doubles each time, and after `max_attempts` it is marked `failed` and shown in
the console. While it waits, the later messages of its conversation wait too, so they stay in
order; other conversations go on. A database outage is not the message's fault and counts
nothing (the worker waits and tries again)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial
from typing import Protocol, TypeGuard

from sqlalchemy import func, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, col, select

from bot.metrics import PROCESSING_FAILURES, observe_processed
from bot.pipeline.claims import claim_conversations
from bot.pipeline.drafting import DraftHook, Drafting, draft_message
from bot.pipeline.model_thread import ModelThread
from db.engine import session_scope
from db.enums import DraftStatus, MessageState
from db.models import Contact, Draft, Message, StageTransition
from db.types import utcnow
from handlers.redact import redact
from nlp.context import CONTEXT_TURNS, is_follow_up, takes_contexts
from nlp.stage import Signal, decide_stage
from nlp.types import Classification, Classifier
from playbooks.engine import Playbooks

log = logging.getLogger(__name__)
HISTORY = 20  # past messages of a contact the stage rules look at
SCAN = 1000  # waiting messages looked at to pick the next conversations
COMMIT_EVERY = 4  # messages per transaction on PostgreSQL: fewer disk flushes, locks still short
# how long a new sender's message waits for the display name its channel looks up after the
# acknowledgement (bot/pipeline/names.py), so the first draft greets them by name
NAME_WAIT = timedelta(seconds=3)
# an edited message is drafted afresh unless a reply to it is open or sent
ANSWERED = (DraftStatus.PENDING, DraftStatus.APPROVED, DraftStatus.EDITED, DraftStatus.SENT)


class ClassifiesInContext(Protocol):
    """A classifier whose `classify` also reads each text's previous turns (the model's)."""

    def classify(
        self, texts: list[str], contexts: Sequence[Sequence[str] | None] | None = None
    ) -> list[Classification]: ...


def _in_context(model: Classifier) -> TypeGuard[ClassifiesInContext]:
    """`takes_contexts`, in words the type checker follows."""
    return takes_contexts(model)


class PipelineHook(DraftHook, Protocol):
    """The extension point for features that act on classified messages (crisis detection).

    `drafts` (bot/pipeline/drafting.py DraftHook) may answer a message instead of the playbook;
    `processed` sees what a round committed, and an empty batch after an idle round, so hooks
    that keep time get a turn. A hook may also have `stored(session, stored)`, run inside the
    transaction that stores those messages, for records that must commit with them (crisis
    detection's feed across processes)."""

    def processed(self, messages: list[Message], results: list[Classification]) -> None: ...


@dataclass
class Pipeline:
    engine: Engine
    classifier: Callable[[], Classifier]  # loaded lazily: the model takes seconds to load
    playbooks: Playbooks
    brand: str = "replyline"
    auto_send: bool = False
    auto_send_min_confidence: float = 0.85
    acknowledge: bool = True  # handoff and after-hours acknowledgements go out on their own
    hooks: list[PipelineHook] = field(default_factory=list)
    max_attempts: int = 5  # a message failing this often is marked `failed`
    retry_seconds: float = 30.0  # the wait after a failed attempt, doubling each time
    model_thread: ModelThread = field(default_factory=ModelThread)  # lower CPU priority
    names_later: frozenset[str] = frozenset()  # channels whose names arrive after the ack

    def pending(self, limit: int, conversations: set[int] | None = None) -> list[Message]:
        """Messages waiting to be processed, oldest first (only of `conversations` if given)."""
        query = select(Message).where(Message.state == MessageState.RECEIVED)
        if conversations is not None:
            query = query.where(col(Message.conversation_id).in_(conversations))
        with Session(self.engine) as session:
            return list(session.exec(query.order_by(col(Message.id)).limit(limit)))

    def held_back(self) -> set[int]:
        """Conversations with a message that failed and waits for its retry, or whose new
        sender's display name is still being looked up (at most NAME_WAIT)."""
        now = utcnow()
        retrying = select(Message.conversation_id).where(
            Message.state == MessageState.RECEIVED, col(Message.retry_at) > now
        )
        with Session(self.engine) as session:
            held = set(session.exec(retrying.distinct()))
            if self.names_later:
                naming = (
                    select(Message.conversation_id)
                    .join(Contact, col(Contact.id) == Message.contact_id)
                    .where(
                        Message.state == MessageState.RECEIVED,
                        col(Message.channel).in_(self.names_later),
                        Message.received_at > now - NAME_WAIT,
                        col(Contact.display_name).is_(None),
                    )
                    .distinct()
                )
                held |= set(session.exec(naming))
            return held

    def waiting_conversations(self, limit: int, held: Collection[int] = frozenset()) -> list[int]:
        """Conversations with waiting messages (not `held` back), the one waiting longest
        first."""
        waiting = select(Message.id, Message.conversation_id).where(
            Message.state == MessageState.RECEIVED
        )
        if held:
            waiting = waiting.where(col(Message.conversation_id).not_in(held))
        oldest = waiting.order_by(col(Message.id)).limit(SCAN).subquery()
        with Session(self.engine) as session:
            return list(
                session.exec(
                    select(oldest.c.conversation_id)
                    .group_by(oldest.c.conversation_id)
                    .order_by(func.min(oldest.c.id))
                    .limit(limit)
                )
            )

    def process_pending(self, limit: int = 32) -> int:
        """Process up to `limit` stored messages of conversations no other process is working
        on, oldest first. Returns how many were done. Hooks see what the round committed, and
        an empty batch after an idle round."""
        candidates = self.waiting_conversations(limit, self.held_back())
        with claim_conversations(self.engine, candidates) as claimed:
            messages = self.pending(limit, claimed) if claimed else []
            if not messages:
                self.run_hooks([])
                return 0
            results = self.classify(messages)
            self.playbooks.prepare(results)  # slow first steps outside the write transactions
            work = list(zip(messages, results, strict=True))
            stopped: set[int] = set()  # conversations with a message that failed this round
            every = 1 if self.engine.dialect.name == "sqlite" else COMMIT_EVERY
            done: list[tuple[Message, Classification]] = []
            try:
                for start in range(0, len(work), every):
                    done += self.store_results(work[start : start + every], stopped)
            finally:  # once a round: crisis detection looks at the batch as a whole
                self.run_hooks(done)
        return len(messages)

    def run_hooks(self, stored: list[tuple[Message, Classification]]) -> None:
        for hook in self.hooks:
            hook.processed([m for m, _ in stored], [r for _, r in stored])

    def store_results(
        self,
        work: list[tuple[Message, Classification | Exception]],
        stopped: set[int] | None = None,
    ) -> list[tuple[Message, Classification]]:
        """Store a few messages' results in one transaction, oldest first, and return those
        this process stored. If one of them fails, they are stored one at a time, so only the
        failing one is held back (`fail`), with the later messages of its conversation, which
        are skipped once their conversation is in `stopped`."""
        stopped = set() if stopped is None else stopped
        ready: list[tuple[Message, Classification]] = []
        for message, result in work:
            if message.conversation_id in stopped:
                continue
            if isinstance(result, Exception):
                self.fail(message, result)
                stopped.add(message.conversation_id)
            else:
                ready.append((message, result))
        if not ready:
            return []
        started = utcnow()
        try:
            with session_scope(self.engine) as session:
                self.lock_contacts(session, [m for m, _ in ready])
                done = [self.process_one(session, m, r) for m, r in ready]
                for hook in self.hooks:
                    if hasattr(hook, "stored"):
                        hook.stored(session, [i for i, ok in zip(ready, done, strict=True) if ok])
        except OperationalError:
            raise  # the database is away: nothing is the message's fault
        except Exception as error:
            if len(ready) > 1:
                return [stored for item in ready for stored in self.store_results([item], stopped)]
            self.fail(ready[0][0], error)
            stopped.add(ready[0][0].conversation_id)
            return []
        stored = [item for item, ok in zip(ready, done, strict=True) if ok]
        for message, _ in stored:
            observe_processed(message.received_at, started)
        return stored

    def fail(self, message: Message, error: Exception) -> None:
        """Count a failed attempt at `message`: it is retried after a backoff, or, after
        `max_attempts`, marked `failed` with the reason (redacted: it may quote anything)."""
        reason = redact(f"{type(error).__name__}: {error}")[:500]
        now = utcnow()
        with session_scope(self.engine) as session:
            row = session.exec(
                select(Message)
                .where(Message.id == message.id, Message.state == MessageState.RECEIVED)
                .with_for_update()
            ).first()
            if row is None:  # another process finished it meanwhile
                return
            row.attempts, row.error = row.attempts + 1, reason
            if row.attempts >= self.max_attempts:
                row.state, row.processed_at, row.retry_at = MessageState.FAILED, now, None
            else:
                delay = self.retry_seconds * 2 ** (row.attempts - 1)
                row.retry_at = now + timedelta(seconds=delay)
            session.add(row)
            attempts, state = row.attempts, row.state
        PROCESSING_FAILURES.labels("failed" if state == MessageState.FAILED else "retry").inc()
        log.warning(
            "message %s could not be processed (attempt %d of %d%s): %s",
            message.id,
            attempts,
            self.max_attempts,
            ", given up" if state == MessageState.FAILED else "",
            reason,
        )

    def classify(self, messages: list[Message]) -> list[Classification | Exception]:
        """Each message's classification; where the classifier fails on some message, the
        exception in its place (the model is tried one message at a time to find which)."""
        texts = [i for i, m in enumerate(messages) if m.text and m.text.strip()]
        results: list[Classification | Exception] = [non_text(m.content_type) for m in messages]
        if not texts:
            return results
        model = self.classifier()  # a model that cannot load raises: no message's fault
        call: Callable[[list[str]], list[Classification]] = model.classify
        if _in_context(model):
            call = partial(model.classify, contexts=self.contexts([messages[i] for i in texts]))
        found: Sequence[Classification | Exception]
        try:
            found = self.model_thread.run(call, [messages[i].text for i in texts])
        except OperationalError:
            raise
        except Exception as error:
            single = len(texts) == 1
            found = [error] if single else [self.classify([messages[i]])[0] for i in texts]
        for i, result in zip(texts, found, strict=True):
            results[i] = result
        return results

    def contexts(self, messages: list[Message]) -> list[list[str]]:
        """For each message that reads as a follow-up (「那…呢？」, "and for Japan?"), the
        conversation's previous turns, oldest first; an empty list for the others."""
        out: list[list[str]] = [[] for _ in messages]
        wanted = [i for i, m in enumerate(messages) if m.id and is_follow_up(m.text or "")]
        if not wanted:
            return out
        with Session(self.engine) as session:
            for i in wanted:
                m = messages[i]
                rows = session.exec(
                    select(Message.text)
                    .where(
                        Message.conversation_id == m.conversation_id,
                        col(Message.id) < m.id,
                        col(Message.text).is_not(None),
                    )
                    .order_by(col(Message.id).desc())
                    .limit(CONTEXT_TURNS)
                ).all()
                out[i] = [t for t in reversed(rows) if t and t.strip()]
        return out

    @staticmethod
    def lock_contacts(session: Session, messages: list[Message]) -> None:
        """Lock (and load) the senders' contact rows, always in id order so that two processes
        never deadlock on them. FOR NO KEY UPDATE (`key_share`), not FOR UPDATE: webhooks
        storing these senders' new messages meanwhile (whose foreign keys take KEY SHARE
        locks) must not wait for the drafting."""
        ids = sorted({m.contact_id for m in messages if m.contact_id})
        if ids:
            session.exec(
                select(Contact)
                .where(col(Contact.id).in_(ids))
                .order_by(col(Contact.id))
                .with_for_update(key_share=True)
            ).all()

    def process_one(self, session: Session, message: Message, result: Classification) -> bool:
        """Store one message's results and drafts; False if another worker already did.
        The caller has locked the sender's contact row (`lock_contacts`)."""
        now = utcnow()
        claimed = session.exec(
            update(Message)
            .where(col(Message.id) == message.id, col(Message.state) == MessageState.RECEIVED)
            .values(
                state=MessageState.PROCESSED,
                processed_at=now,
                type=result.type,
                type_scores=result.scores,
                subtype=result.subtype,
                sentiment=result.sentiment,
                language=result.language,
                suggestion=result.suggestion,
                confidence=result.confidence,
                low_confidence=result.low_confidence,
            )
            .execution_options(synchronize_session=False)
        )
        if claimed.rowcount != 1:
            return False
        contact = session.get(Contact, message.contact_id) if message.contact_id else None
        stage = self.update_stage(session, contact, message) if contact else "identification"
        session.exec(
            update(Message)
            .where(col(Message.id) == message.id)
            .values(stage=stage)
            .execution_options(synchronize_session=False)
        )
        if message.kind == "message":
            self.draft(session, message, result, stage, contact)
        elif message.kind == "edit" and message.edit_of_id is not None:
            self.redraft_edited(session, message.edit_of_id, result, stage, contact)
        return True

    def redraft_edited(self, session, original_id: int, result, stage, contact) -> None:
        """An edited message is answered afresh, as the original (which shows the new words:
        bot/privacy/lifecycle.py withdrew the replies to the old ones), unless a reply is open or
        sent."""
        original = session.get(Message, original_id)
        if original is None or original.text is None:
            return
        statuses = session.exec(select(Draft.status).where(Draft.message_id == original_id)).all()
        if not any(s in ANSWERED for s in statuses):
            self.draft(session, original, result, stage, contact)

    def update_stage(self, session: Session, contact: Contact, message: Message) -> str:
        rows = session.exec(
            select(Message.sent_at, Message.type, Message.sentiment, Message.suggestion)
            .where(
                Message.contact_id == contact.id,
                Message.direction == "in",
                Message.state == MessageState.PROCESSED,
                Message.kind == "message",
                col(Message.id) <= message.id,
            )
            .order_by(col(Message.id).desc())
            .limit(HISTORY)
        ).all()
        history = [Signal(r[0], r[1], r[2], bool(r[3])) for r in reversed(rows)]
        contact.message_count += 1
        # ingest leaves last_seen_at alone while we hold the row (bot/pipeline/ingest.py)
        contact.last_seen_at = max(contact.last_seen_at, message.sent_at)
        if not history:
            return contact.stage
        previous = history[-2].at if len(history) > 1 else None
        decision = decide_stage(contact.stage, history, previous)
        if decision.reason is not None:  # the stage changed
            assert contact.id is not None  # a stored contact
            session.add(
                StageTransition(
                    contact_id=contact.id,
                    message_id=message.id,
                    from_stage=contact.stage,
                    to_stage=decision.stage,
                    reason=decision.reason,
                )
            )
            contact.stage = decision.stage
            contact.stage_changed_at = utcnow()
        session.add(contact)
        return contact.stage

    def drafting(self) -> Drafting:
        """What drafting needs, as things stand now (the playbooks may have been reloaded)."""
        return Drafting(
            playbooks=self.playbooks,
            brand=self.brand,
            acknowledge=self.acknowledge,
            auto_send=self.auto_send,
            auto_send_min_confidence=self.auto_send_min_confidence,
            hooks=tuple(self.hooks),
        )

    def draft(
        self,
        session: Session,
        message: Message,
        result: Classification,
        stage: str,
        contact: Contact | None,
    ) -> list[Draft]:
        return draft_message(self.drafting(), session, message, result, stage, contact)


def non_text(content_type: str) -> Classification:
    """Stickers, photos and voice without a caption are `other`: there is nothing to read."""
    return Classification(
        type="other",
        scores={"troll": 0.0, "complaint": 0.0, "advocate": 0.0, "question": 0.0, "other": 1.0},
        sentiment=0.0,
        language="other",
        confidence=1.0,
        model=f"non-text:{content_type}",
    )
