"""`replyline simulate FILE.jsonl`: feed recorded or invented comments through the real
pipeline (store, classify, stage, draft) and print what happened as JSON."""

from __future__ import annotations

import asyncio
import hashlib
import json
import sys
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from bot.cli import CommandError
from bot.config import get_settings


def register(subparsers) -> None:
    sim = subparsers.add_parser(
        "simulate", help="run a JSONL file of messages through the pipeline"
    )
    sim.add_argument("file", type=Path, help="one JSON object a line: channel, user, text, ts")
    sim.set_defaults(func=cmd_simulate)


def parse_line(number: int, line: str):
    """One JSONL line as an inbound event; its id comes from its content, so re-running the
    same file stores nothing twice."""
    from handlers.base import InboundEvent

    item = json.loads(line)
    if not isinstance(item, dict) or not isinstance(item.get("text"), str):
        raise ValueError("needs a JSON object with a text")
    channel = str(item.get("channel") or "web")
    user = str(item.get("user") or "anonymous")
    sent_at = datetime.now(UTC)
    if item.get("ts"):
        sent_at = datetime.fromisoformat(str(item["ts"]).replace("Z", "+00:00"))
        if sent_at.tzinfo is None:
            raise ValueError("ts needs a timezone, e.g. 2026-11-23T09:15:00+08:00")
    digest = hashlib.sha256(f"{number}:{line.strip()}".encode()).hexdigest()[:24]
    return InboundEvent(
        channel=channel,
        event_id=f"sim-{digest}",
        chat_id=str(item.get("chat") or user),
        chat_kind="group" if item.get("chat") else "direct",
        user_id=user,
        user_name=item.get("name"),
        text=item["text"],
        sent_at=sent_at.astimezone(UTC),
        raw=item,
    )


def cmd_simulate(args) -> int:
    from sqlmodel import Session, select

    from bot.ingest import store_events
    from bot.services import Services
    from db.migrate import upgrade
    from db.models import Draft, Message

    if not args.file.exists():
        raise CommandError(f"{args.file} does not exist")
    events, errors = [], []
    for number, line in enumerate(args.file.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            events.append(parse_line(number, line))
        except (ValueError, TypeError) as error:
            errors.append(number)
            print(f"{args.file}:{number}: skipped: {error}", file=sys.stderr)

    settings = get_settings()
    upgrade(settings.database_url)
    services = Services.build(settings)
    stored = store_events(services.engine, events)
    asyncio.run(services.worker.run_until_idle())

    ids = [s.message_id for s in stored]
    with Session(services.engine) as session:
        messages = session.exec(select(Message).where(Message.id.in_(ids))).all()
        drafts = session.exec(select(Draft).where(Draft.message_id.in_(ids))).all()
    summary = {
        "messages": len(events),
        "stored": sum(not s.duplicate for s in stored),
        "duplicates": sum(s.duplicate for s in stored),
        "skipped_lines": errors,
        "by_type": dict(Counter(m.type for m in messages)),
        "by_language": dict(Counter(m.language for m in messages)),
        "by_stage": dict(Counter(m.stage for m in messages)),
        "drafts_by_status": dict(Counter(d.status for d in drafts)),
    }
    print(json.dumps(summary, ensure_ascii=False, indent=2))
    return 1 if errors else 0
