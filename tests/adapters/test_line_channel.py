"""The LINE adapter against the fake Messaging API: signatures on raw bytes, every handled
event type, replies by fresh reply token, pushes with retry keys, quota, profiles, loading."""

import asyncio
from datetime import timedelta

import pytest
from linebot.v3.webhook import SignatureValidator

from db.types import utcnow
from handlers.base import Action, OutboundReply, RequestRejected
from handlers.line import LineChannel, retry_key
from tests.fakes import line_webhooks as lw

ALICE = lw.user_id(1)
GROUP = lw.group_id(7)
ROOM = lw.room_id(8)


@pytest.fixture
def channel(line_api):
    return make_channel(line_api)


def make_channel(line_api, **kw):
    return LineChannel(
        lw.CHANNEL_SECRET,
        line_api.access_token,
        api_base=line_api.api_base,
        content_api_base=line_api.api_base,
        **kw,
    )


def parse(channel, *events, raw=None, headers=None):
    raw = raw if raw is not None else lw.body(*events)

    async def run():
        events = await channel.parse_request(raw, headers or lw.headers(raw))
        if channel._background:  # let background calls (loading animation) finish
            await asyncio.wait(set(channel._background), timeout=10)
        await channel.stop()
        return events

    return asyncio.run(run())


def reply_to(chat, text="thanks!", token=None, age=0.0, key="draft-key-1"):
    return OutboundReply(
        draft_id=1,
        channel="line",
        chat_id=chat,
        text=text,
        idempotency_key=key,
        reply_token=token,
        reply_token_received_at=utcnow() - timedelta(seconds=age),
    )


def send(channel, reply):
    async def run():
        try:
            return await channel.send(reply)
        finally:
            await channel.stop()

    return asyncio.run(run())


# ----- verification ----------------------------------------------------------------------------


def test_the_signature_is_checked_on_the_raw_bytes_like_the_sdk_does(channel):
    raw = lw.body(lw.text_event("你好 👋", ALICE))
    assert channel.valid_signature(raw, lw.signature(raw))
    assert SignatureValidator(lw.CHANNEL_SECRET).validate(raw.decode(), lw.signature(raw))
    tampered = raw.replace("你好".encode(), "您好".encode())
    assert not channel.valid_signature(tampered, lw.signature(raw))


@pytest.mark.parametrize(
    "headers",
    [{}, {"x-line-signature": ""}, {"x-line-signature": "bm90IHRoZSBzaWduYXR1cmU="}],
)
def test_a_missing_or_forged_signature_is_a_400_before_parsing(channel, headers):
    with pytest.raises(RequestRejected) as refused:
        parse(channel, raw=b"not even json", headers=headers)
    assert refused.value.status == 400


def test_a_body_signed_with_another_secret_is_refused(channel):
    raw = lw.body(lw.text_event("hi", ALICE))
    with pytest.raises(RequestRejected):
        parse(channel, raw=raw, headers={"x-line-signature": lw.signature(raw, "other-secret")})


def test_the_webhook_verification_request_has_no_events(channel):
    assert parse(channel, raw=b'{"destination":"Uxx","events":[]}') == []


def test_a_signed_body_that_is_not_a_webhook_is_a_400(channel):
    for raw in (b"[1,2]", b'{"events": 3}', b"{oops"):
        with pytest.raises(RequestRejected):
            parse(channel, raw=raw)


# ----- event types -----------------------------------------------------------------------------


def test_a_text_message_from_a_user(channel, line_api):
    line_api.profiles[ALICE] = "王小明"
    raw_event = lw.text_event("請問營業時間？", ALICE)
    [event] = parse(channel, raw_event)
    assert event.event_id == raw_event["webhookEventId"]
    assert (event.chat_id, event.chat_kind, event.user_id) == (ALICE, "direct", ALICE)
    assert (event.kind, event.content_type, event.text) == ("message", "text", "請問營業時間？")
    assert event.reply_token == raw_event["replyToken"] and event.answerable
    assert event.raw == raw_event


