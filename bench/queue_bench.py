"""How fast the review queue answers with a backlog: 10,000 pending messages on SQLite and
PostgreSQL.

Fills a fresh database straight into replyline's tables (contacts, conversations with earlier
messages and replies, stage moves, pending messages with two candidate drafts each, a few
incidents and the messages linked to them, claims, handoffs, a week of sent replies), then asks
the real app, logged in through the console's form, for the queue page (/console), the
fragment the page refreshes (/console/queue), its JSON (/console/queue.json) and the live
updates' version check. Prints p50 / p95 / max and the SQL statements each request ran.

    PYTHONPATH=. python bench/queue_bench.py [--pending 10000] [--requests 40]
        [--database sqlite|postgresql|both] [--postgres-url URL]
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path

from sqlalchemy import create_engine, event, func, insert, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.config import Settings  # noqa: E402
from bot.web.security import hash_password  # noqa: E402
from db.migrate import upgrade  # noqa: E402
from db.models import (  # noqa: E402
    Assignment,
    Contact,
    Conversation,
    Draft,
    Handoff,
    Incident,
    Message,
    StageTransition,
    User,
)
from db.types import utcnow  # noqa: E402

POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
CHANNELS = ("line", "telegram", "web")
TYPES = ("question", "complaint", "advocate", "troll", "other", "question", "complaint")
LANGUAGES = ("zh-Hant", "zh-Hant", "en", "zh-Hans")
STAGES = ("identification", "relationship", "collaboration")
TARGETS = {"complaint": 20, "question": 60, "troll": 240, "advocate": 120, "other": 120}
ENDPOINTS = ("/console", "/console/queue", "/console/queue.json")


def fill(engine, hours, pending: int, seed: int = 12) -> dict:
    """The backlog, inserted in bulk; returns what was made."""
    rng = random.Random(seed)
    now = utcnow()
    stamps_due = "due_at" in Message.__table__.c  # the queue's stored deadline, when it has one
    with engine.begin() as conn:
        conn.execute(
            insert(User),
            [
                {"username": name, "password_hash": hash_password(name * 4), "role": role}
                for name, role in (("mei", "agent"), ("bo", "agent"), ("boss", "supervisor"))
            ],
        )
        users = dict(conn.execute(select(User.username, User.id)).all())
        contacts = pending // 3
        conn.execute(
            insert(Contact),
            [
                {
                    "channel": CHANNELS[n % 3],
                    "platform_user_id": f"U{n:08d}",
                    "display_name": f"客人 {n} <b>&",
                    "stage": STAGES[n % 3],
                }
                for n in range(contacts)
            ],
        )
        contact_ids = conn.execute(select(Contact.id).order_by(Contact.id)).scalars().all()
        conn.execute(
            insert(Conversation),
            [
                {"channel": CHANNELS[n % 3], "chat_id": f"C{n:08d}", "contact_id": cid}
                for n, cid in enumerate(contact_ids)
            ],
        )
        conversations = conn.execute(
            select(Conversation.id, Conversation.contact_id, Conversation.channel)
        ).all()
        conn.execute(
            insert(StageTransition),
            [
                {
                    "contact_id": cid,
                    "from_stage": "identification",
                    "to_stage": "relationship",
                    "reason": "three friendly messages",
                }  # fmt: skip
                for cid in contact_ids[::2]
            ],
        )
        incidents = [
            conn.execute(
                insert(Incident).values(title=f"incident {n}", severity=6, kinds=["legal"])
            ).inserted_primary_key[0]
            for n in range(3)
        ]
        # history: earlier messages and replies in every conversation, a week of sent replies
        history = []
        for conv_id, contact_id, channel in conversations:
            for k in range(4):
                at = now - timedelta(days=3, minutes=rng.randint(0, 5000))
                history.append(
                    {
                        "channel": channel,
                        "conversation_id": conv_id,
                        "contact_id": contact_id,
                        "direction": "out" if k % 2 else "in",
                        "text": f"earlier {k} 之前的訊息",
                        "sent_at": at,
                        "received_at": at,
                        "state": "processed",
                        "processed_at": at,
                        "type": "question",
                        "language": "zh-Hant",
                    }  # fmt: skip
                )
        conn.execute(insert(Message), history)
        answered = conn.execute(
            select(Message.id, Message.conversation_id, Message.received_at)
            .where(Message.direction == "in")
            .limit(pending // 5)
        ).all()
        conn.execute(
            insert(Draft),
            [
                {
                    "message_id": mid,
                    "conversation_id": cid,
                    "text": "已回覆",
                    "original_text": "已回覆",
                    "playbook": "question/identification",
                    "policy": {"first_response_minutes": 60},
                    "status": "sent",
                    "decided_at": at + timedelta(minutes=30),
                    "sent_at": at + timedelta(minutes=31),
                    "idempotency_key": uuid.uuid4().hex,
                }  # fmt: skip
                for mid, cid, at in answered
            ],
        )
        # the backlog
        rows, drafts_of = [], []
        for n in range(pending):
            conv_id, contact_id, channel = conversations[n % len(conversations)]
            kind = TYPES[rng.randrange(len(TYPES))]
            at = now - timedelta(minutes=rng.randint(0, 3 * 24 * 60))
            incident = incidents[n % 3] if n % 400 == 7 else None
            target = TARGETS[kind]
            row = {
                "channel": channel, "conversation_id": conv_id, "contact_id": contact_id,
                "text": f"第 {n} 則 <script>alert({n})</script> 訊息", "sent_at": at,
                "received_at": at, "state": "processed", "processed_at": at, "type": kind,
                "subtype": "angry" if kind == "complaint" and n % 2 else None,
                "language": LANGUAGES[n % 4], "stage": STAGES[n % 3], "confidence": 0.8,
                "type_scores": {kind: 0.8}, "priority": 100 if incident else 0,
                "incident_id": incident,
            }  # fmt: skip
            if stamps_due:
                row["due_at"] = hours.due(at, target)
            rows.append(row)
            drafts_of.append((kind, target, incident))
        conn.execute(insert(Message), rows)
        ids = (
            conn.execute(select(Message.id).where(Message.text.like("第 %")).order_by(Message.id))
            .scalars()
            .all()
        )
        conv_of = dict(
            conn.execute(
                select(Message.id, Message.conversation_id).where(Message.id.in_(ids))
            ).all()
        )
        drafts = []
        for message_id, (kind, target, incident) in zip(ids, drafts_of, strict=True):
            flags = ["crisis"] if incident else []
            for rank in range(2):
                body = f"{kind} 草稿 {rank}：謝謝您的訊息"
                drafts.append(
                    {
                        "message_id": message_id,
                        "conversation_id": conv_of[message_id],
                        "rank": rank,
                        "text": body,
                        "original_text": body,
                        "playbook": f"{kind}/identification",
                        "policy": {"first_response_minutes": target, "flags": flags},
                        "required_role": "supervisor" if incident else "agent",
                        "idempotency_key": uuid.uuid4().hex,
                    }  # fmt: skip
                )
        conn.execute(insert(Draft), drafts)
        conn.execute(
            insert(Assignment),
            [
                {"message_id": mid, "user_id": users["mei" if k % 2 else "bo"]}
                for k, mid in enumerate(ids[::50])
            ],
        )
        conn.execute(
            insert(Handoff),
            [{"conversation_id": conv_of[mid], "message_id": mid} for mid in ids[3::500]],
        )
    return {"pending": len(ids), "contacts": contacts, "incidents": len(incidents)}


class QueryCounter:
    """SQL statements run on an engine, counted as they go."""

    def __init__(self, engine):
        self.count = 0
        event.listen(engine, "before_cursor_execute", self._one)

    def _one(self, *args, **kwargs) -> None:
        self.count += 1


def measure(client, counter, path: str, requests: int):
    """Wall and CPU times (ms) and statements of `requests` GETs of `path`, after a warm-up.
    CPU time (this process: client and app) shows the cost when the machine is busy."""
    status = client.get(path).status_code
    times, cpu, queries = [], [], []
    for _ in range(requests):
        before, started, used = counter.count, time.perf_counter(), time.process_time()
        response = client.get(path)
        times.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - used) * 1000)
        queries.append(counter.count - before)
        status = response.status_code
    return times, cpu, queries, status


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def run(url: str, pending: int, requests: int) -> None:
    from fastapi.testclient import TestClient

    from bot import heap
    from bot.services import Services
    from bot.web.app import create_app

    upgrade(url)
    settings = Settings(
        database={"url": url},
        web={"secret_key": "queue-bench"},
        pipeline={"worker_enabled": False},
        crisis={"enabled": False},
        _env_file=None,
    )
    services = Services.build(settings, classifier=lambda: None)
    started = time.perf_counter()
    made = fill(services.engine, services.pipeline.playbooks.brand.hours, pending)
    kind = url.split("://")[0]
    print(f"{kind}: filled {made} in {time.perf_counter() - started:.1f}s")
    if services.engine.dialect.name == "postgresql":
        with services.engine.begin() as conn:
            conn.execute(text("ANALYZE"))
    app = create_app(settings, services)
    client = TestClient(app)
    login = client.post(
        "/console/login", data={"username": "mei", "password": "mei" * 4}, follow_redirects=False
    )
    assert login.status_code == 303, login.text
    heap.enable()  # as `replyline serve` does: long-lived objects leave full collections
    heap.settle()
    counter = QueryCounter(services.engine)
    paths = list(ENDPOINTS)
    version = getattr(
        __import__("bot.review.queue", fromlist=["queue_version"]), "queue_version", None
    )
    for path in [*paths, "/console/queue?type=complaint&assignee=none"]:
        times, cpu, queries, status = measure(client, counter, path, requests)
        if status != 200:
            print(f"  {path:45s} HTTP {status} (not served)")
            continue
        print(
            f"  {path:45s} p50 {statistics.median(times):6.1f} ms  p95 "
            f"{percentile(times, 0.95):6.1f} ms  max {max(times):6.1f} ms  "
            f"(CPU p50 {statistics.median(cpu):5.1f} p95 {percentile(cpu, 0.95):5.1f} ms)  "
            f"queries/request {min(queries)}..{max(queries)}"
        )
    if version is not None:  # what each process runs once a second while tabs are listening
        times = []
        for _ in range(requests):
            started = time.perf_counter()
            with services.engine.connect() as conn:
                version(conn)
            times.append((time.perf_counter() - started) * 1000)
        print(
            f"  {'queue version (SSE poll, 1/s per process)':45s} p50 "
            f"{statistics.median(times):6.1f} ms  p95 {percentile(times, 0.95):6.1f} ms"
        )
    with services.engine.connect() as conn:
        total = conn.execute(select(func.count()).select_from(Message)).scalar_one()
    print(f"  ({total} message rows in all)")
    services.engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pending", type=int, default=10_000, help="pending messages")
    parser.add_argument("--requests", type=int, default=40, help="timed requests per path")
    parser.add_argument("--database", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--postgres-url", default=POSTGRES_URL, help="a server to create a db on")
    args = parser.parse_args()
    if args.database in ("sqlite", "both"):
        folder = Path(tempfile.mkdtemp(prefix="replyline-queue-bench-"))
        try:
            run(f"sqlite:///{folder / 'queue.db'}", args.pending, args.requests)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
    if args.database in ("postgresql", "both"):
        name = f"replyline_queue_bench_{uuid.uuid4().hex[:8]}"
        admin = create_engine(args.postgres_url, isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
        except OperationalError as error:
            if args.database == "postgresql":
                raise
            print(f"postgresql: skipped, not reachable at {args.postgres_url} ({error.orig!r})")
            return
        url = make_url(args.postgres_url).set(database=name).render_as_string(False)
        try:
            run(url, args.pending, args.requests)
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()


if __name__ == "__main__":
    main()
