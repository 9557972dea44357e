"""Step one of the pipeline: store inbound events durably, once each.

A platform is acknowledged only after this commits, so an event that got a 2xx is on disk.
Redeliveries carry the same platform event id and are recognised instead of stored again.
Whatever a platform sends is made storable first (`clean`): no NUL characters or lone
surrogates, which PostgreSQL and UTF-8 refuse, and short fields cut to their column's length,
so odd input never turns into a 5xx that the platform would redeliver for ever.

Group commit: requests that arrive while another is being written are stored together in
the next transaction, so a busy process flushes to disk once per batch instead of once per
request (SQLite keeps synchronous=FULL). Every request is still answered only after the
commit that holds its events; if one request spoils a batch, each is stored on its own."""

from __future__ import annotations

import dataclasses
import hashlib
import math
import threading
import weakref
from dataclasses import dataclass
from typing import Any

from sqlalchemy import tuple_
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from db.engine import session_scope
from db.models import Contact, Conversation, Message
from handlers.base import InboundEvent

NEEDS_PROCESSING = {"message", "edit"}
# Column lengths of the short text fields an event fills (db/models/core.py).
FIELD_LENGTHS = {
    "event_id": 200,
    "chat_id": 128,
    "user_id": 128,
    "chat_title": 200,
    "user_name": 200,
    "platform_message_id": 200,
    "reply_to_platform_message_id": 200,
    "edit_of_platform_message_id": 200,
    "reply_token": 200,
    "kind": 32,
    "content_type": 32,
    "chat_kind": 16,
}


NAMES = {"chat_title", "user_name"}


def clean(value: Any) -> Any:
    """`value` (a string, or JSON-like data) without NUL characters, lone surrogates and
    non-finite numbers (which JSON columns refuse)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, str):
        if value.isascii():
            return value.replace("\x00", "")
        return value.encode("utf-8", "replace").decode("utf-8").replace("\x00", "")
    if isinstance(value, dict):
        return {clean(str(k)): clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean(v) for v in value]
    return value


def fit(value: str, length: int) -> str:
    """An identifier cut to `length`, still unique: a long one ends in a hash of the whole."""
    if len(value) <= length:
        return value
    return value[: length - 41] + "#" + hashlib.sha1(value.encode()).hexdigest()  # noqa: S324


def storable(event: InboundEvent) -> InboundEvent:
    changes = {"text": clean(event.text), "raw": clean(event.raw)}
    for name, length in FIELD_LENGTHS.items():
        value = getattr(event, name)
        if isinstance(value, str):
            value = clean(value)
            changes[name] = value[:length] if name in NAMES else fit(value, length)
    return dataclasses.replace(event, **changes)


@dataclass(frozen=True)
class Stored:
    event_id: str
    message_id: int
    duplicate: bool


def store_events(engine: Engine, events: list[InboundEvent]) -> list[Stored]:
    """Commit every event of one request together (with whatever other requests are waiting);
    returns once they are durable."""
    with _registry_lock:
        committer = _committers.get(engine)
        if committer is None:
            committer = _committers[engine] = GroupCommit(engine)
    return committer.store(events)


@dataclass
class _Request:
    events: list[InboundEvent]
    result: list[Stored] | None = None
    error: BaseException | None = None
    done: bool = False


class GroupCommit:
    """One writer at a time per engine; the writer stores every request waiting by then."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self._waiting: list[_Request] = []
        self._waiting_lock = threading.Lock()
        self._writer = threading.Lock()

    def store(self, events: list[InboundEvent]) -> list[Stored]:
        request = _Request(events)
        with self._waiting_lock:
            self._waiting.append(request)
        with self._writer:
            if not request.done:
                with self._waiting_lock:
                    batch, self._waiting = self._waiting, []
                self._commit(batch)
        if request.error is not None:
            raise request.error
        return request.result or []

    def _commit(self, batch: list[_Request]) -> None:
        if len(batch) > 1:
            try:
                with session_scope(self.engine) as session:
                    stored = iter(_store(session, [storable(e) for r in batch for e in r.events]))
                    results = [[next(stored) for _ in r.events] for r in batch]
            except Exception:  # noqa: S110 (one request spoiled the batch: each on its own)
                pass
            else:
                for request, result in zip(batch, results, strict=True):
                    request.result, request.done = result, True
                return
        for request in batch:
            try:
                request.result = _store_alone(self.engine, request.events)
            except BaseException as error:  # handed to the request's own thread
                request.error = error
            request.done = True


