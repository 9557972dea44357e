"""The in-memory FakeChannel other tests stand on: it keeps what a platform accepted, every
attempt with its answer, and plays scripted answers in order."""

import asyncio

import pytest

from handlers.base import Action, OutboundReply, SendResult
from tests.fakes.channel import FakeChannel


def reply(draft_id: int, chat: str = "c1") -> OutboundReply:
    return OutboundReply(draft_id, "web", chat, f"reply {draft_id}", f"k{draft_id}")


def test_it_accepts_by_default_and_numbers_what_it_accepted():
    channel = FakeChannel("telegram")
    sent = asyncio.run(channel.send(reply(1)))
    pushed = asyncio.run(channel.push("42", "alert", [Action("Ack", "ack:1")]))
    assert (sent.platform_message_id, pushed.platform_message_id) == ("telegram-1", "telegram-2")
    assert channel.texts == ["reply 1"] and channel.pushed[0].data == ["ack:1"]


def test_scripted_answers_come_first_then_always_and_failures_are_not_kept_as_sent():
    boom = RuntimeError("connection reset")
    channel = FakeChannel(
        results={"send": [SendResult(False, error="503"), boom]},
        always={"send": SendResult(False, error="403", permanent=True)},
    )
    assert asyncio.run(channel.send(reply(1))).error == "503"
    with pytest.raises(RuntimeError, match="connection reset"):
        asyncio.run(channel.send(reply(1)))
    assert asyncio.run(channel.send(reply(1))).permanent
    assert channel.sent == [] and [c.result.error for c in channel.calls] == ["503", "403"]


def test_a_channel_that_cannot_publish_answers_as_the_base_channel_does():
    result = asyncio.run(FakeChannel("line", can_publish=False).publish("broadcast", "hi"))
    assert not result.ok and result.permanent and result.error == "line cannot publish posts"


def test_sends_into_one_chat_at_the_same_time_are_counted():
    channel = FakeChannel(latency=0.01)

    async def both():
        await asyncio.gather(channel.send(reply(1)), channel.send(reply(2)))

    asyncio.run(both())
    assert channel.overlaps == 1 and len(channel.sent) == 2
