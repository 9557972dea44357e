"""The Telegram adapter against the fake Bot API: webhook verification, every handled update
kind, threaded group replies, flood control per chat, and a token that never leaks."""

import asyncio
import json
import logging

import pytest

from handlers import redact
from handlers.base import OutboundReply, RequestRejected
from handlers.telegram import TelegramChannel
from handlers.telegram_flood import FloodGate
from tests.fakes import telegram_updates as tu
from tests.fakes.telegram_api import FakeTelegram
from tests.fakes.telegram_updates import WEBHOOK_SECRET

STAFF = -1009999


@pytest.fixture
def channel(telegram_api):
    return TelegramChannel(
        telegram_api.token,
        webhook_secret=WEBHOOK_SECRET,
        api_base=telegram_api.api_base,
        staff_chat_id=str(STAFF),
        gate=FloodGate(chat_interval=0.01, group_per_minute=1000, global_per_second=1000),
    )


def parse(channel, update, secret=WEBHOOK_SECRET):
    headers = {"x-telegram-bot-api-secret-token": secret} if secret else {}
    return asyncio.run(channel.parse_request(json.dumps(update).encode(), headers))


def reply(chat_id, text="thanks!", kind="direct", to=None):
    return OutboundReply(
        draft_id=1,
        channel="telegram",
        chat_id=str(chat_id),
        chat_kind=kind,
        text=text,
        idempotency_key="k",
        reply_to_platform_message_id=to,
    )


@pytest.mark.parametrize("secret", [None, "wrong-secret", WEBHOOK_SECRET + "x"])
def test_a_webhook_without_the_exact_secret_token_is_refused_with_401(channel, secret):
    with pytest.raises(RequestRejected) as refused:
        parse(channel, tu.text_update(5, 5, "hi"), secret=secret)
    assert refused.value.status == 401


def test_without_a_configured_secret_every_webhook_is_refused(telegram_api):
    open_channel = TelegramChannel(telegram_api.token, api_base=telegram_api.api_base)
    with pytest.raises(RequestRejected) as refused:
        parse(open_channel, tu.text_update(5, 5, "hi"), secret="")
    assert refused.value.status == 401


def test_malformed_bodies_are_a_400(channel):
    headers = {"x-telegram-bot-api-secret-token": WEBHOOK_SECRET}
    for body in (b"{not json", b"[]", b'{"update_id": "x"}', b"\xff\xfe"):
        with pytest.raises(RequestRejected) as refused:
            asyncio.run(channel.parse_request(body, headers))
        assert refused.value.status == 400


def test_a_private_message_becomes_a_direct_event_keyed_by_bot_and_update_id(channel):
    update = tu.text_update(42, 42, "請問營業時間？")
    [event] = parse(channel, update)
    assert event.event_id == f"7000000001:{update['update_id']}"
    assert (event.chat_id, event.chat_kind, event.user_id) == ("42", "direct", "42")
    assert event.text == "請問營業時間？" and event.kind == "message"
    assert event.user_name == "Mei Lin" and event.raw == update


def test_a_group_message_keeps_its_group_and_a_reply_to_the_bot_its_link(channel):
    card = tu.bot_message(-100555, 77, 7000000001, "our earlier answer")
    [event] = parse(channel, tu.text_update(-100555, 9, "and on Sunday?", reply_to=card))
    assert event.chat_kind == "group" and event.chat_title == "Brand fans"
    assert event.reply_to_platform_message_id == "77"


def test_an_edited_message_is_an_edit_of_the_original(channel):
    original = tu.text_update(42, 42, "where is my odrer")
    [event] = parse(channel, tu.edited_update(original, "where is my order"))
    assert event.kind == "edit" and event.text == "where is my order"
    assert event.edit_of_platform_message_id == str(original["message"]["message_id"])
    assert event.platform_message_id is None


