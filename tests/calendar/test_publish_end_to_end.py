"""Calendar to platform, end to end: approved posts go out at their time through the real
Telegram and LINE adapters to the fake platform servers, failures carry their reason, a retry
is delivered once, and what people do after a post is counted in the report."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import Session

from bot.calendar import publish
from bot.pipeline.ingest import store_events
from bot.reports import Period, build_report
from bot.services import Services
from db.models import Conversation, Message
from db.types import utcnow
from handlers.line import QUOTA_EXHAUSTED
from tests.adapters.support import rows
from tests.calendar.support import approved_post, reload, run_scheduler, runs, until
from tests.fakes import line_webhooks as lw
from tests.fakes import telegram_updates as tu
from tests.fakes.live_app import platform_settings
from tests.fakes.telegram_updates import WEBHOOK_SECRET

CHANNEL_ID = -1001234567890
GROUP_ID = -100555
PHOTO = "https://cdn.example.org/market.jpg"


@pytest.fixture
def services(database_url, classifier, telegram_api, line_api):
    telegram_api.channels["@brandchannel"] = CHANNEL_ID
    settings = platform_settings(database_url, telegram_api, line_api)
    services = Services.build(settings, classifier=lambda: classifier)
    yield services
    services.engine.dispose()


def run(services, coroutine):
    """Run one step in its own loop, closing the platform clients it opened."""

    async def main():
        try:
            return await coroutine
        finally:
            for channel in services.channels.values():
                await channel.stop()

    return asyncio.run(main())


def due_post(services, staff, **kw):
    return approved_post(services, staff, utcnow() - timedelta(seconds=5), **kw)


def receive(services, channel: str, body: bytes, headers: dict) -> None:
    """A webhook delivery, parsed by the adapter and stored like the web app does."""
    events = run(services, services.channels[channel].parse_request(body, headers))
    store_events(services.engine, events)


def report_posts(services) -> dict:
    tz = ZoneInfo(services.settings.timezone)
    today = utcnow().astimezone(tz).date()
    period = Period.parse(str(today - timedelta(days=1)), str(today + timedelta(days=1)), tz)
    return build_report(services.engine, services.settings, period, charts=False).data


def test_approved_posts_go_out_through_each_adapter_at_their_time(
    services, staff, telegram_api, line_api
):
    when = utcnow() + timedelta(seconds=1)
    posts = [
        approved_post(services, staff, when, target="telegram:@brandchannel", text="週末市集見！"),
        approved_post(services, staff, when, target=f"telegram:{GROUP_ID}", image=PHOTO),
        approved_post(services, staff, when, target="line:broadcast", text="早安，今天開市"),
        approved_post(services, staff, when, target="line:audience:4242", image=PHOTO),
    ]

    async def scenario():
        for post in posts:
            publish.sync_job(services.scheduler, post, publish.grace_of(services.settings))
        await until(lambda: [r.status for r in runs(services.engine)].count("sent") == 4, 20)

    run_scheduler(services, scenario)
    outcome = {r.post_id: r for r in runs(services.engine)}
    assert all(r.status == "sent" and r.started_at >= r.scheduled_for for r in outcome.values())
    # Telegram: a message in the channel named @brandchannel; a captioned photo in the group
    [to_channel] = telegram_api.messages
    assert (to_channel["chat_id"], to_channel["text"]) == (str(CHANNEL_ID), "週末市集見！")
    [photo] = telegram_api.photos
    assert (photo["chat_id"], photo["photo"], photo["caption"]) == (
        str(GROUP_ID),
        PHOTO,
        "週末市集見！",
    )
    assert outcome[posts[0].id].platform_message_id == str(to_channel["message_id"])
    assert outcome[posts[1].id].platform_message_id == str(photo["message_id"])
    # LINE: a broadcast to every follower; a narrowcast to the audience, image first
    [broadcast] = line_api.requests("/broadcast")
    [narrowcast] = line_api.requests("/narrowcast")
    delivered = {}
    for d in line_api.delivered:
        delivered.setdefault(d["via"], []).append((d["to"], d.get("image"), d["text"]))
    assert delivered == {
        "broadcast": [("broadcast", None, "早安，今天開市")],
        "narrowcast": [("audience:4242", PHOTO, None), ("audience:4242", None, "週末市集見！")],
    }
    assert outcome[posts[2].id].platform_message_id == broadcast.request_id
    assert outcome[posts[3].id].platform_message_id == narrowcast.request_id
    assert {reload(services.engine, p).status for p in posts} == {"sent"}
    # the channel post is kept in the chat Telegram's updates will name: its numeric id
    with Session(services.engine) as session:
        kept = session.get(Message, outcome[posts[0].id].message_id)
        chat = session.get(Conversation, kept.conversation_id)
    assert (chat.chat_id, kept.platform_message_id) == (
        str(CHANNEL_ID),
        str(to_channel["message_id"]),
    )


def test_an_exhausted_line_quota_fails_the_post_with_the_reason(services, staff, line_api):
    line_api.quota_exhausted = True
    post = due_post(services, staff, target="line:broadcast")
    result = run(services, publish.publish(services, post.id))
    assert (result.status, result.attempts, result.error) == ("failed", 1, QUOTA_EXHAUSTED)
    failed = reload(services.engine, post)
    assert (failed.status, failed.error) == ("failed", QUOTA_EXHAUSTED)
    assert line_api.delivered == []


def test_a_publish_retried_after_a_lost_response_is_delivered_once(services, staff, line_api):
    line_api.lose_responses = 1  # LINE sends the broadcast, but its answer never arrives
    post = due_post(services, staff, target="line:broadcast")
    result = run(services, publish.publish(services, post.id))
    lost, retried = line_api.requests("/broadcast")
    assert (lost.status, retried.status) == (500, 409)
    assert lost.headers["X-Line-Retry-Key"] == retried.headers["X-Line-Retry-Key"]
    assert line_api.texts() == ["週末市集見！"]
    assert (result.status, result.attempts) == ("sent", 2)
    assert result.platform_message_id == lost.request_id  # the request that went out


def test_reactions_to_a_published_telegram_post_count_as_its_engagement(
    services, staff, telegram_api
):
    post = due_post(services, staff, target=f"telegram:{GROUP_ID}")
    sent = run(services, publish.publish(services, post.id))
    headers = {"x-telegram-bot-api-secret-token": WEBHOOK_SECRET}
    later = int(time.time()) + 2  # Telegram dates are whole seconds
    message_id = int(sent.platform_message_id)
    for update in (
        tu.reaction(GROUP_ID, 71, message_id, ["👍"]),
        tu.reaction(GROUP_ID, 71, message_id, ["❤"], old=["👍"]),  # changed: same person
        tu.reaction(GROUP_ID, 72, message_id, ["🔥"]),
        tu.reaction(GROUP_ID, 73, message_id, ["👍"]),
        tu.reaction(GROUP_ID, 73, message_id, [], old=["👍"]),  # withdrawn
    ):
        update["message_reaction"]["date"] = later
        receive(services, "telegram", json.dumps(update).encode(), headers)
    [item] = report_posts(services)["posts"]["items"]
    assert (item["post_id"], item["reactions"], item["engaged_contacts"]) == (post.id, 3, 3)
    assert item["engagement"] == 3
    reactions = rows(services.engine, Message, Message.kind == "reaction")
    assert [r.reply_to_message_id for r in reactions] == [sent.message_id] * 3


def test_line_messages_after_a_broadcast_count_as_its_replies(services, staff, line_api):
    post = due_post(services, staff, target="line:broadcast")
    run(services, publish.publish(services, post.id))
    later = int(time.time() * 1000) + 1000
    fan = lw.user_id(5)
    for event in (
        lw.text_event("幾點開市？", fan, timestamp=later),
        lw.postback_event("menu:hours", fan, timestamp=later),  # a button press is no reply
    ):
        raw = lw.body(event)
        receive(services, "line", raw, lw.headers(raw))
    report = report_posts(services)
    [item] = report["posts"]["items"]
    assert (item["target"], item["replies"], item["engaged_contacts"]) == ("line:broadcast", 1, 1)
    assert report["reach"]["by_channel"]["line"]["posts_sent"] == 1
