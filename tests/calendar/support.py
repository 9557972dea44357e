"""Helpers for the calendar tests: approved posts, their runs, and a scheduler run around a
scenario (the channel is tests/fakes/channel.py's FakeChannel)."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

from sqlmodel import Session, select

from bot.calendar import publish
from bot.calendar.posts import approve_post, create_post
from db.engine import session_scope
from db.models import Post, PostRun


def approved_post(services, staff, when, **kw) -> Post:
    """A post planned for `when` and approved, as if long enough ago."""
    agent, boss = staff
    values = dict(
        text="週末市集見！",
        target="telegram:-1001234567890",
        when=when,
        stage_goal="relationship",
        now=when - timedelta(days=1),
    )
    with session_scope(services.engine) as session:
        post = create_post(session, agent, **(values | kw))
        return approve_post(
            session, post.id, boss, grace=publish.grace_of(services.settings), now=post.created_at
        )


def runs(engine) -> list[PostRun]:
    with Session(engine) as session:
        return list(session.exec(select(PostRun).order_by(PostRun.id)))


def reload(engine, post: Post) -> Post:
    with Session(engine) as session:
        return session.get(Post, post.id)


async def until(predicate, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


def run_scheduler(services, scenario) -> None:
    async def main():
        services.scheduler.retry_seconds = 0.2
        await services.scheduler.start()
        try:
            await scenario()
        finally:
            await services.scheduler.stop()
            for channel in services.channels.values():
                await channel.stop()

    asyncio.run(main())
