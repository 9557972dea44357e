"""LINE end to end: signed webhooks into a running replyline, replies checked at the fake
LINE API. A message is drafted, approved in the console and answered by reply token; a late
approval is pushed with a retry key; redeliveries and forgeries store nothing new."""

import threading
import time

from db.models import Contact, Draft
from handlers.line import retry_key
from tests.adapters.support import (
    add_user,
    approve_in_console,
    console,
    inbound,
    rows,
    top_draft,
)
from tests.fakes import line_webhooks as lw
from tests.fakes.live_app import wait_until

ALICE = lw.user_id(1)


def post(live, *events, raw=None, headers=None):
    raw = raw if raw is not None else lw.body(*events)
    return live.post("/webhooks/line", raw, headers or lw.headers(raw))


def drafted(live, count=1):
    return wait_until(
        lambda: (
            len(rows(live.services.engine, Draft, Draft.rank == 0)) >= count
            and top_draft(live.services.engine)
        ),
        timeout=60,
        what="a draft",
    )


def test_a_signed_message_is_drafted_approved_and_answered_by_reply_token(live_factory, line_api):
    live = live_factory()
    line_api.profiles[ALICE] = "王小明"
    response = post(live, lw.text_event("question: 請問營業時間？", ALICE, api=line_api))
    assert response.status_code == 200 and response.json()["stored"] == 1
    draft = drafted(live)
    [message] = inbound(live.services.engine)
    assert message.type == "question" and message.reply_token
    add_user(live.services.engine, "mei")
    approve_in_console(console(live, "mei"), draft.id, "我們每天 9:00–18:00 營業！")
    wait_until(lambda: line_api.delivered, what="the reply at LINE")
    assert line_api.delivered == [
        {
            "via": "reply",
            "to": ALICE,
            "text": "我們每天 9:00–18:00 營業！",
            "retry_key": None,
            "quick_reply": None,
            "id": line_api.delivered[0]["id"],
        }
    ]
    assert line_api.requests("/push") == []
    wait_until(lambda: top_draft(live.services.engine).status == "sent", what="draft sent")


def test_a_late_approval_is_pushed_once_with_the_drafts_retry_key(live_factory, line_api):
    live = live_factory(line={"reply_token_max_age_seconds": 0.5})
    post(live, lw.text_event("question: 有沒有素食？", ALICE, api=line_api))
    draft = drafted(live)
    time.sleep(0.6)  # the reply token is no longer fresh enough to trust
    add_user(live.services.engine, "mei")
    approve_in_console(console(live, "mei"), draft.id)
    wait_until(lambda: top_draft(live.services.engine).status == "sent", what="draft sent")
    [pushed] = line_api.delivered
    assert pushed["via"] == "push" and pushed["to"] == ALICE
    assert pushed["retry_key"] == retry_key(top_draft(live.services.engine).idempotency_key)
    assert line_api.requests("/reply") == []


def test_a_redelivered_event_is_stored_once(live_factory, line_api):
    live = live_factory()
    event = lw.text_event("question: hello", ALICE, api=line_api)
    first = post(live, event)
    redelivered = dict(event, deliveryContext={"isRedelivery": True})
    again = post(live, redelivered)
    assert first.json()["stored"] == 1
    assert again.status_code == 200 and again.json() | {"message_ids": None} == {
        "stored": 0,
        "duplicates": 1,
        "message_ids": None,
    }
    assert len(inbound(live.services.engine)) == 1


def test_a_forged_signature_gets_400_and_nothing_is_stored(live_factory):
    live = live_factory()
    raw = lw.body(lw.text_event("question: free stuff?", ALICE))
    forged = post(live, raw=raw, headers={"x-line-signature": lw.signature(raw, "guessed")})
    unsigned = post(live, raw=raw, headers={"content-type": "application/json"})
    assert forged.status_code == 400 and unsigned.status_code == 400
    assert inbound(live.services.engine) == []


