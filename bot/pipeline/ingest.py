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
from datetime import datetime
from typing import Any

from pydantic_core import PydanticUndefined
from sqlalchemy import Table, bindparam, insert, select, tuple_, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import SQLModel

from db.enums import MessageState
from db.models import Contact, Conversation, Message
from db.types import utcnow
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
# No platform nests an event deeper than a few levels; deeper data would make `clean` (and
# every later reader) recurse past Python's limit, so a request holding it is refused.
MAX_DEPTH = 64


def too_deep(value: Any, limit: int = MAX_DEPTH) -> bool:
    """Whether JSON-like `value` nests lists and objects more than `limit` levels (no recursion)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list | tuple):
            if depth > limit:
                return True
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    return False


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
                with self.engine.begin() as connection:
                    events = [storable(e) for r in batch for e in r.events]
                    stored = iter(_store(connection, events))
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
            with engine.begin() as connection:
                return _store(connection, [storable(event) for event in events])
        except IntegrityError:
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def _table(model: type[SQLModel]) -> Table:
    """A table model's Core table, for the bulk statements below."""
    return model.__table__  # type: ignore[attr-defined]  # set by SQLModel's metaclass, untyped


MESSAGE = _table(Message)
CONTACT = _table(Contact)
CONVERSATION = _table(Conversation)


def _defaults(model) -> dict:
    """What the ORM would fill in for the fields a new row leaves out (factories aside)."""
    fields = model.model_fields.items()
    return {n: f.default for n, f in fields if f.default is not PydanticUndefined and n != "id"}


MESSAGE_DEFAULTS = _defaults(Message)
CONTACT_DEFAULTS = _defaults(Contact)


# Statements built once: building one costs more than running it on SQLite.
KNOWN_EVENTS = select(MESSAGE.c.channel, MESSAGE.c.platform_event_id, MESSAGE.c.id).where(
    tuple_(MESSAGE.c.channel, MESSAGE.c.platform_event_id).in_(bindparam("keys", expanding=True))
)


def _named(table, column):
    """Rows of `table` by (channel, `column`)."""
    return select(table).where(
        tuple_(table.c.channel, column).in_(bindparam("keys", expanding=True))
    )


CONTACTS_NAMED = _named(CONTACT, CONTACT.c.platform_user_id)
CONVERSATIONS_NAMED = _named(CONVERSATION, CONVERSATION.c.chat_id)
# On PostgreSQL, conversations are locked in id order, so batches of several processes never
# wait on each other in a circle (PostgreSQL would abort one as a deadlock, and the platform
# would get a 503). FOR NO KEY UPDATE: enough to update them, and it lets through the KEY SHARE
# locks that rows referring to them take (the pipeline's drafts), so a webhook does not wait
# for a drafting transaction.
CONVERSATIONS_LOCKED = CONVERSATIONS_NAMED.order_by(CONVERSATION.c.id).with_for_update(
    key_share=True
)
FREE_CONTACTS = (
    select(CONTACT)
    .where(CONTACT.c.id.in_(bindparam("ids", expanding=True)))
    .order_by(CONTACT.c.id)
    .with_for_update(key_share=True, skip_locked=True)
)
SEEN_CONTACT = (
    update(CONTACT)
    .where(CONTACT.c.id == bindparam("_id"))
    .values(last_seen_at=bindparam("last_seen_at"), display_name=bindparam("display_name"))
)
LATEST_IN_CONVERSATION = (
    update(CONVERSATION)
    .where(CONVERSATION.c.id == bindparam("_id"))
    .values(last_message_at=bindparam("last_message_at"))
)
INSERTS = {
    table.name: insert(table).returning(table.c.id, sort_by_parameter_order=True)
    for table in (MESSAGE, CONTACT, CONVERSATION)
}