def test_non_text_messages_keep_their_kind(channel):
    events = parse(
        channel,
        lw.sticker_event(ALICE),
        lw.image_event(ALICE),
        lw.location_event(ALICE),
    )
    assert [(e.content_type, e.text, e.kind) for e in events] == [
        ("sticker", None, "message"),
        ("image", None, "message"),
        ("location", None, "message"),
    ]


def test_group_and_room_messages_belong_to_the_group_or_room(channel):
    group, room = parse(
        channel, lw.text_event("hi all", ALICE, group=GROUP), lw.text_event("yo", ALICE, room=ROOM)
    )
    assert (group.chat_id, group.chat_kind, group.user_id) == (GROUP, "group", ALICE)
    assert (room.chat_id, room.chat_kind) == (ROOM, "group")


def test_follow_unfollow_join_leave_member_events_and_postbacks(channel):
    events = parse(
        channel,
        lw.follow_event(ALICE),
        lw.unfollow_event(ALICE),
        lw.join_event(GROUP),
        lw.leave_event(GROUP),
        lw.member_joined_event(GROUP, ALICE),
        lw.member_left_event(GROUP, ALICE),
        lw.postback_event("ack:3", ALICE),
    )
    assert [e.kind for e in events] == [
        "follow",
        "unfollow",
        "join",
        "leave",
        "member_joined",
        "member_left",
        "postback",
    ]
    assert not any(e.answerable for e in events)
    assert events[4].user_id == ALICE and events[4].chat_id == GROUP
    assert events[6].action == "ack:3"


def test_standby_events_are_stored_but_never_answered(channel):
    [event] = parse(channel, lw.text_event("hello?", ALICE, mode="standby"))
    assert event.kind == "message" and not event.answerable


def test_a_redelivered_event_keeps_its_id_and_drops_its_expired_reply_token(channel):
    first = lw.text_event("hi", ALICE)
    again = dict(first, deliveryContext={"isRedelivery": True})
    [event] = parse(channel, again)
    assert event.event_id == first["webhookEventId"] and event.reply_token is None


def test_an_event_type_the_sdk_does_not_know_is_kept_as_is(channel):
    strange = lw.follow_event(ALICE)
    strange["type"] = "somethingNew"
    [event] = parse(channel, strange)
    assert event.kind == "somethingNew" and not event.answerable


# ----- profiles and loading --------------------------------------------------------------------


def test_display_names_are_looked_up_after_parsing_once_and_then_known(line_api):
    line_api.profiles[ALICE] = "王小明"
    line_api.member_profiles[(GROUP, ALICE)] = "Alice in the group"
    channel = make_channel(line_api)

    async def run():
        raw = lw.body(lw.text_event("one", ALICE), lw.text_event("hi all", ALICE, group=GROUP))
        events = await channel.parse_request(raw, lw.headers(raw))
        assert [e.user_name for e in events] == [None, None]  # parsing never waits for names
        assert line_api.requests("/profile") == line_api.requests("/member/") == []
        wanted = channel.unnamed(events)
        assert sorted(wanted) == [("group", GROUP, ALICE), ("user", ALICE, ALICE)]
        direct = await channel.look_up_names([w for w in wanted if w[0] == "user"])
        group = await channel.look_up_names([w for w in wanted if w[0] == "group"])
        assert (direct, group) == ({ALICE: "王小明"}, {ALICE: "Alice in the group"})
        for text in ("two", "three"):
            raw = lw.body(lw.text_event(text, ALICE))
            [event] = await channel.parse_request(raw, lw.headers(raw))
            assert event.user_name == "王小明" and channel.unnamed([event]) == []
        await channel.stop()

    asyncio.run(run())
    assert len(line_api.requests("/v2/bot/profile/")) == 1


def test_an_unknown_profile_is_no_name(line_api):
    channel = make_channel(line_api)
    stranger = lw.user_id(99)

    async def run():
        raw = lw.body(lw.text_event("hi", stranger))
        [event] = await channel.parse_request(raw, lw.headers(raw))
        assert event.user_name is None and event.text == "hi"
        assert await channel.look_up_names(channel.unnamed([event])) == {}
        assert channel.unnamed([event]) == []  # the 404 is remembered too
        await channel.stop()

    asyncio.run(run())


