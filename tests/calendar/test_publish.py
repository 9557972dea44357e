"""Sending scheduled posts: on time through the channel, once per occurrence, late within the
grace period after an outage, else marked missed."""

from __future__ import annotations

import asyncio
import pickle
from datetime import timedelta

import pytest
from alembic import command
from sqlalchemy import text
from sqlmodel import Session

from bot.calendar import publish
from bot.calendar.posts import create_post
from bot.scheduler import Scheduler, job_table
from db.engine import session_scope
from db.migrate import alembic_config, upgrade
from db.models import Message, PostRun
from db.types import utcnow
from handlers.base import SendResult
from tests.calendar.support import (
    approved_post,
    reload,
    run_scheduler,
    runs,
    until,
)
from tests.fakes.channel import FakeChannel


def published(channel: FakeChannel) -> list[tuple[str, str, str | None]]:
    return [(p.target, p.text, p.image_url) for p in channel.published]


@pytest.fixture
def channel(services):
    channel = FakeChannel("telegram")
    services.channels["telegram"] = channel
    return channel


def test_an_approved_post_goes_out_at_its_time_through_the_channel(services, channel, staff):
    post = approved_post(services, staff, utcnow() + timedelta(seconds=1), image="a1.png")

    async def scenario():
        publish.sync_job(services.scheduler, post, publish.grace_of(services.settings))
        assert services.scheduler.get_job(f"post:{post.id}") is not None
        await until(lambda: runs(services.engine) and runs(services.engine)[0].status != "sending")

    run_scheduler(services, scenario)
    image_url = f"{services.settings.web.base_url}/media/a1.png"
    assert published(channel) == [("-1001234567890", "週末市集見！", image_url)]
    [run] = runs(services.engine)
    assert run.status == "sent" and run.platform_message_id == "telegram-1"
    assert reload(services.engine, post).status == "sent"
    with Session(services.engine) as session:  # kept in the chat, so replies thread to it
        sent = session.get(Message, run.message_id)
    assert (sent.direction, sent.kind, sent.platform_message_id) == ("out", "post", "telegram-1")


def test_a_post_due_while_replyline_was_down_goes_out_on_recovery_within_grace(
    services, channel, staff
):
    ten_minutes_ago = utcnow() - timedelta(minutes=10)
    late = approved_post(services, staff, ten_minutes_ago)
    too_late = approved_post(services, staff, utcnow() - timedelta(hours=2), text="太晚了")

    async def while_down():  # approved from the shell: jobs stored, nobody running them
        async with job_table(services.settings.database.url) as table:
            for post in (late, too_late):
                publish.sync_job(table, post, publish.grace_of(services.settings))

    asyncio.run(while_down())

    async def recovered():
        await until(lambda: len(runs(services.engine)) == 2)
        await until(lambda: all(r.status != "sending" for r in runs(services.engine)))

    run_scheduler(services, recovered)
    assert published(channel) == [("-1001234567890", "週末市集見！", None)]
    outcome = {r.post_id: (r.status, r.scheduled_for) for r in runs(services.engine)}
    assert outcome[late.id] == ("sent", late.scheduled_at)
    assert outcome[too_late.id] == ("missed", too_late.scheduled_at)
    assert reload(services.engine, too_late).status == "missed"
    assert "not running" in reload(services.engine, too_late).error


def test_an_occurrence_goes_out_once_even_if_two_leaders_overlap(services, channel, staff):
    post = approved_post(services, staff, utcnow() - timedelta(seconds=5))

    async def both():
        return await asyncio.gather(
            publish.publish(services, post.id), publish.publish(services, post.id)
        )

    outcomes = asyncio.run(both())
    assert sum(o is not None for o in outcomes) == 1
    assert len(channel.published) == 1 and len(runs(services.engine)) == 1


def test_a_transient_failure_is_retried_and_a_permanent_one_fails_the_post(
    services, channel, staff
):
    channel.script(
        "publish",
        SendResult(False, error="429 Too Many Requests", retry_after=0.01),
        SendResult(True, platform_message_id="ok-2"),
        SendResult(False, error="chat not found", permanent=True),
    )
    first = approved_post(services, staff, utcnow() - timedelta(seconds=5))
    second = approved_post(services, staff, utcnow() - timedelta(seconds=5), text="第二篇")
    sent = asyncio.run(publish.publish(services, first.id))
    failed = asyncio.run(publish.publish(services, second.id))
    assert (sent.status, sent.attempts, sent.platform_message_id) == ("sent", 2, "ok-2")
    keys = [call.args["key"] for call in channel.calls if call.method == "publish"]
    assert keys[0] == keys[1] != keys[2]  # one key per occurrence
    assert (failed.status, failed.attempts, failed.error) == ("failed", 1, "chat not found")
    assert reload(services.engine, second).status == "failed"


