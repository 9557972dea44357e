"""Scale-out: several replyline processes on one PostgreSQL database share the work; each
message is classified and drafted once, each approved reply sent once, and every conversation
keeps its order."""

import asyncio
import random
import threading
import time
from collections import Counter, defaultdict
from datetime import timedelta

import pytest
from sqlmodel import Session, select

from bot.config import Settings
from bot.delivery.outbox import READY
from bot.pipeline.claims import claim_conversations
from bot.pipeline.ingest import store_events
from bot.review import decisions as review
from bot.services import Services
from db.engine import make_engine, session_scope
from db.models import Contact, Draft, Message, User
from handlers.base import InboundEvent, SendResult
from tests.fakes.channel import FakeChannel
from tests.support import ScriptedClassifier, fresh_postgres_database, postgres_available

TYPES = ("question", "complaint", "advocate", "troll", "other")


@pytest.fixture
def postgres_url():
    reason = postgres_available()
    if reason:
        pytest.skip(reason)
    with fresh_postgres_database(migrated=True) as url:
        yield url


def settings_for(url: str) -> Settings:
    return Settings(database={"url": url}, web={"secret_key": "scale-out"}, _env_file=None)


class SharedClassifier(ScriptedClassifier):
    """One classifier both "processes" report to, slow enough for their batches to overlap."""

    def __init__(self):
        super().__init__()
        self.lock = threading.Lock()

    def classify(self, texts):
        time.sleep(random.uniform(0, 0.004))
        with self.lock:
            return super().classify(texts)


def conversation_traffic(conversations: int, per_conversation: int) -> list[InboundEvent]:
    """Interleaved messages in direct chats, plus a group where the same people also write
    (so one contact's messages are processed in two conversations at once)."""
    events = []
    for n in range(per_conversation):
        for c in range(conversations):
            user = f"user{c}"
            kind = TYPES[(n + c) % len(TYPES)]
            events.append(
                InboundEvent(
                    channel="web",
                    event_id=f"{user}-{n}",
                    chat_id=user,
                    user_id=user,
                    text=f"{kind}: message {n} from {user}",
                )
            )
            if n % 3 == 0:
                events.append(
                    InboundEvent(
                        channel="web",
                        event_id=f"group-{user}-{n}",
                        chat_id="group",
                        chat_kind="group",
                        user_id=user,
                        text=f"{kind}: group message {n} from {user}",
                    )
                )
    return events


