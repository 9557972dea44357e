"""Alerts out: both adapters push to a supervisor's chat with buttons that come back as
presses (bot/delivery/notify.py's "<channel>:<id>" recipients); failures say why."""

import asyncio

from bot.delivery.notify import push
from handlers.base import Action
from handlers.line import LineChannel
from handlers.telegram import TelegramChannel
from tests.fakes import line_webhooks as lw

SUPERVISOR_LINE = lw.user_id(9)


def channels(telegram_api, line_api):
    return {
        "telegram": TelegramChannel(telegram_api.token, api_base=telegram_api.api_base),
        "line": LineChannel(lw.CHANNEL_SECRET, line_api.access_token, api_base=line_api.api_base),
    }


def alert(all_channels, recipient):
    async def run():
        try:
            return await push(
                all_channels,
                recipient,
                "⚠️ 3 complaints in 10 minutes",
                [Action("Acknowledge", "ack:17")],
            )
        finally:
            for channel in all_channels.values():
                await channel.stop()

    return asyncio.run(run())


def test_a_telegram_supervisor_gets_the_alert_with_an_inline_button(telegram_api, line_api):
    assert alert(channels(telegram_api, line_api), "telegram:123456").ok
    [sent] = telegram_api.messages
    assert sent["chat_id"] == "123456" and sent["text"].startswith("⚠️")
    assert sent["reply_markup"] == {
        "inline_keyboard": [[{"text": "Acknowledge", "callback_data": "ack:17"}]]
    }


def test_a_line_supervisor_gets_the_alert_with_a_postback_button(telegram_api, line_api):
    assert alert(channels(telegram_api, line_api), f"line:{SUPERVISOR_LINE}").ok
    [sent] = line_api.delivered
    assert sent["via"] == "push" and sent["to"] == SUPERVISOR_LINE
    assert sent["quick_reply"]["items"][0]["action"]["data"] == "ack:17"
    assert sent["retry_key"]  # a retried alert is not shown twice


def test_an_alert_to_someone_who_blocked_the_bot_fails_with_the_reason(telegram_api, line_api):
    telegram_api.blocked_by.add("123456")
    result = alert(channels(telegram_api, line_api), "telegram:123456")
    assert not result.ok and result.permanent and "blocked by the user" in result.error