def test_the_webhook_verification_request_answers_200(live_factory):
    live = live_factory()
    raw = b'{"destination":"Uxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx","events":[]}'
    response = post(live, raw=raw)
    assert response.status_code == 200 and response.json()["stored"] == 0


def test_an_exhausted_push_quota_fails_the_draft_and_says_so_in_the_console(live_factory, line_api):
    live = live_factory(line={"reply_token_max_age_seconds": 0.2})
    post(live, lw.text_event("question: 還有貨嗎？", ALICE, api=line_api))
    draft = drafted(live)
    time.sleep(0.3)
    line_api.quota_exhausted = True
    add_user(live.services.engine, "mei")
    client = console(live, "mei")
    approve_in_console(client, draft.id)
    failed = wait_until(
        lambda: (
            top_draft(live.services.engine).status == "failed" and top_draft(live.services.engine)
        ),
        what="the draft to fail",
    )
    assert failed.error.startswith("LINE monthly push quota exhausted")
    assert failed.send_attempts == 1 and len(line_api.requests("/push")) == 1
    page = client.get("/console").text
    assert "Could not be sent" in page and "LINE monthly push quota exhausted" in page
    assert not failed.maybe_sent and "may have reached the customer" not in page


def test_standby_messages_are_stored_but_never_answered(live_factory, line_api):
    live = live_factory()
    post(live, lw.text_event("question: anyone?", ALICE, api=line_api, mode="standby"))
    time.sleep(0.3)
    [message] = inbound(live.services.engine)
    assert message.state == "ignored" and rows(live.services.engine, Draft) == []
    assert line_api.delivered == []


def test_group_events_and_members_are_stored_with_their_kinds(live_factory, line_api):
    live = live_factory()
    group = lw.group_id(3)
    post(
        live,
        lw.join_event(group, api=line_api),
        lw.member_joined_event(group, ALICE, api=line_api),
        lw.sticker_event(ALICE, group=group, api=line_api),
    )
    kinds = [(m.kind, m.content_type) for m in inbound(live.services.engine)]
    assert kinds == [("join", "event"), ("member_joined", "event"), ("message", "sticker")]


def test_a_postback_is_dispatched_once_and_answered_with_its_reply_token(live_factory, line_api):
    pressed = []

    def on_ping(session, user, press, payload):
        pressed.append((press.channel, press.platform_user_id, payload))
        return f"pong {payload}"

    live = live_factory()
    live.services.actions["ping"] = on_ping  # a button of this test's own
    event = lw.postback_event("ping:7", ALICE, api=line_api)
    assert post(live, event).status_code == 200
    assert post(live, dict(event, deliveryContext={"isRedelivery": True})).status_code == 200
    assert pressed == [("line", ALICE, "7")]
    assert [(d["via"], d["text"]) for d in line_api.delivered] == [("reply", "pong 7")]
    [stored] = inbound(live.services.engine)
    assert (stored.kind, stored.state) == ("postback", "ignored")


def test_the_webhook_is_acknowledged_before_the_profile_lookup_and_the_first_draft_has_the_name(
    live_factory, line_api
):
    gate = line_api.profile_gate = threading.Event()  # the profile API hangs until set
    line_api.profiles[ALICE] = "王小明"
    live = live_factory()
    try:
        response = post(live, lw.text_event("question: 請問營業時間？", ALICE, api=line_api))
        assert response.status_code == 200 and response.json()["stored"] == 1
        [contact] = rows(live.services.engine, Contact)
        assert contact.display_name is None  # stored and acknowledged: the lookup still waits
        wait_until(lambda: line_api.requests("/v2/bot/profile/"), what="the profile lookup")
    finally:
        gate.set()

    def named():
        return rows(live.services.engine, Contact)[0].display_name == "王小明"

    wait_until(named, what="the display name on the contact")
    assert "王小明" in drafted(live).text  # the first draft waited for the name
