"""Test doubles and helpers for the calendar: a channel that records what it is asked to
publish, approved posts, their runs, and a scheduler run around a scenario."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from datetime import timedelta

from sqlmodel import Session, select

from bot import publish
from bot.posts import approve_post, create_post
from db.engine import session_scope
from db.models import Post, PostRun
from handlers.base import Channel, InboundEvent, OutboundReply, SendResult


class PublishingChannel(Channel):
    """Answers publish() from a script of results (default: success), recording each call."""

    def __init__(self, name: str = "telegram", results: list[SendResult] | None = None):
        self.name = name
        self.results = list(results or [])
        self.published: list[tuple[str, str, str | None]] = []
        self.keys: list[str | None] = []
        self.pushed: list[tuple[str, str]] = []

    async def parse_request(self, body: bytes, headers: Mapping[str, str]) -> list[InboundEvent]:
        return []

    async def send(self, reply: OutboundReply) -> SendResult:
        return SendResult(True)

    async def publish(
        self, target: str, text: str, image_url: str | None = None, key: str | None = None
    ) -> SendResult:
        self.published.append((target, text, image_url))
        self.keys.append(key)
        if self.results:
            return self.results.pop(0)
        return SendResult(True, platform_message_id=f"m{len(self.published)}")

    async def push(self, recipient: str, text: str, actions=None) -> SendResult:
        self.pushed.append((recipient, text))
        return SendResult(True)


class MuteChannel(Channel):
    """A channel that keeps Channel's default publish: it cannot publish."""

    name = "line"

    async def parse_request(self, body: bytes, headers: Mapping[str, str]) -> list[InboundEvent]:
        return []

    async def send(self, reply: OutboundReply) -> SendResult:
        return SendResult(True)


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
