"""Staff notices (a handoff, an escalation, a repeat troll): stored with the message that caused
them, shown in the console, and pushed to the staff chats named in REPLYLINE_STAFF_NOTIFY."""

from __future__ import annotations

import logging

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from bot.delivery.notify import push
from db.engine import session_scope
from db.models import Message, StaffNotice
from db.types import utcnow
from handlers.base import Channel

log = logging.getLogger(__name__)


def add_notice(session: Session, kind: str, text: str, message: Message | None = None) -> None:
    session.add(
        StaffNotice(
            kind=kind,
            text=text,
            message_id=message.id if message else None,
            conversation_id=message.conversation_id if message else None,
        )
    )


class NoticePusher:
    """Pushes unsent notices to every staff recipient ("telegram:123", "line:U…")."""

    def __init__(self, engine: Engine, channels: dict[str, Channel], recipients: list[str],
                 console_url: str):  # fmt: skip
        self.engine = engine
        self.channels = channels
        self.recipients = recipients
        self.console_url = console_url

    async def push_due(self, limit: int = 20) -> int:
        if not self.recipients:
            return 0
        with Session(self.engine) as session:
            notices = session.exec(
                select(StaffNotice)
                .where(StaffNotice.pushed_at.is_(None), StaffNotice.push_error.is_(None))
                .order_by(StaffNotice.id)
                .limit(limit)
            ).all()
        for notice in notices:
            text = f"[replyline · {notice.kind}] {notice.text}\n{self.console_url}"
            errors = []
            for recipient in self.recipients:
                try:
                    result = await push(self.channels, recipient, text)
                except Exception as exc:  # a broken chat must not stop the pipeline
                    log.exception("pushing notice %s to %s failed", notice.id, recipient)
                    errors.append(f"{recipient}: {type(exc).__name__}")
                    continue
                if not result.ok:
                    errors.append(f"{recipient}: {result.error}")
            with session_scope(self.engine) as session:
                row = session.get(StaffNotice, notice.id)
                row.pushed_at = utcnow()
                row.push_error = "; ".join(errors) or None
                session.add(row)
        return len(notices)
