"""The content calendar: scheduled posts and each time one went out (or could not)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from db.enums import PostRunStatus, PostStatus, one_of
from db.models.core import _opt_ts, _ts
from db.types import EnumText

POST_STATUSES = tuple(PostStatus)
RUN_STATUSES = tuple(PostRunStatus)


class Post(SQLModel, table=True):
    """A post staff schedule for a channel's audience, once or recurring.

    status: planned → approved (by a supervisor) → sent | failed | missed; or cancelled. A
    recurring post stays approved while it recurs; each occurrence is a PostRun.
    """

    __table_args__ = (
        Index("ix_post_status_scheduled_at", "status", "scheduled_at"),
        one_of("post", "status", PostStatus),
    )

    id: int | None = Field(default=None, primary_key=True)
    text: str = Field(sa_type=Text)
    image: str | None = Field(default=None, max_length=500)  # https URL or a file in media_dir
    channel: str = Field(max_length=32)  # telegram | line
    target: str = Field(max_length=200)  # the channel's address, see Channel.publish
    scheduled_at: datetime = _ts()  # the time (once) or the earliest time (recurring)
    cron: str | None = Field(default=None, max_length=100)  # 5 fields, in `timezone`
    timezone: str = Field(default="Asia/Taipei", max_length=64)
    stage_goal: str = Field(max_length=32)  # identification | relationship | collaboration
    status: PostStatus = Field(default=PostStatus.PLANNED, sa_type=EnumText(PostStatus))
    created_by_id: int | None = Field(default=None, foreign_key="user.id")
    created_at: datetime = _ts()
    approved_by_id: int | None = Field(default=None, foreign_key="user.id")
    approved_at: datetime | None = _opt_ts()
    cancelled_by_id: int | None = Field(default=None, foreign_key="user.id")
    cancelled_at: datetime | None = _opt_ts()
    sent_at: datetime | None = _opt_ts()  # the last time it went out
    error: str | None = Field(default=None, sa_type=Text)  # why the last attempt failed


class PostRun(SQLModel, table=True):
    """One occurrence of a post: claimed once (the unique pair), then sent, failed or missed."""

    __table_args__ = (
        UniqueConstraint("post_id", "scheduled_for"),
        one_of("postrun", "status", PostRunStatus),
    )

    id: int | None = Field(default=None, primary_key=True)
    post_id: int = Field(foreign_key="post.id", index=True)
    scheduled_for: datetime = _ts(index=True)
    status: PostRunStatus = Field(default=PostRunStatus.SENDING, sa_type=EnumText(PostRunStatus))
    started_at: datetime = _ts()
    finished_at: datetime | None = _opt_ts()
    attempts: int = 0
    platform_message_id: str | None = Field(default=None, max_length=200)
    message_id: int | None = Field(default=None, foreign_key="message.id")  # chat targets
    error: str | None = Field(default=None, sa_type=Text)