def _store(connection: Connection, events: list[InboundEvent]) -> list[Stored]:
    """Store a batch with a few statements, whatever its size. Core statements, not ORM
    objects: this runs before every acknowledgement, and the unit of work cost ten times the
    SQL. Every read comes first, so SQLite's write lock (taken at the first write) is held
    only for the writes, and a webhook waits for other writers as briefly as possible."""
    known = _known_events(connection, events)
    fresh: list[InboundEvent] = []
    for event in events:
        if (event.channel, event.event_id) not in known:
            known[event.channel, event.event_id] = None  # a repeat within the batch
            fresh.append(event)
    if not fresh:
        return [Stored(e.event_id, known[e.channel, e.event_id], True) for e in events]

    contacts = _store_contacts(connection, fresh)
    conversations = _store_conversations(connection, fresh, contacts)
    now = utcnow()
    rows = [
        {
            **MESSAGE_DEFAULTS,
            "channel": event.channel,
            "platform_event_id": event.event_id,
            "conversation_id": conversations[event.channel, event.chat_id],
            "contact_id": contacts.get((event.channel, event.user_id)),
            "kind": event.kind,
            "content_type": event.content_type,
            "text": event.text,
            "raw": event.raw,
            "platform_message_id": event.platform_message_id,
            "reply_token": event.reply_token,
            "sent_at": event.sent_at,
            "received_at": now,
            "state": MessageState.RECEIVED
            if event.kind in NEEDS_PROCESSING and event.answerable
            else MessageState.IGNORED,
        }
        for event in fresh
    ]
    ids = _insert(connection, MESSAGE, rows)
    for event, row, message_id in zip(fresh, rows, ids, strict=True):  # replies, edits: rare
        links = {
            column: _find_earlier(connection, row["conversation_id"], message_id, platform_id)
            for column, platform_id in (
                ("reply_to_message_id", event.reply_to_platform_message_id),
                ("edit_of_id", event.edit_of_platform_message_id),
            )
            if platform_id
        }
        if links:
            connection.execute(update(MESSAGE).where(MESSAGE.c.id == message_id).values(**links))
    new = {(e.channel, e.event_id): i for e, i in zip(fresh, ids, strict=True)}
    results, seen = [], set()
    for event in events:
        key = (event.channel, event.event_id)
        first = key in new and key not in seen
        seen.add(key)
        results.append(Stored(event.event_id, new.get(key) or known[key], duplicate=not first))
    return results


def _insert(connection: Connection, table, rows: list[dict]) -> list[int]:
    """Insert `rows` in one statement; their new ids, in order."""
    if not rows:
        return []
    return list(connection.execute(INSERTS[table.name], rows).scalars())


def _known_events(connection: Connection, events: list[InboundEvent]) -> dict:
    """(channel, event id) -> message id, of the events stored before."""
    wanted = sorted({(e.channel, e.event_id) for e in events})
    rows = connection.execute(KNOWN_EVENTS, {"keys": wanted})
    return {(channel, event_id): message_id for channel, event_id, message_id in rows}


def _existing(connection: Connection, query, column: str, wanted: set) -> dict:
    """The existing contacts or conversations named by (channel, platform id)."""
    if not wanted:
        return {}
    rows = connection.execute(query, {"keys": sorted(wanted)})
    return {(row.channel, row._mapping[column]): row for row in rows}


def _lock_free(connection: Connection, contacts: dict) -> dict:
    """Those of the existing contacts no other transaction holds, locked and read afresh.
    The pipeline holds a sender's row while it drafts their messages, which can take
    seconds, and an acknowledgement must not wait for that (nor can it deadlock: it never
    waits). A contact skipped misses nothing for messages: the pipeline moves last_seen_at
    on when it processes them; a new display name waits for the sender's next event."""
    if not contacts or connection.dialect.name != "postgresql":
        return contacts
    rows = connection.execute(FREE_CONTACTS, {"ids": sorted(r.id for r in contacts.values())})
    return {(row.channel, row.platform_user_id): row for row in rows}


