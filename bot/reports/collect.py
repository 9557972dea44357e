"""Read what a report needs from the database in a few plain queries (no ORM objects), so a
month of a busy account loads in well under a second."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cached_property

from sqlalchemy import select
from sqlalchemy.engine import Connection, Engine, Row

from bot.reports.period import Period
from db.models import AuditLog, Contact, Conversation, Draft, Message, Post, PostRun
from db.models import StageTransition as Move

LOOKBACK = timedelta(days=7)  # a customer turn may have started this long before the period
DECISIONS = ("approve", "edit", "reject", "auto_approve")


@dataclass
class Data:
    """Rows for one report. `inbound` spans the previous period through a week after this one
    (comparisons, turns that started earlier, replies and post engagement that came later)."""

    period: Period
    inbound: list[Row]  # id, channel, conversation_id, contact_id, sent_at, kind, type, ...
    outbound: list[Row]  # conversation_id, sent_at, kind, channel, direct contact_id
    decisions: list[Row]  # action, at, playbook
    pending_messages: int
    sent_drafts: list[Row]  # playbook, policy, message text, message id
    answered: list[Row]  # every draft of messages a person answered in the period (quality)
    contacts: list[Row]  # id, channel, first_seen_at (seen before the period ended)
    moves: list[Row]  # contact_id, from_stage, to_stage, at (before the period ended)
    runs: list[Row]  # PostRun columns, the post's channel, target, goal; chat conversation
    unrun_posts: list[Row]  # one-off posts due in the period that have no run

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
                select(AuditLog.action, AuditLog.at, Draft.playbook)
                .join(Draft, Draft.id == AuditLog.draft_id)
                .where(AuditLog.action.in_(DECISIONS), AuditLog.at >= start, AuditLog.at < end)
            ).all(),
            pending_messages=len(
                conn.execute(
                    select(Draft.message_id)
                    .where(Draft.status == "pending", Draft.created_at >= start)
                    .where(Draft.created_at < end)
                    .distinct()
                ).all()
            ),
            sent_drafts=conn.execute(
                select(Draft.playbook, Draft.policy, Message.text, Message.id)
                .join(Message, Message.id == Draft.message_id)
                .where(Draft.status == "sent", Draft.sent_at >= start, Draft.sent_at < end)
            ).all(),
            answered=_answered(conn, start, end),
            contacts=conn.execute(
                select(Contact.id, Contact.channel, Contact.first_seen_at).where(
                    Contact.first_seen_at < end
                )
            ).all(),
            moves=conn.execute(
                select(Move.contact_id, Move.from_stage, Move.to_stage, Move.at)
                .where(Move.at < end)
                .order_by(Move.at, Move.id)
            ).all(),
            runs=_runs(conn, start, end),
            unrun_posts=conn.execute(
                select(Post.id, Post.status, Post.stage_goal).where(
                    Post.cron.is_(None),
                    Post.scheduled_at >= start,
                    Post.scheduled_at < end,
                    ~Post.id.in_(select(PostRun.post_id)),
                )
            ).all(),
        )


ANSWERED = ("approved", "edited", "sent", "failed")


def _answered(conn: Connection, start: datetime, end: datetime) -> list[Row]:
    """The candidates of each message whose reply was decided in the period, with the message's
    type and arrival: what draft quality is measured on."""
    decided = (
        select(Draft.message_id)
        .where(Draft.status.in_(ANSWERED), Draft.decided_at >= start, Draft.decided_at < end)
        .distinct()
    )
    return conn.execute(
        select(
            Draft.message_id,
            Draft.rank,
            Draft.playbook,
            Draft.status,
            Draft.text,
            Draft.original_text,
            Draft.decided_at,
            Draft.auto,
            Draft.policy,
            Message.type,
            Message.sent_at.label("sent_at"),
        )
        .join(Message, Message.id == Draft.message_id)
        .where(Draft.message_id.in_(decided))
        .order_by(Draft.message_id, Draft.rank)
    ).all()


def _inbound(conn: Connection, since: datetime, until: datetime) -> list[Row]:
    return conn.execute(
        select(
            Message.id,
            Message.channel,
            Message.conversation_id,
            Message.contact_id,
            Message.sent_at,
            Message.kind,
            Message.type,
            Message.subtype,
            Message.sentiment,
            Message.reply_to_message_id,
        )
        .where(Message.direction == "in", Message.sent_at >= since, Message.sent_at < until)
        .order_by(Message.sent_at, Message.id)
    ).all()


def _outbound(conn: Connection, since: datetime, until: datetime) -> list[Row]:
    return conn.execute(
        select(
            Message.conversation_id,
            Message.sent_at,
            Message.kind,
            Conversation.channel,
            Conversation.contact_id,
        )
        .join(Conversation, Conversation.id == Message.conversation_id)
        .where(Message.direction == "out", Message.sent_at >= since, Message.sent_at < until)
        .order_by(Message.sent_at, Message.id)
    ).all()


def _runs(conn: Connection, start: datetime, end: datetime) -> list[Row]:
    posted = Message.__table__.alias("posted")
    return conn.execute(
        select(
            PostRun.post_id,
            PostRun.scheduled_for,
            PostRun.status,
            PostRun.finished_at,
            PostRun.message_id,
            PostRun.error,
            Post.channel,
            Post.target,
            Post.stage_goal,
            Post.cron,
            Post.text,
            posted.c.conversation_id,
        )
        .join(Post, Post.id == PostRun.post_id)
        .outerjoin(posted, posted.c.id == PostRun.message_id)
        .where(PostRun.scheduled_for >= start, PostRun.scheduled_for < end)
        .order_by(PostRun.scheduled_for, PostRun.id)
    ).all()