_committers: weakref.WeakKeyDictionary[Engine, GroupCommit] = weakref.WeakKeyDictionary()
_registry_lock = threading.Lock()


def _store_alone(engine: Engine, events: list[InboundEvent]) -> list[Stored]:
    """One request in its own transaction; a concurrent duplicate just retries."""
    for attempt in range(3):
        try:
            with session_scope(engine) as session:
                return _store(session, [storable(event) for event in events])
        except IntegrityError:
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def _store(session: Session, events: list[InboundEvent]) -> list[Stored]:
    """Store a batch with a few queries, whatever its size: every read comes first, so SQLite's
    write lock (taken at the first write) is held only for the writes, and a webhook waits
    for other writers as briefly as possible."""
    known = _known_events(session, events)
    fresh: list[InboundEvent] = []
    for event in events:
        if (event.channel, event.event_id) not in known:
            known[event.channel, event.event_id] = None  # a repeat within the batch
            fresh.append(event)
    if not fresh:
        return [Stored(e.event_id, known[e.channel, e.event_id], True) for e in events]

    contacts = _rows(session, Contact, Contact.platform_user_id, fresh, "user_id", lock=False)
    conversations = _rows(session, Conversation, Conversation.chat_id, fresh, "chat_id")
    free = _lock_free_contacts(session, list(contacts.values()))
    for event in fresh:
        if event.user_id:
            _touch_contact(session, contacts, free, event)
    session.flush()  # new contacts get their ids
    for event in fresh:
        _touch_conversation(session, conversations, contacts, event)
    session.flush()

    messages = []
    for event in fresh:
        needs_work = event.kind in NEEDS_PROCESSING and event.answerable
        contact = contacts.get((event.channel, event.user_id)) if event.user_id else None
        messages.append(
            Message(
                channel=event.channel,
                platform_event_id=event.event_id,
                conversation_id=conversations[event.channel, event.chat_id].id,
                contact_id=contact.id if contact else None,
                direction="in",
                kind=event.kind,
                content_type=event.content_type,
                text=event.text,
                raw=event.raw,
                platform_message_id=event.platform_message_id,
                reply_token=event.reply_token,
                sent_at=event.sent_at,
                state="received" if needs_work else "ignored",
            )
        )
    session.add_all(messages)
    session.flush()
    for event, message in zip(fresh, messages, strict=True):  # replies and edits: rare
        if event.reply_to_platform_message_id:
            message.reply_to_message_id = _find_earlier(
                session, message, event.reply_to_platform_message_id
            )
        if event.edit_of_platform_message_id:
            message.edit_of_id = _find_earlier(session, message, event.edit_of_platform_message_id)
    ids = {(m.channel, m.platform_event_id): m.id for m in messages}
    results, seen = [], set()
    for event in events:
        key = (event.channel, event.event_id)
        new = key in ids and key not in seen
        seen.add(key)
        results.append(Stored(event.event_id, ids.get(key) or known[key], duplicate=not new))
    return results


def _known_events(session: Session, events: list[InboundEvent]) -> dict[tuple[str, str], int]:
    """(channel, event id) -> message id, of the events stored before."""
    wanted = {(e.channel, e.event_id) for e in events}
    rows = session.exec(
        select(Message.channel, Message.platform_event_id, Message.id).where(
            tuple_(Message.channel, Message.platform_event_id).in_(sorted(wanted))
        )
    ).all()
    return {(channel, event_id): message_id for channel, event_id, message_id in rows}