def race(workers, seconds=120):
    """Run each callable in its own thread until all return; re-raise the first failure."""
    errors = []

    def guard(fn):
        try:
            fn()
        except BaseException as error:  # noqa: BLE001 (reported below)
            errors.append(error)

    threads = [threading.Thread(target=guard, args=(w,)) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(seconds)
    assert not any(t.is_alive() for t in threads), "a racer did not finish"
    if errors:
        raise errors[0]


def test_a_conversation_claimed_by_one_process_is_skipped_by_another(postgres_url):
    first, second = make_engine(postgres_url), make_engine(postgres_url)
    try:
        with claim_conversations(first, [1, 2, 3]) as mine:
            assert mine == {1, 2, 3}
            with claim_conversations(second, [2, 3, 4]) as theirs:
                assert theirs == {4}
        with claim_conversations(second, [2, 3, 4]) as theirs:
            assert theirs == {2, 3, 4}, "a claim is released when its work is done"
    finally:
        first.dispose()
        second.dispose()


def test_on_sqlite_every_claim_is_granted(sqlite_url):
    engine = make_engine(sqlite_url)
    with claim_conversations(engine, [1, 2]) as a, claim_conversations(engine, [2]) as b:
        assert a == {1, 2} and b == {2}
    engine.dispose()


def test_two_pipelines_on_one_postgres_process_each_message_once_in_order(postgres_url):
    settings = settings_for(postgres_url)
    classifier = SharedClassifier()
    one = Services.build(settings, classifier=lambda: classifier)
    two = Services.build(settings, classifier=lambda: classifier)
    events = conversation_traffic(conversations=6, per_conversation=15)
    for start in range(0, len(events), 9):  # arrive in several webhook requests
        store_events(one.engine, events[start : start + 9])

    order: dict[int, list[int]] = defaultdict(list)
    in_flight: dict[int, str] = {}
    lock = threading.Lock()

    def instrument(services, name):
        original = services.pipeline.process_one

        def process_one(session, message, result):
            with lock:
                holder = in_flight.setdefault(message.conversation_id, name)
                assert holder == name, "two processes worked on one conversation at once"
            try:
                done = original(session, message, result)
            finally:
                with lock:
                    in_flight.pop(message.conversation_id, None)
            if done:
                with lock:
                    order[message.conversation_id].append(message.id)
            return done

        services.pipeline.process_one = process_one

    instrument(one, "one")
    instrument(two, "two")

    def work(services):
        def loop():
            idle = 0
            for _ in range(2000):
                if services.pipeline.process_pending(limit=7):
                    idle = 0
                    continue
                idle += 1
                if idle > 20 and not services.pipeline.pending(1):
                    return
                time.sleep(0.005)
            raise AssertionError("work did not finish")

        return loop

    race([work(one), work(two)])

    with Session(one.engine) as session:
        messages = session.exec(select(Message).where(Message.direction == "in")).all()
        drafts = session.exec(select(Draft)).all()
        contacts = session.exec(select(Contact)).all()
    assert len(messages) == len(events) and {m.state for m in messages} == {"processed"}
    classified = Counter(t for call in classifier.calls for t in call)
    assert set(classified.values()) == {1}, "a message was classified twice"
    assert sum(classified.values()) == len(events)
    for conversation, ids in order.items():
        assert ids == sorted(ids), f"conversation {conversation} processed out of order"
    assert sum(len(ids) for ids in order.values()) == len(events)
    ranks = defaultdict(list)
    for d in drafts:
        ranks[d.message_id].append(d.rank)
    assert set(ranks) == {m.id for m in messages}
    assert all(sorted(r) == list(range(len(r))) for r in ranks.values()), "drafted twice"
    sent_by = Counter(m.contact_id for m in messages)
    assert {c.id: c.message_count for c in contacts} == dict(sent_by), "a lost count update"
    one.engine.dispose()
    two.engine.dispose()


def platform(failure_rate: float = 0.0) -> FakeChannel:
    """A platform that takes a few milliseconds per send, so the tests see what a real one
    would notice (two sends into one chat at the same time, `overlaps`; the same idempotency
    key delivered twice); fails now and then."""

    def answer(args) -> SendResult | None:
        if random.random() < failure_rate:
            return SendResult(False, error="503 from platform", retry_after=0.001)
        return None

    return FakeChannel(latency=lambda: random.uniform(0, 0.004), always={"send": answer})


def delivered(channel: FakeChannel) -> list[tuple[str, int, str]]:
    return [(reply.chat_id, reply.draft_id, reply.idempotency_key) for reply in channel.sent]


def approve_first_candidates(services) -> list[Draft]:
    with session_scope(services.engine) as session:
        user = User(username="approver", password_hash="x", role="admin")
        session.add(user)
        session.flush()
        chosen = session.exec(
            select(Draft).where(Draft.rank == 0, Draft.status == "pending").order_by(Draft.id)
        ).all()
        for draft in chosen:
            review.approve(session, draft.id, user, text=f"reply to message {draft.message_id}")
    return chosen


def test_two_outboxes_on_one_postgres_send_each_reply_once_in_order(postgres_url):
    settings = settings_for(postgres_url)
    classifier = ScriptedClassifier()
    one = Services.build(settings, classifier=lambda: classifier)
    two = Services.build(settings, classifier=lambda: classifier)
    store_events(one.engine, conversation_traffic(conversations=8, per_conversation=8))
    asyncio.run(one.worker.run_until_idle())
    approved = approve_first_candidates(one)
    channel = platform(failure_rate=0.2)
    one.outbox.channels["web"] = two.outbox.channels["web"] = channel

    def work(services):
        def loop():
            async def drain():
                for _ in range(3000):
                    if not await services.outbox.send_due():
                        with Session(services.engine) as session:
                            if not session.exec(
                                select(Draft.id).where(Draft.status.in_(READY))
                            ).first():
                                return
                        await asyncio.sleep(0.002)
                raise AssertionError("sending did not finish")

            asyncio.run(drain())

        return loop

    race([work(one), work(two)])

    with Session(one.engine) as session:
        drafts = {d.id: d for d in session.exec(select(Draft).where(Draft.rank == 0)).all()}
        replies = session.exec(select(Message).where(Message.direction == "out")).all()
    sends = Counter(draft_id for _, draft_id, _ in delivered(channel))
    assert set(sends) == {d.id for d in approved}
    assert set(sends.values()) == {1}, "a reply was delivered twice"
    assert {drafts[i].status for i in sends} == {"sent"}
    assert len(replies) == len(approved)
    assert channel.overlaps == 0, "two replies went into one chat at the same time"
    per_chat = defaultdict(list)
    for chat, draft_id, _ in delivered(channel):
        per_chat[chat].append(draft_id)
    for chat, ids in per_chat.items():
        assert ids == sorted(ids, key=lambda i: (drafts[i].approved_at, i)), chat
    keys = [key for _, _, key in delivered(channel)]
    assert len(set(keys)) == len(keys)
    one.engine.dispose()
    two.engine.dispose()


def test_a_send_whose_process_died_is_retried_after_its_lease_with_the_same_key(services):
    store_events(
        services.engine,
        [
            InboundEvent(channel="web", event_id=f"e{i}", chat_id="u1", user_id="u1", text=t)
            for i, t in enumerate(["question: first", "question: second"])
        ],
    )
    asyncio.run(services.worker.run_until_idle())
    first, second = approve_first_candidates(services)
    # Built first: building it can outlast the short lease on a busy machine.
    other = Services.build(services.settings, classifier=lambda: None).outbox
    other.lease_seconds = services.outbox.lease_seconds = 0.3
    other.channels["web"] = channel = platform()
    # A process claims the first reply, then dies before the platform answers.
    claimed = services.outbox.claim(services.outbox.due())
    assert [d.id for d, _ in claimed] == [first.id]
    assert asyncio.run(other.send_due()) == 0, "the leased reply, and the one after it, wait"
    time.sleep(0.35)
    for _ in range(4):
        asyncio.run(other.send_due())
    assert [d for _, d, _ in delivered(channel)] == [first.id, second.id]
    assert delivered(channel)[0][2] == first.idempotency_key
    with Session(services.engine) as session:
        again = session.get(Draft, first.id)
    assert again.status == "sent" and again.send_attempts == 2
    other.engine.dispose()


def test_a_draft_whose_sends_keep_dying_is_failed_not_retried_for_ever(services):
    store_events(
        services.engine,
        [InboundEvent(channel="web", event_id="e", chat_id="u", user_id="u", text="question: x")],
    )
    asyncio.run(services.worker.run_until_idle())
    (draft,) = approve_first_candidates(services)
    with session_scope(services.engine) as session:
        row = session.get(Draft, draft.id)
        row.send_attempts = services.outbox.max_attempts
        row.next_attempt_at = row.approved_at - timedelta(seconds=1)
        session.add(row)
    assert services.outbox.claim(services.outbox.due()) == []
    with Session(services.engine) as session:
        row = session.get(Draft, draft.id)
    assert row.status == "failed" and "gave up after" in row.error


def test_processes_starting_together_on_a_new_database_create_one_admin(database_url, capsys):
    from bot.cli.serve import _print_welcome

    settings = settings_for(database_url)
    started = [Services.build(settings, classifier=ScriptedClassifier) for _ in range(3)]
    barrier = threading.Barrier(3)

    def start(services):
        def run():
            barrier.wait()
            _print_welcome(services, settings)

        return run

    race([start(s) for s in started])
    with Session(started[0].engine) as session:
        assert [u.username for u in session.exec(select(User))] == ["admin"]
    assert capsys.readouterr().err.count("首次啟動：已建立主控台使用者 'admin'") == 1
    for services in started:
        services.engine.dispose()


def test_ingest_batches_of_two_processes_never_deadlock(postgres_url):
    """Two processes store requests naming the same people in opposite orders while a
    pipeline locks their contacts: no batch is aborted as a deadlock (a 503 to the platform)."""
    engines = [make_engine(postgres_url) for _ in range(2)]
    people = [f"person{i}" for i in range(6)]
    store_events(engines[0], [InboundEvent("web", f"seed-{p}", p, p, "hi") for p in people])
    failures: list[str] = []

    def ingest(side: int) -> None:
        order = people if side == 0 else people[::-1]
        for round_ in range(40):
            events = [
                InboundEvent("web", f"{side}-{round_}-{p}", p, p, "question: again?") for p in order
            ]
            try:
                store_events(engines[side], events)
            except Exception as error:  # collected: the assertion names them
                failures.append(type(getattr(error, "orig", error)).__name__)

    def lock_contacts_in_turn() -> None:
        from bot.pipeline.process import Pipeline

        for _ in range(80):
            with session_scope(engines[0]) as session:
                messages = session.exec(select(Message).order_by(Message.id.desc()).limit(6)).all()
                Pipeline.lock_contacts(session, messages)
                for contact in session.exec(select(Contact)).all():
                    contact.message_count += 1
                time.sleep(0.001)

    threads = [threading.Thread(target=ingest, args=(s,)) for s in (0, 1)]
    threads.append(threading.Thread(target=lock_contacts_in_turn))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    for engine in engines:
        engine.dispose()
    assert failures == []


def test_a_deadlock_is_told_apart_from_an_outage(postgres_url):
    """Two transactions locking two rows in opposite order: PostgreSQL aborts one with a
    deadlock, which the worker logs as a conflict, not as the database being away."""
    from sqlalchemy import text
    from sqlalchemy.exc import OperationalError

    from bot.pipeline.worker import is_conflict

    engine = make_engine(postgres_url)
    with session_scope(engine) as session:
        session.add_all([Contact(channel="web", platform_user_id=f"d{i}") for i in (1, 2)])
    ids = sorted(Session(engine).exec(select(Contact.id)).all())
    errors: list[Exception] = []
    both_hold_one = threading.Barrier(2)

    def lock(first: int, second: int) -> None:
        try:
            with engine.begin() as conn:
                conn.execute(text("SELECT 1 FROM contact WHERE id = :i FOR UPDATE"), {"i": first})
                both_hold_one.wait()
                conn.execute(text("SELECT 1 FROM contact WHERE id = :i FOR UPDATE"), {"i": second})
        except OperationalError as error:
            errors.append(error)

    threads = [threading.Thread(target=lock, args=pair) for pair in (ids, ids[::-1])]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(errors) == 1 and is_conflict(errors[0])
    away = make_engine("postgresql://postgres@127.0.0.1:1/test", connect_timeout=1)
    with pytest.raises(OperationalError) as refused:
        away.connect()
    assert not is_conflict(refused.value)
    engine.dispose()
