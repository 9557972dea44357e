"""LINE events that change what replyline may keep or do (findings 2, 3 and 7 of issue 16):
`unsend` erases the message everywhere and withdraws its replies, `unfollow` stops every push
until `follow`, standby events and buttons replyline did not make are never answered."""

import time
from datetime import timedelta

from sqlalchemy import update
from sqlmodel import Session

from db.engine import session_scope
from db.models import AuditLog, Contact, Draft, Feedback, Message
from db.types import utcnow
from tests.adapters.support import add_user, console, inbound, rows, top_draft
from tests.adapters.test_line_end_to_end import drafted, post
from tests.fakes import line_webhooks as lw
from tests.fakes.live_app import wait_until

ALICE = lw.user_id(1)
PHONE = "0912-345-678"


def unsend_event(user: str, message_id: str) -> dict:
    return lw._event("unsend", user, reply=False, unsend={"messageId": message_id})


def approved_but_waiting(engine, draft_id: int) -> None:
    """An approved draft whose send waits for its retry time (a first attempt failed)."""
    with session_scope(engine) as session:
        session.exec(
            update(Draft)
            .where(Draft.id == draft_id)
            .values(status="approved", approved_at=utcnow(),
                    next_attempt_at=utcnow() + timedelta(seconds=2))
        )  # fmt: skip


def test_an_unsent_message_is_erased_everywhere_and_its_approved_reply_never_goes_out(
    live_factory, line_api
):
    live = live_factory()
    engine = live.services.engine
    event = lw.text_event(f"complaint: call me at {PHONE}", ALICE, api=line_api)
    assert post(live, event).status_code == 200
    draft = drafted(live)
    [message] = inbound(engine)
    with session_scope(engine) as session:
        session.add(Feedback(message_id=message.id, text=message.text, field="type", value="x"))
    approved_but_waiting(engine, draft.id)
    add_user(live.services.engine, "mei")
    assert PHONE in console(live, "mei").get("/console").text  # the queue quotes it
    unsend = unsend_event(ALICE, event["message"]["id"])
    assert post(live, unsend).status_code == 200
    assert post(live, unsend).status_code == 200  # a redelivery changes nothing more
    with Session(engine) as session:
        erased = session.get(Message, message.id)
        drafts = rows(engine, Draft, Draft.message_id == message.id)
        assert erased.text is None and erased.raw is None
        assert {d.status for d in drafts} == {"withdrawn"}
        assert all(PHONE not in d.text and PHONE not in d.original_text for d in drafts)
        assert rows(engine, Feedback) == []
        unsent = rows(engine, AuditLog, AuditLog.action == "message_unsend")
        assert [a.message_id for a in unsent] == [message.id]
    page = console(live, "mei").get("/console").text
    assert PHONE not in page
    time.sleep(2.5)  # past the retry time the approval had set
    live.services.worker.notify()
    time.sleep(1.0)
    assert line_api.delivered == [] and line_api.requests("/push") == []


def test_an_unfollowed_contact_gets_nothing_until_it_follows_again(live_factory, line_api):
    live = live_factory()
    engine = live.services.engine
    post(live, lw.text_event("question: hours?", ALICE, api=line_api))
    draft = drafted(live)
    post(live, lw.unfollow_event(ALICE))
    with Session(engine) as session:
        [contact] = rows(engine, Contact)
        assert contact.blocked
    with session_scope(engine) as session:
        session.exec(
            update(Draft)
            .where(Draft.id == draft.id)
            .values(status="approved", approved_at=utcnow())
        )
    live.services.worker.notify()
    failed = wait_until(lambda: top_draft(engine).status == "failed" and top_draft(engine))
    assert "unfollowed" in failed.error
    assert line_api.delivered == [] and line_api.requests("/push") == []
    post(live, lw.follow_event(ALICE, api=line_api))
    assert not rows(engine, Contact)[0].blocked


def test_standby_events_and_buttons_replyline_did_not_make_are_stored_and_left_alone(
    live_factory, line_api
):
    live = live_factory(
        replies={"auto_send": True}
    )  # the loading animation is shown when auto-sending
    standby = [
        lw.text_event("question: anyone there?", ALICE, api=line_api, mode="standby"),
        lw.postback_event("draft:a:1", ALICE, api=line_api, mode="standby"),
    ]
    rich_menu = lw.postback_event("action=coupon&item=7", ALICE, api=line_api)
    for event in [*standby, rich_menu]:
        assert post(live, event).status_code == 200
    stored = inbound(live.services.engine)
    assert [m.kind for m in stored] == ["message", "postback", "postback"]
    assert all(m.state == "ignored" for m in stored)
    live.services.worker.notify()
    time.sleep(1.0)  # whatever the worker would do, it has done
    for path in ("/reply", "/push", "/loading"):
        assert line_api.requests(path) == [], path
    assert rows(live.services.engine, Draft) == []


def edited_event(text: str, user: str, message_id: str, api) -> dict:
    event = lw.text_event(text, user, api=api)
    event["type"] = "messageEdited"
    event["message"]["id"] = message_id
    return event


def test_an_edited_message_shows_its_new_text_and_its_replies_are_redone(live_factory, line_api):
    live = live_factory()
    engine = live.services.engine
    first = lw.text_event("question: do you deliver to Hsinchu?", ALICE, api=line_api)
    post(live, first)
    old = drafted(live)
    approved_but_waiting(engine, old.id)
    edit = edited_event("question: do you deliver to Tainan?", ALICE, first["message"]["id"],
                        line_api)  # fmt: skip
    assert post(live, edit).status_code == 200
    redone = wait_until(
        lambda: rows(engine, Draft, Draft.status == "pending"), what="drafts for the new words"
    )
    original, edited = inbound(engine)
    assert original.text == edited.text == "question: do you deliver to Tainan?"
    assert {d.message_id for d in redone} == {original.id}  # the queue item, answered afresh
    assert rows(engine, Draft, Draft.id == old.id)[0].status == "withdrawn"
    add_user(engine, "mei")
    page = console(live, "mei").get("/console").text
    assert "Tainan" in page and "Hsinchu" not in page
    time.sleep(2.5)  # past the retry time of the withdrawn approval
    live.services.worker.notify()
    time.sleep(1.0)
    assert line_api.delivered == []