def test_stickers_photos_and_voice_are_stored_with_their_kind_and_a_caption_as_text(channel):
    [sticker] = parse(channel, tu.sticker(42, 42))
    [photo] = parse(channel, tu.photo(42, 42))
    [captioned] = parse(channel, tu.photo(42, 42, caption="broken on arrival"))
    [voice] = parse(channel, tu.voice(42, 42))
    assert (sticker.content_type, sticker.text) == ("sticker", None)
    assert (photo.content_type, photo.text) == ("image", None)
    assert (captioned.content_type, captioned.text) == ("image", "broken on arrival")
    assert voice.content_type == "voice" and all(
        e.kind == "message" for e in (sticker, photo, voice)
    )


def test_a_button_press_is_a_postback_carrying_the_button_data(channel):
    card = tu.bot_message(STAFF, 10, 7000000001)
    [event] = parse(channel, tu.callback("draft:a:12", 555, card))
    assert (event.kind, event.action, event.user_id) == ("postback", "draft:a:12", "555")
    assert event.chat_id == str(STAFF) and not event.answerable


def test_staff_chat_talk_is_dropped_but_a_reply_to_the_bot_is_a_staff_reply(channel):
    assert parse(channel, tu.text_update(STAFF, 555, "lunch?")) == []
    prompt = tu.bot_message(STAFF, 31, 7000000001, "reply with the new text")
    [event] = parse(channel, tu.text_update(STAFF, 555, "New text", reply_to=prompt))
    assert (event.kind, event.action, event.text) == ("staff_reply", "reply:31", "New text")
    assert not event.answerable
    human = dict(prompt, **{"from": tu.person(556)})
    assert parse(channel, tu.text_update(STAFF, 555, "me too", reply_to=human)) == []


def test_a_group_reply_is_threaded_to_the_message_it_answers(channel, telegram_api):
    result = asyncio.run(channel.send(reply(-100555, kind="group", to="321")))
    assert result.ok and result.platform_message_id
    [sent] = telegram_api.messages
    assert sent["reply_parameters"] == {"message_id": 321, "allow_sending_without_reply": True}


def test_a_private_reply_is_not_threaded(channel, telegram_api):
    assert asyncio.run(channel.send(reply(42, to="321"))).ok
    assert telegram_api.messages[0]["reply_parameters"] is None


def test_a_429_is_honoured_for_that_chat_only(channel, telegram_api):
    telegram_api.flood("-100555", 2)

    async def scenario():
        flooded = await channel.send(reply(-100555, kind="group"))
        again = await channel.send(reply(-100555, kind="group"))  # still within retry_after
        other = await channel.send(reply(-100777, kind="group"))
        return flooded, again, other

    flooded, again, other = asyncio.run(scenario())
    assert not flooded.ok and flooded.retry_after == 2 and not flooded.permanent
    assert again.deferred and 1 < again.retry_after <= 2  # not sent at all: no second 429
    assert other.ok
    assert telegram_api.violations == [] and len(telegram_api.floods) == 1


def test_an_unknown_token_is_rejected_and_the_error_does_not_name_it(telegram_api, caplog):
    wrong = "7000000001:AAWrongTokenWrongTokenWrongToken_123"
    channel = TelegramChannel(wrong, api_base=telegram_api.api_base)
    redact.install([wrong])
    with caplog.at_level(logging.DEBUG):
        asyncio.run(channel.start())
        result = asyncio.run(channel.send(reply(42)))
    assert not result.ok and result.permanent
    assert "rejected the bot token" in result.error and wrong not in result.error
    assert wrong not in caplog.text and "AAWrongToken" not in caplog.text
    assert [c.status for c in telegram_api.calls] == [401, 401]


def test_a_malformed_token_gets_404_like_telegram(telegram_api):
    channel = TelegramChannel("123:short", api_base=telegram_api.api_base)
    result = asyncio.run(channel.send(reply(42)))
    assert not result.ok and result.permanent and telegram_api.calls[0].status == 404


def test_the_fake_answers_get_me_for_its_token_only(telegram_api):
    import httpx

    ok = httpx.get(f"{telegram_api.api_base}/bot{telegram_api.token}/getMe").json()
    assert ok["ok"] and ok["result"]["username"] == "replyline_test_bot"
    assert isinstance(FakeTelegram().token, str)
