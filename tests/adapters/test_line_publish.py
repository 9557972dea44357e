"""Publishing calendar posts on LINE against the fake Messaging API: broadcasts, narrowcasts to
an audience, images (https only), retry keys, the monthly quota; and the fake's own checks."""

import asyncio

import httpx
import pytest

from handlers.line import QUOTA_EXHAUSTED, LineChannel, retry_key
from tests.fakes import line_webhooks as lw

PHOTO = "https://cdn.example.org/market.jpg"


@pytest.fixture
def channel(line_api):
    return LineChannel(lw.CHANNEL_SECRET, line_api.access_token, api_base=line_api.api_base)


def publish(channel, *args, **kw):
    async def run():
        try:
            return await channel.publish(*args, **kw)
        finally:
            await channel.stop()

    return asyncio.run(run())


def test_a_broadcast_reaches_every_follower_and_returns_lines_request_id(channel, line_api):
    result = publish(channel, "broadcast", "週末市集見！", key="post:1@t")
    [call] = line_api.requests("/broadcast")
    assert call.body["messages"] == [{"type": "text", "text": "週末市集見！"}]
    assert call.headers["X-Line-Retry-Key"] == retry_key("publish:broadcast:post:1@t")
    [sent] = line_api.delivered
    assert (sent["via"], sent["to"], sent["text"]) == ("broadcast", "broadcast", "週末市集見！")
    assert result.ok and result.platform_message_id == call.request_id


def test_an_audience_gets_a_narrowcast_with_the_image_first(channel, line_api):
    result = publish(channel, "audience:4242", "會員限定", PHOTO, key="post:2@t")
    [call] = line_api.requests("/narrowcast")
    assert call.status == 202 and call.body["recipient"] == {
        "type": "audience",
        "audienceGroupId": 4242,
    }
    assert [m["type"] for m in call.body["messages"]] == ["image", "text"]
    assert call.body["messages"][0] == {
        "type": "image",
        "originalContentUrl": PHOTO,
        "previewImageUrl": PHOTO,
    }
    assert [(d["to"], d.get("image"), d["text"]) for d in line_api.delivered] == [
        ("audience:4242", PHOTO, None),
        ("audience:4242", None, "會員限定"),
    ]
    assert result.ok and result.platform_message_id == call.request_id


def test_a_retried_publish_is_delivered_once_and_names_the_first_request(channel, line_api):
    first = publish(channel, "broadcast", "週末市集見！", key="post:1@t")
    again = publish(channel, "broadcast", "週末市集見！", key="post:1@t")
    assert [c.status for c in line_api.requests("/broadcast")] == [200, 409]
    assert len(line_api.delivered) == 1
    assert again.ok and again.platform_message_id == first.platform_message_id


def test_the_next_occurrence_of_the_same_post_is_not_mistaken_for_a_retry(channel, line_api):
    publish(channel, "broadcast", "每日早安", key="post:1@2026-11-02T01:00:00+00:00")
    publish(channel, "broadcast", "每日早安", key="post:1@2026-11-03T01:00:00+00:00")
    assert line_api.texts("broadcast") == ["每日早安", "每日早安"]


def test_an_exhausted_quota_fails_the_post_permanently_with_the_reason(channel, line_api):
    line_api.quota_exhausted = True
    result = publish(channel, "audience:4242", "會員限定")
    assert not result.ok and result.permanent and result.error == QUOTA_EXHAUSTED
    assert "broadcast" in result.error and line_api.delivered == []


@pytest.mark.parametrize(
    ("target", "text", "image", "why"),
    [
        ("broadcast", "hi", "http://cdn.example.org/a.jpg", "https://"),
        ("audience:abc", "hi", None, "broadcast or audience:<id>"),
        ("broadcast", "字" * 5001, None, "5000"),
    ],
)
def test_what_line_would_refuse_fails_before_calling_it(
    channel, line_api, target, text, image, why
):
    result = publish(channel, target, text, image)
    assert not result.ok and result.permanent and why in result.error
    assert line_api.calls == []


# ----- the fake checks messages like LINE ------------------------------------------------------


@pytest.mark.parametrize(
    "messages",
    [
        [{"type": "text", "text": "hi"}] * 6,
        [{"type": "text", "text": "字" * 5001}],
        [{"type": "image", "originalContentUrl": "http://x.jpg", "previewImageUrl": PHOTO}],
        [],
    ],
)
def test_the_fake_refuses_messages_line_refuses(line_api, messages):
    response = httpx.post(
        f"{line_api.api_base}/v2/bot/message/broadcast",
        json={"messages": messages},
        headers={"Authorization": f"Bearer {line_api.access_token}"},
    )
    assert response.status_code == 400 and line_api.delivered == []


def test_the_fake_needs_the_bearer_token_for_a_narrowcast(line_api):
    response = httpx.post(
        f"{line_api.api_base}/v2/bot/message/narrowcast",
        json={"messages": [{"type": "text", "text": "hi"}]},
        headers={"Authorization": "Bearer nope"},
    )
    assert response.status_code == 401 and line_api.delivered == []