def _rows(
    session: Session, model, column, events: list[InboundEvent], key: str, lock: bool = True
) -> dict:
    """The existing contacts or conversations the events name, by (channel, platform id).
    With `lock`, on PostgreSQL, they are locked in id order, so batches of several processes
    never wait on each other in a circle (PostgreSQL would abort one as a deadlock, and the
    platform would get a 503). FOR NO KEY UPDATE: enough to update them, and it lets through
    the KEY SHARE locks that rows referring to them take (the pipeline's drafts), so a webhook
    does not wait for a drafting transaction."""
    wanted = {(e.channel, getattr(e, key)) for e in events if getattr(e, key) is not None}
    if not wanted:
        return {}
    query = select(model).where(tuple_(model.channel, column).in_(sorted(wanted)))
    if lock and session.get_bind().dialect.name == "postgresql":
        query = query.order_by(model.id).with_for_update(key_share=True)
    return {(row.channel, getattr(row, column.key)): row for row in session.exec(query)}


def _lock_free_contacts(session: Session, contacts: list[Contact]) -> set[int]:
    """Lock (and reload) those of the existing contacts no other transaction holds; their
    ids. The pipeline holds a sender's row while it drafts their messages, which can take
    seconds, and an acknowledgement must not wait for that (nor can it deadlock: it never
    waits). A contact skipped misses nothing for messages: the pipeline moves last_seen_at
    on when it processes them; a new display name waits for the sender's next event."""
    if not contacts:
        return set()
    if session.get_bind().dialect.name != "postgresql":
        return {c.id for c in contacts}
    query = (
        select(Contact)
        .where(Contact.id.in_(sorted(c.id for c in contacts)))
        .order_by(Contact.id)
        .with_for_update(key_share=True, skip_locked=True)
        .execution_options(populate_existing=True)
    )
    return {c.id for c in session.exec(query)}


def _touch_contact(session: Session, contacts: dict, free: set[int], event: InboundEvent) -> None:
    contact = contacts.get((event.channel, event.user_id))
    if contact is None:
        contacts[event.channel, event.user_id] = contact = Contact(
            channel=event.channel,
            platform_user_id=event.user_id,
            display_name=event.user_name,
            first_seen_at=event.sent_at,
            last_seen_at=event.sent_at,
        )
        session.add(contact)
        return
    if contact.id is not None and contact.id not in free:  # (None: new in this batch)
        return
    if event.sent_at > contact.last_seen_at:
        contact.last_seen_at = event.sent_at
    if event.user_name and not contact.erased and contact.display_name != event.user_name:
        contact.display_name = event.user_name


def _touch_conversation(
    session: Session, conversations: dict, contacts: dict, event: InboundEvent
) -> None:
    conversation = conversations.get((event.channel, event.chat_id))
    if conversation is None:
        contact = contacts.get((event.channel, event.user_id)) if event.user_id else None
        conversations[event.channel, event.chat_id] = conversation = Conversation(
            channel=event.channel,
            chat_id=event.chat_id,
            kind=event.chat_kind,
            title=event.chat_title,
            contact_id=contact.id if contact and event.chat_kind == "direct" else None,
            created_at=event.sent_at,
            last_message_at=event.sent_at,
        )
        session.add(conversation)
    elif event.sent_at > conversation.last_message_at:
        conversation.last_message_at = event.sent_at


def _find_earlier(session: Session, message: Message, platform_id: str) -> int | None:
    """The first message stored before `message` in its conversation with this platform id
    (this batch's earlier messages included: they are flushed; an edit carries the id of the
    message it edits, so it must not find itself)."""
    return session.exec(
        select(Message.id)
        .where(
            Message.conversation_id == message.conversation_id,
            Message.platform_message_id == platform_id,
            Message.id < message.id,
        )
        .order_by(Message.id)
    ).first()
