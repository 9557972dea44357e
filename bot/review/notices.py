"""Staff notices (a handoff, an escalation, a repeat troll): stored with the message that caused
them and the figures they are written from, shown in the console and pushed to the staff chats
named in REPLYLINE_STAFF_NOTIFY, each in its reader's language with the brand zone's time."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from bot.delivery.notify import push, reader_locale
from bot.i18n import (
    channel_label,
    pgettext,
    role_label,
    stamp,
    use_locale,
)
from bot.i18n import gettext as _
from bot.i18n.labels import draft_source_label
from bot.review.contact_names import contact_name
from db.engine import session_scope
from db.models import Contact, Message, StaffNotice
from db.types import utcnow
from handlers.base import Channel

log = logging.getLogger(__name__)


def add_notice(session: Session, kind: str, message: Message | None = None, **params) -> None:
    """A notice of `kind` with the figures its text needs (see `notice_text`)."""
    notice = StaffNotice(
        kind=kind,
        text="",
        params=params,
        message_id=message.id if message else None,
        conversation_id=message.conversation_id if message else None,
    )
    with use_locale("en"):  # the stored text, for readers of the table itself
        notice.text = notice_text(notice, _who(session, message))
    session.add(notice)


def _who(session: Session, message: Message | None) -> Contact | None:
    return session.get(Contact, message.contact_id) if message and message.contact_id else None


def kind_label(kind: str) -> str:
    labels = {
        "handoff": pgettext("notice", "Wants a person"),
        "escalation": pgettext("notice", "Escalation"),
        "repeat_troll": pgettext("notice", "Repeat troll"),
    }
    return labels.get(kind, kind.replace("_", " "))


def notice_text(notice: StaffNotice, contact: Contact | None) -> str:
    """The notice in the current language; one stored before notices kept their figures is
    shown as it was written."""
    figures = notice.params
    if figures is None:
        return notice.text
    who = contact_name(contact)
    if notice.kind == "handoff":
        return _("{who} asked for a person").format(who=who)
    if notice.kind == "escalation":
        what = draft_source_label(f"{figures.get('type')}/{figures.get('section')}")
        role = role_label(figures.get("role")).lower()  # inside a sentence (no case in Chinese)
        if figures.get("ticket"):
            return _("{what} needs a {role} now (ticket {ticket})").format(
                what=what, role=role, ticket=figures["ticket"]
            )
        return _("{what} needs a {role} now").format(what=what, role=role)
    if notice.kind == "repeat_troll":
        return _(
            "{who} has trolled {count} times on {channel} in {days} days: consider muting"
        ).format(who=who, count=figures.get("count"), channel=channel_label(figures.get("channel")),
                 days=figures.get("days"))  # fmt: skip
    return notice.text


@dataclass(frozen=True)
class ShownNotice:
    """A notice as the console lists it, in the reader's language."""

    kind: str
    label: str
    text: str
    created_at: datetime


def shown(session: Session, notices: list[StaffNotice]) -> list[ShownNotice]:
    contacts = {}
    for notice in notices:
        message = session.get(Message, notice.message_id) if notice.message_id else None
        contacts[notice.id] = _who(session, message)
    return [
        ShownNotice(n.kind, kind_label(n.kind), notice_text(n, contacts[n.id]), n.created_at)
        for n in notices
    ]


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
        due = await asyncio.to_thread(self._due, limit)
        for notice_id, texts in due:
            errors = []
            for recipient, text in zip(self.recipients, texts, strict=True):
                try:
                    result = await push(self.channels, recipient, text)
                except Exception as exc:  # a broken chat must not stop the pipeline
                    log.exception("pushing notice %s to %s failed", notice_id, recipient)
                    errors.append(f"{recipient}: {type(exc).__name__}")
                    continue
                if not result.ok:
                    errors.append(f"{recipient}: {result.error}")
            with session_scope(self.engine) as session:
                row = session.get(StaffNotice, notice_id)
                assert row is not None  # notices are never deleted
                row.pushed_at = utcnow()
                row.push_error = "; ".join(errors) or None
                session.add(row)
        return len(due)

    def _due(self, limit: int) -> list[tuple[int, list[str]]]:
        """Unsent notices, each written once per recipient in that recipient's language."""
        with Session(self.engine) as session:
            notices = session.exec(
                select(StaffNotice)
                .where(col(StaffNotice.pushed_at).is_(None), col(StaffNotice.push_error).is_(None))
                .order_by(col(StaffNotice.id))
                .limit(limit)
            ).all()
            locales = [reader_locale(session, r) for r in self.recipients]
            due: list[tuple[int, list[str]]] = []
            for notice in notices:
                assert notice.id is not None  # read from the table
                texts = []
                for locale in locales:
                    with use_locale(locale):
                        [view] = shown(session, [notice])
                        texts.append(
                            f"[replyline · {view.label}] {view.text}\n"
                            f"{stamp(view.created_at)} · {self.console_url}"
                        )
                due.append((notice.id, texts))
        return due