def test_the_loading_animation_shows_for_one_to_one_chats_answered_automatically(line_api):
    channel = make_channel(line_api, show_loading=True, loading_seconds=20)
    parse(
        channel,
        lw.text_event("direct", ALICE),
        lw.text_event("group", ALICE, group=GROUP),
        lw.text_event("standby", ALICE, mode="standby"),
        lw.follow_event(lw.user_id(2)),
    )
    assert line_api.loading == [{"chatId": ALICE, "loadingSeconds": 20}]


def test_no_loading_animation_when_replies_wait_for_a_human(channel, line_api):
    parse(channel, lw.text_event("direct", ALICE))
    assert line_api.loading == []


# ----- sending ---------------------------------------------------------------------------------


def test_a_fresh_reply_token_replies_for_free(channel, line_api):
    token = line_api.issue_reply_token(ALICE)
    result = send(channel, reply_to(ALICE, token=token, age=2))
    assert result.ok and line_api.delivered[0]["via"] == "reply"
    assert line_api.requests("/push") == []


def test_a_stale_reply_token_is_not_used_and_the_reply_is_pushed_with_a_retry_key(line_api):
    channel = make_channel(line_api, reply_token_max_age=30)
    token = line_api.issue_reply_token(ALICE)
    result = send(channel, reply_to(ALICE, token=token, age=31))
    assert result.ok and line_api.requests("/reply") == []
    [pushed] = line_api.delivered
    assert pushed["via"] == "push" and pushed["to"] == ALICE
    assert pushed["retry_key"] == retry_key("draft-key-1")


def test_a_refused_reply_token_falls_back_to_a_push(channel, line_api):
    token = line_api.issue_reply_token(ALICE, age=120)  # LINE says it expired
    result = send(channel, reply_to(ALICE, token=token))
    assert result.ok and [d["via"] for d in line_api.delivered] == ["push"]
    assert [c.status for c in line_api.requests("/message/")] == [400, 200]


def test_a_retried_push_is_delivered_once(channel, line_api):
    first = send(channel, reply_to(GROUP))
    second = send(channel, reply_to(GROUP))  # e.g. the response to the first was lost
    assert first.ok and second.ok
    assert len(line_api.delivered) == 1
    assert [c.status for c in line_api.requests("/push")] == [200, 409]


def test_the_retry_key_is_a_uuid_fixed_by_the_draft():
    assert retry_key("abc") == retry_key("abc") != retry_key("abd")
    assert len(retry_key("abc")) == 36


def test_an_exhausted_push_quota_fails_permanently_with_a_clear_reason(channel, line_api):
    line_api.quota_exhausted = True
    result = send(channel, reply_to(ALICE))
    assert not result.ok and result.permanent
    assert result.error.startswith("LINE monthly push quota exhausted")


def test_a_wrong_access_token_is_a_permanent_failure_without_the_token(line_api):
    channel = LineChannel(lw.CHANNEL_SECRET, "not-the-token", api_base=line_api.api_base)
    result = send(channel, reply_to(ALICE))
    assert not result.ok and result.permanent and "not-the-token" not in result.error
    assert line_api.requests("/push")[0].status == 401


def test_too_long_a_reply_is_refused_before_calling_line(channel, line_api):
    result = send(channel, reply_to(ALICE, text="字" * 5001))
    assert result.permanent and line_api.calls == []


def test_an_alert_push_carries_its_buttons_as_postback_quick_replies(channel, line_api):
    async def run():
        result = await channel.push(ALICE, "Crisis!", [Action("Acknowledge", "ack:5")])
        await channel.stop()
        return result

    assert asyncio.run(run()).ok
    [item] = line_api.delivered[0]["quick_reply"]["items"]
    assert item["action"] == {
        "type": "postback",
        "label": "Acknowledge",
        "data": "ack:5",
        "displayText": "Acknowledge",
    }


def test_content_comes_from_the_content_api(channel, line_api):
    line_api.content["325708"] = b"\xff\xd8jpeg"

    async def run():
        data = await channel.content("325708")
        await channel.stop()
        return data

    assert asyncio.run(run()) == b"\xff\xd8jpeg"
