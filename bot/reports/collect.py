"""Read what a report needs from the database in a few plain queries (no ORM objects), so a
month of a busy account loads in well under a second."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cached_property

from sqlalchemy import select
from sqlalchemy.engine import Connection, Engine, Row
from sqlalchemy.orm import aliased
from sqlmodel import col

from bot.reports.period import Period
from db.enums import DraftStatus
from db.models import AuditLog, Contact, Conversation, Draft, Message, Post, PostRun
from db.models import StageTransition as Move

LOOKBACK = timedelta(days=7)  # a customer turn may have started this long before the period
DECISIONS = ("approve", "edit", "reject", "auto_approve")


@dataclass
class Data:
    """Rows for one report. `inbound` spans the previous period through a week after this one
    (comparisons, turns that started earlier, replies and post engagement that came later)."""

    period: Period
    inbound: Sequence[Row]  # id, channel, conversation_id, contact_id, sent_at, kind, type, ...
    outbound: Sequence[Row]  # conversation_id, sent_at, kind, channel, direct contact_id
    decisions: Sequence[Row]  # action, at, playbook
    pending_messages: int
    sent_drafts: Sequence[Row]  # playbook, policy, message text, message id
    answered: Sequence[Row]  # every draft of messages a person answered in the period (quality)
    contacts: Sequence[Row]  # id, channel, first_seen_at (seen before the period ended)
    moves: Sequence[Row]  # contact_id, from_stage, to_stage, at (before the period ended)
    runs: Sequence[Row]  # PostRun columns, the post's channel, target, goal; chat conversation
    unrun_posts: Sequence[Row]  # one-off posts due in the period that have no run

    @cached_property
    def messages(self) -> list[Row]:
        """Customer messages written in the period."""
        return self._messages(self.period)

    @cached_property
    def previous_messages(self) -> list[Row]:
        """Customer messages of the period before, for comparisons."""
        return self._messages(self.period.previous())

    def _messages(self, period: Period) -> list[Row]:
        start, end = period.start, period.end
        return [m for m in self.inbound if m.kind == "message" and start <= m.sent_at < end]


def load(engine: Engine, period: Period, window: timedelta) -> Data:
    start, end = period.start, period.end
    earliest = min(period.previous().start, start - LOOKBACK)
    latest = end + max(LOOKBACK, window)
    with engine.connect() as conn:
        return Data(
            period=period,
            inbound=_inbound(conn, earliest, latest),
            outbound=_outbound(conn, start - LOOKBACK, latest),
            decisions=conn.execute(
                select(col(AuditLog.action), col(AuditLog.at), col(Draft.playbook))
                .join(Draft, col(Draft.id) == col(AuditLog.draft_id))
                .where(
                    col(AuditLog.action).in_(DECISIONS),
                    col(AuditLog.at) >= start,
                    col(AuditLog.at) < end,
                )
            ).all(),
            pending_messages=len(
                conn.execute(
                    select(col(Draft.message_id))
                    .where(col(Draft.status) == DraftStatus.PENDING, col(Draft.created_at) >= start)
                    .where(col(Draft.created_at) < end)
                    .distinct()
                ).all()
            ),
            sent_drafts=conn.execute(
                select(col(Draft.playbook), col(Draft.policy), col(Message.text), col(Message.id))
                .join(Message, col(Message.id) == col(Draft.message_id))
                .where(
                    col(Draft.status) == DraftStatus.SENT,
                    col(Draft.sent_at) >= start,
                    col(Draft.sent_at) < end,
                )
            ).all(),
            answered=_answered(conn, start, end),
            contacts=conn.execute(
                select(col(Contact.id), col(Contact.channel), col(Contact.first_seen_at)).where(
                    col(Contact.first_seen_at) < end
                )
            ).all(),
            moves=conn.execute(
                select(col(Move.contact_id), col(Move.from_stage), col(Move.to_stage), col(Move.at))
                .where(col(Move.at) < end)
                .order_by(col(Move.at), col(Move.id))
            ).all(),
            runs=_runs(conn, start, end),
            unrun_posts=conn.execute(
                select(col(Post.id), col(Post.status), col(Post.stage_goal)).where(
                    col(Post.cron).is_(None),
                    col(Post.scheduled_at) >= start,
                    col(Post.scheduled_at) < end,
                    ~col(Post.id).in_(select(col(PostRun.post_id))),
                )
            ).all(),
        )


ANSWERED = (DraftStatus.APPROVED, DraftStatus.EDITED, DraftStatus.SENT, DraftStatus.FAILED)


def _answered(conn: Connection, start: datetime, end: datetime) -> Sequence[Row]:
    """The candidates of each message whose reply was decided in the period, with the message's
    type and arrival: what draft quality is measured on."""
    decided = (
        select(col(Draft.message_id))
        .where(
            col(Draft.status).in_(ANSWERED),
            col(Draft.decided_at) >= start,
            col(Draft.decided_at) < end,
        )
        .distinct()
    )
    return conn.execute(
        select(
            col(Draft.message_id),
            col(Draft.rank),
            col(Draft.playbook),
            col(Draft.status),
            col(Draft.text),
            col(Draft.original_text),
            col(Draft.decided_at),
            col(Draft.auto),
            col(Draft.policy),
            col(Message.type),
            col(Message.sent_at).label("sent_at"),
        )
        .join(Message, col(Message.id) == col(Draft.message_id))
        .where(col(Draft.message_id).in_(decided))
        .order_by(col(Draft.message_id), col(Draft.rank))
    ).all()


def _inbound(conn: Connection, since: datetime, until: datetime) -> Sequence[Row]:
    return conn.execute(
        select(
            col(Message.id),
            col(Message.channel),
            col(Message.conversation_id),
            col(Message.contact_id),
            col(Message.sent_at),
            col(Message.kind),
            col(Message.type),
            col(Message.subtype),
            col(Message.sentiment),
            col(Message.reply_to_message_id),
        )
        .where(
            col(Message.direction) == "in",
            col(Message.sent_at) >= since,
            col(Message.sent_at) < until,
        )
        .order_by(col(Message.sent_at), col(Message.id))
    ).all()


def _outbound(conn: Connection, since: datetime, until: datetime) -> Sequence[Row]:
    return conn.execute(
        select(
            col(Message.conversation_id),
            col(Message.sent_at),
            col(Message.kind),
            col(Conversation.channel),
            col(Conversation.contact_id),
        )
        .join(Conversation, col(Conversation.id) == col(Message.conversation_id))
        .where(
            col(Message.direction) == "out",
            col(Message.sent_at) >= since,
            col(Message.sent_at) < until,
        )
        .order_by(col(Message.sent_at), col(Message.id))
    ).all()


def _runs(conn: Connection, start: datetime, end: datetime) -> Sequence[Row]:
    posted = aliased(Message, name="posted")
    return conn.execute(
        select(
            col(PostRun.post_id),
            col(PostRun.scheduled_for),
            col(PostRun.status),
            col(PostRun.finished_at),
            col(PostRun.message_id),
            col(PostRun.error),
            col(Post.channel),
            col(Post.target),
            col(Post.stage_goal),
            col(Post.cron),
            col(Post.text),
            col(posted.conversation_id),
        )
        .join(Post, col(Post.id) == col(PostRun.post_id))
        .outerjoin(posted, col(posted.id) == col(PostRun.message_id))
        .where(col(PostRun.scheduled_for) >= start, col(PostRun.scheduled_for) < end)
        .order_by(col(PostRun.scheduled_for), col(PostRun.id))
    ).all()
