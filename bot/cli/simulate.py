"""`replyline simulate FILE.jsonl`: feed recorded or invented comments through the real
pipeline (store, classify, stage, draft) and print what happened as JSON. A line may carry a
`review` the team made, applied after drafting so reports can measure draft quality:
{"as": NAME, "action": approve | edit | reply | no_reply, "text": T, "append": T,
"minutes": M} (M minutes after the message arrived; NAME is created as an inactive user)."""

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
from bot.i18n import gettext as _


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
    from sqlmodel import Session, col, select

    from bot.pipeline.ingest import store_events
    from bot.services import Services
    from db.migrate import upgrade
    from db.models import Draft, Message

    if not args.file.exists():
        raise CommandError(_("{path} does not exist.").format(path=args.file))
    events, errors = [], []
    for number, line in enumerate(args.file.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            events.append(parse_line(number, line))
        except (ValueError, TypeError) as error:
            errors.append(number)
            print(
                _("{path}:{line}: skipped: {error}").format(
                    path=args.file, line=number, error=error
                ),
                file=sys.stderr,
            )

    settings = get_settings()
    upgrade(settings.database.url)
    services = Services.build(settings)
    stored = store_events(services.engine, events)
    asyncio.run(services.worker.run_until_idle())

    ids = [s.message_id for s in stored]
    reviews = [(e.raw.get("review"), s) for e, s in zip(events, stored, strict=True)]
    reviewed = _apply_reviews(
        services.engine, [(r, s) for r, s in reviews if r and not s.duplicate]
    )
    with Session(services.engine) as session:
        messages = session.exec(select(Message).where(col(Message.id).in_(ids))).all()
        drafts = session.exec(select(Draft).where(col(Draft.message_id).in_(ids))).all()
    summary = {
        "messages": len(events),
        "stored": sum(not s.duplicate for s in stored),
        "duplicates": sum(s.duplicate for s in stored),
        "skipped_lines": errors,
        "by_type": dict(Counter(m.type for m in messages)),
        "by_language": dict(Counter(m.language for m in messages)),
        "by_stage": dict(Counter(m.stage for m in messages)),
        "drafts_by_status": dict(Counter(d.status for d in drafts)),
        "reviewed": reviewed,
    }
    print(json.dumps(summary, ensure_ascii=False, indent=2))
    return 1 if errors else 0


def _apply_reviews(engine, reviews) -> int:
    """Each `review` as the named person would have made it, `minutes` after the message came:
    the same decisions the console makes, audited, with their times set to the simulated ones."""
    import secrets
    from datetime import timedelta

    from sqlmodel import col, select

    from bot.errors import DomainError
    from bot.review import decisions as decide
    from bot.web.security import hash_password
    from db.engine import session_scope
    from db.enums import DraftStatus, Role
    from db.models import AuditLog, Draft, Message, User

    done = 0
    for spec, stored in reviews:
        if not isinstance(spec, dict):
            continue
        with session_scope(engine) as session:
            name = str(spec.get("as") or "simulated reviewer")
            user = session.exec(select(User).where(User.username == name)).first()
            if user is None:
                # cannot log in: inactive, with the hash of a password nobody knows
                secret = hash_password(secrets.token_urlsafe(24))
                user = User(username=name, password_hash=secret, role=Role.SUPERVISOR, active=False)
                session.add(user)
                session.flush()
            message = session.get(Message, stored.message_id)
            assert message is not None and message.id is not None  # stored above
            first = session.exec(
                select(Draft)
                .where(Draft.message_id == message.id, Draft.status == DraftStatus.PENDING)
                .order_by(col(Draft.rank))
            ).first()
            action = spec.get("action", "approve")
            try:
                if action == "no_reply":
                    decide.dismiss(session, message.id, user, spec.get("text") or "no reply",
                                   via="simulate")  # fmt: skip
                    draft = None
                elif action == "reply" or first is None:
                    draft = decide.reply(session, message.id, user, spec.get("text") or "",
                                         via="simulate")  # fmt: skip
                else:
                    assert first.id is not None  # read from the table
                    text = spec.get("text") or (first.text + (spec.get("append") or ""))
                    draft = decide.approve(session, first.id, user, text=text, via="simulate")
            except DomainError as error:
                print(
                    _("Review of message #{id} skipped: {error}").format(
                        id=message.id, error=error.text()
                    ),
                    file=sys.stderr,
                )
                continue
            arrived = message.sent_at or message.received_at
            at = arrived + timedelta(minutes=float(spec.get("minutes") or 5))
            if draft is not None:
                draft.decided_at = draft.approved_at = at
                session.add(draft)
            made = select(AuditLog).where(
                AuditLog.message_id == message.id, AuditLog.via == "simulate"
            )
            for row in session.exec(made):
                row.at = at
                session.add(row)
            done += 1
    return done
