"""Publishing calendar posts on Telegram against the fake Bot API (channels by @name, photos
with captions, long posts split, the chat's flood slots, permanent failures), and reactions."""

import asyncio
import json

import pytest

from handlers.telegram import TelegramChannel
from handlers.telegram_flood import FloodGate
from tests.fakes import telegram_updates as tu
from tests.fakes.telegram_updates import WEBHOOK_SECRET

CHANNEL_ID = -1001234567890
PHOTO = "https://cdn.example.org/market.jpg"


@pytest.fixture
def channel(telegram_api):
    telegram_api.channels["@brandchannel"] = CHANNEL_ID
    return make_channel(telegram_api)


def make_channel(telegram_api, gate=None, max_inline_wait=1.5, staff=None):
    return TelegramChannel(
        telegram_api.token,
        webhook_secret=WEBHOOK_SECRET,
        api_base=telegram_api.api_base,
        staff_chat_id=staff,
        gate=gate or FloodGate(chat_interval=0.01, group_per_minute=1000, global_per_second=1000),
        max_inline_wait=max_inline_wait,
    )


def publish(channel, *args, **kw):
    async def run():
        try:
            return await channel.publish(*args, **kw)
        finally:
            await channel.stop()

    return asyncio.run(run())


def test_a_post_to_a_channel_by_name_is_a_message_there_with_its_id_and_chat(channel, telegram_api):
    result = publish(channel, "@brandchannel", "週末市集見！")
    [sent] = telegram_api.messages
    assert (sent["chat_id"], sent["text"]) == (str(CHANNEL_ID), "週末市集見！")
    assert result.ok and result.platform_message_id == str(sent["message_id"])
    assert result.chat_id == str(CHANNEL_ID)  # updates name the chat by number, not @name


def test_a_post_with_an_image_is_a_photo_captioned_with_the_text(channel, telegram_api):
    result = publish(channel, str(CHANNEL_ID), "週末市集見！", PHOTO)
    assert telegram_api.messages == []
    [photo] = telegram_api.photos
    assert (photo["photo"], photo["caption"]) == (PHOTO, "週末市集見！")
    assert result.ok and result.platform_message_id == str(photo["message_id"])


def test_a_post_too_long_for_a_caption_is_the_photo_then_the_text(channel, telegram_api):
    text = "市集" * 600  # 1200 characters: more than a caption's 1024
    result = publish(channel, "@brandchannel", text, PHOTO)
    [photo] = telegram_api.photos
    [message] = telegram_api.messages
    assert photo["caption"] is None and message["text"] == text
    assert message["message_id"] == photo["message_id"] + 1
    assert result.ok and result.platform_message_id == str(message["message_id"])


def test_a_retry_after_the_photo_went_out_sends_only_the_text(telegram_api):
    now = [0.0]
    gate = FloodGate(5, group_per_minute=1000, global_per_second=1000, clock=lambda: now[0])
    channel = make_channel(telegram_api, gate=gate, max_inline_wait=1.0)
    text = "市集" * 600
    first = publish(channel, str(CHANNEL_ID), text, PHOTO, key="post:1@t")
    assert first.deferred and first.retry_after == pytest.approx(5)  # the chat's next slot
    assert len(telegram_api.photos) == 1 and telegram_api.messages == []
    now[0] += 5
    second = publish(channel, str(CHANNEL_ID), text, PHOTO, key="post:1@t")
    assert second.ok and len(telegram_api.photos) == 1
    assert [m["text"] for m in telegram_api.messages] == [text]


@pytest.mark.parametrize(
    ("target", "why"),
    [("@nosuchchannel", "chat not found"), ("@brandchannel", "not a member of the channel")],
)
def test_a_chat_that_cannot_take_the_post_fails_it_permanently(channel, telegram_api, target, why):
    telegram_api.blocked_by.add(str(CHANNEL_ID))
    result = publish(channel, target, "週末市集見！")
    assert not result.ok and result.permanent and why in result.error.lower()
    assert telegram_api.token not in result.error


# ----- reactions in ----------------------------------------------------------------------------


def parse(channel, update):
    headers = {"x-telegram-bot-api-secret-token": WEBHOOK_SECRET}
    return asyncio.run(channel.parse_request(json.dumps(update).encode(), headers))


def test_a_reaction_is_an_event_linked_to_the_message_reacted_to(channel):
    [event] = parse(channel, tu.reaction(-100555, 77, 1001, ["👍"]))
    assert (event.kind, event.content_type, event.text) == ("reaction", "reaction", "👍")
    assert event.reply_to_platform_message_id == "1001" and not event.answerable
    assert (event.chat_id, event.chat_kind, event.user_id) == ("-100555", "group", "77")


def test_a_changed_or_withdrawn_reaction_is_not_a_new_one(channel):
    [changed] = parse(channel, tu.reaction(-100555, 77, 1001, ["❤"], old=["👍"]))
    [removed] = parse(channel, tu.reaction(-100555, 77, 1001, [], old=["❤"]))
    assert (changed.kind, changed.text) == ("reaction_changed", "❤")
    assert (removed.kind, removed.text) == ("reaction_removed", None)


def test_reactions_in_the_staff_chat_are_dropped(telegram_api):
    channel = make_channel(telegram_api, staff="-1009999")
    assert parse(channel, tu.reaction(-1009999, 77, 5, ["👍"])) == []