def test_a_channel_that_cannot_publish_fails_the_post_with_the_reason(services, staff):
    services.channels["line"] = FakeChannel("line", can_publish=False)
    post = approved_post(services, staff, utcnow() - timedelta(seconds=5), target="line:broadcast")
    run = asyncio.run(publish.publish(services, post.id))
    assert run.status == "failed" and run.error == "line cannot publish posts"


def test_a_recurring_post_sends_each_occurrence_and_stays_approved(services, channel, staff):
    start = utcnow().replace(minute=0, second=0, microsecond=0) - timedelta(hours=3)
    post = approved_post(services, staff, start, cron="0 * * * *")
    for hours in (1, 2):
        asyncio.run(
            publish.publish(services, post.id, now=start + timedelta(hours=hours, minutes=3))
        )
    again = asyncio.run(
        publish.publish(services, post.id, now=start + timedelta(hours=2, minutes=9))
    )
    assert again is None  # that hour's occurrence already went out
    assert [r.scheduled_for for r in runs(services.engine)] == [
        start + timedelta(hours=1),
        start + timedelta(hours=2),
    ]
    assert reload(services.engine, post).status == "approved"


def test_the_sweep_schedules_posts_approved_elsewhere_and_expires_unapproved_ones(
    services, channel, staff
):
    agent, _ = staff
    approved = approved_post(services, staff, utcnow() + timedelta(hours=1))
    crashed = approved_post(services, staff, utcnow() - timedelta(days=3))
    with session_scope(services.engine) as session:
        stale = create_post(
            session,
            agent,
            text="沒人核准",
            target="telegram:@brandchannel",
            when=utcnow() - timedelta(hours=2),
            stage_goal="identification",
            now=utcnow() - timedelta(days=1),
        )
        stuck = PostRun(  # its process died while sending
            post_id=crashed.id,
            scheduled_for=utcnow() - timedelta(days=3),
            status="sending",
            started_at=utcnow() - timedelta(days=3),
        )
        session.add(stuck)

    async def scenario():
        scheduler: Scheduler = services.scheduler
        done = publish.sweep_once(services.engine, scheduler, services.settings)
        assert done == {"scheduled": 1, "unscheduled": 0, "expired": 1, "stuck": 1}
        assert scheduler.get_job(f"post:{approved.id}") is not None
        assert publish.sweep_once(services.engine, scheduler, services.settings)["scheduled"] == 0

    run_scheduler(services, scenario)
    assert reload(services.engine, stale).status == "missed"
    assert reload(services.engine, stale).error == "not approved before its time"
    statuses = {r.post_id: r.status for r in runs(services.engine)}
    assert statuses == {crashed.id: "failed", stale.id: "missed"}


def test_a_post_scheduled_before_the_layout_move_still_goes_out(services, channel, staff):
    """Jobs stored when publishing lived at bot/publish.py name their function by that text;
    migration 0017 points them at bot/calendar/publish.py (else APScheduler drops them)."""
    post = approved_post(services, staff, utcnow() - timedelta(minutes=10))

    async def store():
        async with job_table(services.settings.database.url) as table:
            publish.sync_job(table, post, publish.grace_of(services.settings))

    asyncio.run(store())
    url = services.settings.database.url
    command.downgrade(alembic_config(url), "0016_user_locale")  # the database as it was before
    assert stored_functions(services.engine) == {f"post:{post.id}": "bot.publish:publish_post"}
    upgrade(url)
    assert stored_functions(services.engine) == {f"post:{post.id}": publish.PUBLISH}

    async def recovered():
        await until(lambda: runs(services.engine) and runs(services.engine)[0].status == "sent")

    run_scheduler(services, recovered)
    assert published(channel) == [("-1001234567890", "週末市集見！", None)]


def stored_functions(engine) -> dict[str, str]:
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT id, job_state FROM apscheduler_jobs")).all()
    return {job_id: pickle.loads(state)["func"] for job_id, state in rows}