def _store_contacts(connection: Connection, events: list[InboundEvent]) -> dict:
    """(channel, platform user id) -> contact id for every sender, new ones inserted; the
    senders' last_seen_at and display names brought up to date where the row is free."""
    wanted = {(e.channel, e.user_id) for e in events if e.user_id}
    existing = _existing(connection, CONTACTS_NAMED, "platform_user_id", wanted)
    free = _lock_free(connection, existing)
    new: dict[tuple, dict] = {}
    changed: dict[int, dict] = {}
    for event in events:
        key = (event.channel, event.user_id)
        if not event.user_id:
            continue
        if key in existing:
            row = free.get(key)
            if row is None:
                continue
            change = changed.get(row.id) or {
                "_id": row.id,
                "last_seen_at": row.last_seen_at,
                "display_name": row.display_name,
            }
            if event.sent_at > change["last_seen_at"]:
                change["last_seen_at"] = event.sent_at
            if event.user_name and not row.erased:
                change["display_name"] = event.user_name
            if change["last_seen_at"] != row.last_seen_at or (
                change["display_name"] != row.display_name
            ):
                changed[row.id] = change
        elif key not in new:
            new[key] = {
                **CONTACT_DEFAULTS,
                "channel": event.channel,
                "platform_user_id": event.user_id,
                "display_name": event.user_name,
                "stage_changed_at": utcnow(),
                "first_seen_at": event.sent_at,
                "last_seen_at": event.sent_at,
            }
        else:  # a new sender's later event in the same batch
            new[key]["last_seen_at"] = max(new[key]["last_seen_at"], event.sent_at)
            new[key]["display_name"] = event.user_name or new[key]["display_name"]
    if changed:
        connection.execute(SEEN_CONTACT, list(changed.values()))
    ids = {key: row.id for key, row in existing.items()}
    ids.update(zip(new, _insert(connection, CONTACT, list(new.values())), strict=True))
    return ids


def _store_conversations(
    connection: Connection, events: list[InboundEvent], contacts: dict
) -> dict:
    """(channel, chat id) -> conversation id for every event, new ones inserted; each one's
    last_message_at moved on."""
    wanted = {(e.channel, e.chat_id) for e in events}
    postgres = connection.dialect.name == "postgresql"
    query = CONVERSATIONS_LOCKED if postgres else CONVERSATIONS_NAMED
    existing = _existing(connection, query, "chat_id", wanted)
    new: dict[tuple, dict] = {}
    latest: dict[int, datetime] = {}
    for event in events:
        key = (event.channel, event.chat_id)
        row = existing.get(key)
        if row is not None:
            if event.sent_at > latest.get(row.id, row.last_message_at):
                latest[row.id] = event.sent_at
        elif key not in new:
            direct = event.chat_kind == "direct" and event.user_id
            new[key] = {
                "channel": event.channel,
                "chat_id": event.chat_id,
                "kind": event.chat_kind,
                "title": event.chat_title,
                "contact_id": contacts.get((event.channel, event.user_id)) if direct else None,
                "created_at": event.sent_at,
                "last_message_at": event.sent_at,
            }
        else:
            new[key]["last_message_at"] = max(new[key]["last_message_at"], event.sent_at)
    if latest:
        changes = [{"_id": i, "last_message_at": at} for i, at in latest.items()]
        connection.execute(LATEST_IN_CONVERSATION, changes)
    ids = {key: row.id for key, row in existing.items()}
    ids.update(zip(new, _insert(connection, CONVERSATION, list(new.values())), strict=True))
    return ids


def _find_earlier(
    connection: Connection, conversation_id: int, message_id: int, platform_id: str
) -> int | None:
    """The first message stored before `message_id` in its conversation with this platform
    id (this batch's earlier messages included; an edit carries the id of the message it
    edits, so it must not find itself)."""
    return connection.execute(
        select(MESSAGE.c.id)
        .where(
            MESSAGE.c.conversation_id == conversation_id,
            MESSAGE.c.platform_message_id == platform_id,
            MESSAGE.c.id < message_id,
        )
        .order_by(MESSAGE.c.id)
        .limit(1)
    ).scalar()
