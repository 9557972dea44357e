"""How long the engagement report takes on a month of a busy account.

Generates two months of simulated activity (the month before is there for retention and
comparisons) straight into replyline's tables: contacts on three channels, customer messages
with their classification, drafts and the decisions on them, the replies sent, stage moves,
and scheduled posts with the replies and reactions they drew. Then it builds the report for
the second month, with charts, and writes report.html and report.json.

    PYTHONPATH=. python bench/report_month.py [--per-day 400] [--database-url URL] [--out DIR]
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import func, insert, select

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.config import Settings  # noqa: E402
from bot.reports import Period, build_report  # noqa: E402
from bot.reports.render import write_report  # noqa: E402
from db.engine import make_engine  # noqa: E402
from db.migrate import upgrade  # noqa: E402
from db.models import (  # noqa: E402
    AuditLog,
    Contact,
    Conversation,
    Draft,
    Message,
    Post,
    PostRun,
    StageTransition,
    User,
)

TZ = ZoneInfo("Asia/Taipei")
FIRST, LAST = date(2026, 9, 1), date(2026, 10, 31)
CHANNELS = (("line", 0.55), ("telegram", 0.3), ("web", 0.15))
TYPES = (
    ("question", 0.45),
    ("complaint", 0.12),
    ("advocate", 0.2),
    ("troll", 0.05),
    ("other", 0.18),
)
HOURS = [1, 1, 0, 0, 0, 1, 2, 4, 6, 8, 10, 11, 12, 10, 11, 12, 11, 9, 8, 9, 10, 9, 6, 3]
TOPICS = [
    "營業時間",
    "運費多少",
    "退貨流程",
    "會員點數",
    "門市地址",
    "訂單進度",
    "保固期限",
    "付款方式",
]
TEXTS = {
    "question": ["請問{t}？", "想問一下{t}", "{t}是怎麼算的？", "Hi, what about {t}?"],
    "complaint": [
        "等了好久都沒有回覆，很失望",
        "收到的商品有瑕疵",
        "客服態度很差",
        "My order is late again",
    ],
    "advocate": ["謝謝你們，超喜歡！", "服務很好，會再回購", "Love the new packaging!"],
    "troll": ["爛公司", "笑死", "lol who buys this"],
    "other": ["好", "收到", "ok", "👍"],
}
SUBTYPES = ("angry", "unhappy", "misled")
MESSAGE = dict.fromkeys(
    (
        "platform_event_id",
        "contact_id",
        "text",
        "processed_at",
        "type",
        "subtype",
        "sentiment",
        "language",
        "suggestion",
        "confidence",
        "low_confidence",
        "stage",
        "reply_to_message_id",
    )
) | {"content_type": "text", "attempts": 0, "direction": "in", "kind": "message"}


def message(**values) -> dict:
    """A message row with every column executemany needs."""
    return MESSAGE | values


def pick(rng: random.Random, weighted) -> str:
    names, weights = zip(*weighted, strict=True)
    return rng.choices(names, weights)[0]


def moment(rng: random.Random, day: date) -> datetime:
    hour = rng.choices(range(24), HOURS)[0]
    local = datetime(
        day.year, day.month, day.day, hour, rng.randrange(60), rng.randrange(60), tzinfo=TZ
    )
    return local.astimezone(UTC)


def generate(engine, per_day: int, seed: int = 7) -> dict:
    """Insert the simulated months; returns how many rows of each kind."""
    rng = random.Random(seed)
    counts = dict.fromkeys(("contacts", "messages", "drafts", "replies", "moves", "posts"), 0)
    with engine.begin() as conn:
        staff = conn.execute(
            insert(User).returning(User.id),
            [
                {
                    "username": "bench-agent",
                    "password_hash": "x",
                    "role": "agent",
                    "active": True,
                    "created_at": datetime.now(UTC),
                }
            ],
        ).scalar_one()
        contacts: list[dict] = []  # id, channel, conversation, stage, first, days
        days = (LAST - FIRST).days + 1
        messages, drafts, audits, moves = [], [], [], []
        message_id = 0
        for offset in range(days):
            day = FIRST + timedelta(days=offset)
            for _ in range(int(per_day * rng.uniform(0.8, 1.2))):
                at = moment(rng, day)
                if not contacts or rng.random() < 0.35:  # a new contact
                    channel = pick(rng, CHANNELS)
                    contact = {
                        "channel": channel,
                        "user": f"u{len(contacts)}",
                        "first": at,
                        "stage": "identification",
                        "n": 0,
                    }
                    contacts.append(contact)
                else:
                    contact = contacts[min(int(rng.expovariate(1 / 300)), len(contacts) - 1)]
                    contact = rng.choice(contacts) if rng.random() < 0.5 else contact
                    at = max(at, contact["first"])
                kind = pick(rng, TYPES)
                text = rng.choice(TEXTS[kind]).format(t=rng.choice(TOPICS))
                suggestion = kind == "advocate" and rng.random() < 0.15
                message_id += 1
                contact["n"] += 1
                contact.setdefault("messages", []).append(message_id)
                messages.append(
                    {
                        "id": message_id,
                        "contact": contact,
                        "at": at,
                        "type": kind,
                        "text": text,
                        "subtype": rng.choice(SUBTYPES) if kind == "complaint" else None,
                        "sentiment": {"advocate": 0.7, "complaint": -0.6, "troll": -0.8}.get(
                            kind, 0.0
                        )
                        + rng.uniform(-0.2, 0.2),
                        "suggestion": suggestion,
                    }
                )
                stage = contact["stage"]
                if stage == "identification" and contact["n"] >= 3 and kind == "advocate":
                    moves.append((contact, message_id, stage, "relationship", at))
                    contact["stage"] = "relationship"
                elif stage == "relationship" and suggestion:
                    moves.append((contact, message_id, stage, "collaboration", at))
                    contact["stage"] = "collaboration"

        # contacts and conversations
        contact_rows = [
            {
                "channel": c["channel"],
                "platform_user_id": c["user"],
                "stage": c["stage"],
                "stage_changed_at": c["first"],
                "first_seen_at": c["first"],
                "last_seen_at": c["first"],
                "message_count": c["n"],
                "erased": False,
                "display_name": None,
            }
            for c in contacts
        ]
        ids = conn.execute(insert(Contact).returning(Contact.id), contact_rows).scalars().all()
        for c, cid in zip(contacts, ids, strict=True):
            c["id"] = cid
        conv_rows = [
            {
                "channel": c["channel"],
                "chat_id": c["user"],
                "kind": "direct",
                "contact_id": c["id"],
                "created_at": c["first"],
                "last_message_at": c["first"],
                "title": None,
            }
            for c in contacts
        ]
        conv_ids = (
            conn.execute(insert(Conversation).returning(Conversation.id), conv_rows).scalars().all()
        )
        for c, conv in zip(contacts, conv_ids, strict=True):
            c["conversation"] = conv
        counts["contacts"] = len(contacts)

        # messages, drafts, decisions and replies
        now = datetime.now(UTC)
        rows = []
        for m in messages:
            c = m["contact"]
            rows.append(
                message(
                    id=m["id"],
                    channel=c["channel"],
                    platform_event_id=f"bench-{m['id']}",
                    conversation_id=c["conversation"],
                    contact_id=c["id"],
                    text=m["text"],
                    sent_at=m["at"],
                    received_at=m["at"],
                    state="processed",
                    processed_at=m["at"],
                    type=m["type"],
                    subtype=m["subtype"],
                    sentiment=round(m["sentiment"], 3),
                    language="zh-Hant",
                    suggestion=m["suggestion"],
                    confidence=0.9,
                    low_confidence=False,
                    stage=c["stage"],
                )
            )
        next_id = message_id
        for draft_id, m in enumerate(messages, 1):
            c = m["contact"]
            local_hour = m["at"].astimezone(TZ).hour
            slow = 3.0 if local_hour in (13, 14) else 1.0  # the lunch gap
            delay = timedelta(minutes=rng.lognormvariate(3.0, 0.8) * slow)
            decision = rng.choices(
                ["approve", "edit", "reject", "auto_approve", None], [55, 20, 8, 7, 10]
            )[0]
            playbook = f"{m['type']}/{c['stage']}"
            sent = decision in ("approve", "edit", "auto_approve")
            decided_at = m["at"] + delay
            if sent:
                next_id += 1
                rows.append(
                    message(
                        id=next_id,
                        channel=c["channel"],
                        conversation_id=c["conversation"],
                        direction="out",
                        text="reply",
                        sent_at=decided_at,
                        received_at=decided_at,
                        state="ignored",
                    )
                )
            drafts.append(
                {
                    "id": draft_id,
                    "message_id": m["id"],
                    "conversation_id": c["conversation"],
                    "rank": 0,
                    "text": "reply",
                    "original_text": "reply",
                    "playbook": playbook,
                    "policy": {},
                    "required_role": "agent",
                    "status": "sent"
                    if sent
                    else ("rejected" if decision == "reject" else "pending"),
                    "auto": decision == "auto_approve",
                    "created_at": m["at"],
                    "decided_at": decided_at if decision else None,
                    "approved_at": decided_at if sent else None,
                    "sent_at": decided_at if sent else None,
                    "sent_message_id": next_id if sent else None,
                    "send_attempts": 1 if sent else 0,
                    "decided_by_id": staff if decision and decision != "auto_approve" else None,
                }
            )
            if decision:
                audits.append(
                    {
                        "at": decided_at,
                        "user_id": None,
                        "username": "bench",
                        "via": "console",
                        "action": decision,
                        "draft_id": draft_id,
                        "message_id": m["id"],
                    }
                )
        for chunk in range(0, len(rows), 5000):
            conn.execute(insert(Message), rows[chunk : chunk + 5000])
        for chunk in range(0, len(drafts), 5000):
            conn.execute(insert(Draft), drafts[chunk : chunk + 5000])
        conn.execute(insert(AuditLog), audits)
        conn.execute(
            insert(StageTransition),
            [
                {
                    "contact_id": c["id"],
                    "message_id": mid,
                    "from_stage": a,
                    "to_stage": b,
                    "reason": "bench",
                    "at": at,
                }
                for c, mid, a, b, at in moves
            ],
        )
        counts.update(
            messages=len(messages),
            drafts=len(drafts),
            replies=len(rows) - len(messages),
            moves=len(moves),
        )

        # a post every day at 12:00 on LINE, and Mondays on a Telegram group, with reactions
        group = conn.execute(
            insert(Conversation).returning(Conversation.id),
            [
                {
                    "channel": "telegram",
                    "chat_id": "-1001",
                    "kind": "group",
                    "created_at": now,
                    "last_message_at": now,
                }
            ],
        ).scalar_one()
        reactions = []
        for offset in range(days):
            day = FIRST + timedelta(days=offset)
            at = datetime(day.year, day.month, day.day, 12, tzinfo=TZ).astimezone(UTC)
            goal = ("identification", "relationship", "collaboration")[offset % 3]
            channel, target = ("telegram", "-1001") if day.weekday() == 0 else ("line", "broadcast")
            post_id = conn.execute(
                insert(Post).returning(Post.id),
                [
                    {
                        "text": f"Post {day}",
                        "channel": channel,
                        "target": target,
                        "scheduled_at": at,
                        "timezone": "Asia/Taipei",
                        "stage_goal": goal,
                        "status": "sent",
                        "created_at": at - timedelta(days=2),
                        "sent_at": at,
                    }
                ],
            ).scalar_one()
            post_message = None
            if channel == "telegram":
                next_id += 1
                post_message = next_id
                conn.execute(
                    insert(Message),
                    [
                        message(
                            id=post_message,
                            channel="telegram",
                            conversation_id=group,
                            direction="out",
                            kind="post",
                            text="post",
                            sent_at=at,
                            received_at=at,
                            state="ignored",
                        )
                    ],
                )
                for n in range(rng.randrange(5, 30)):
                    next_id += 1
                    reactions.append(
                        message(
                            id=next_id,
                            channel="telegram",
                            platform_event_id=f"r{next_id}",
                            conversation_id=group,
                            contact_id=rng.choice(contacts)["id"],
                            kind="reaction" if n % 2 else "message",
                            text=None if n % 2 else "讚",
                            reply_to_message_id=post_message,
                            state="ignored",
                            sent_at=at + timedelta(minutes=rng.randrange(1, 600)),
                            received_at=at,
                        )
                    )
            conn.execute(
                insert(PostRun),
                [
                    {
                        "post_id": post_id,
                        "scheduled_for": at,
                        "status": "sent",
                        "started_at": at,
                        "finished_at": at,
                        "attempts": 1,
                        "message_id": post_message,
                    }
                ],
            )
            counts["posts"] += 1
        if reactions:
            conn.execute(insert(Message), reactions)
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--per-day", type=int, default=400, help="customer messages a day")
    parser.add_argument("--database-url", help="an empty database (default: a temporary SQLite)")
    parser.add_argument("--out", type=Path, help="write report.html/json here")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="replyline-bench-"))
    url = args.database_url or f"sqlite:///{workdir / 'bench.db'}"
    upgrade(url)
    engine = make_engine(url)
    started = time.perf_counter()
    counts = generate(engine, args.per_day)
    generated = time.perf_counter() - started
    with engine.connect() as conn:
        total = conn.execute(select(func.count()).select_from(Message)).scalar_one()
    print(f"{url.split('://')[0]}: generated {counts} ({total} message rows) in {generated:.1f}s")

    settings = Settings(database={"url": url}, _env_file=None)
    period = Period(date(2026, 10, 1), date(2026, 10, 31), TZ)
    numbers, numbers_took = timed(build_report, engine, settings, period, charts=False)
    report, full_took = timed(build_report, engine, settings, period)
    (html, _), write_took = timed(write_report, report, args.out or workdir / "report")
    print(f"report on {period.first}..{period.last}: {report.data['messages']['total']} messages")
    print(f"  numbers only (monthly summary): {numbers_took}")
    print(f"  numbers + {len(report.charts)} charts:           {full_took}")
    print(f"  writing HTML + JSON:            {write_took} ({html.stat().st_size >> 10} KiB)")
    print(f"  recommendations: {[r['title'] for r in numbers.data['recommendations']]}")


def timed(fn, *args, **kwargs):
    """The result and "wall W s (CPU C s)": CPU time shows the cost on a busy machine."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn(*args, **kwargs)
    took = f"wall {time.perf_counter() - wall:.2f}s (CPU {time.process_time() - cpu:.2f}s)"
    return result, took


if __name__ == "__main__":
    main()
