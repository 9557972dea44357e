"""Telegram end to end: updates posted to a running replyline's webhook, results checked at
the fake Bot API. Group replies are threaded; the staff chat reviews drafts with buttons; a
flood of replies to one chat loses nothing and leaves no 429 unhandled."""

import json
import logging
import time

import pytest

from bot.review import decisions as review
from db.engine import session_scope
from db.models import AuditLog, Draft, Message, StaffCard, User
from tests.adapters.support import add_user, inbound, rows, top_draft
from tests.fakes import telegram_updates as tu
from tests.fakes.live_app import wait_until
from tests.fakes.telegram_api import Limit
from tests.fakes.telegram_updates import WEBHOOK_SECRET

STAFF = -1009999
STAFF_USER = 555
BOT = 7000000001


def post(live, update, secret=WEBHOOK_SECRET):
    headers = {"content-type": "application/json"}
    if secret is not None:
        headers["x-telegram-bot-api-secret-token"] = secret
    return live.post("/webhooks/telegram", json.dumps(update).encode(), headers)


def approve_all(engine, username="mei"):
    with session_scope(engine) as session:
        user = session.exec(User.__table__.select().where(User.username == username)).first()
        decider = session.get(User, user.id)
        for draft in rows(engine, Draft, Draft.rank == 0, Draft.status == "pending"):
            review.approve(session, draft.id, decider, via="console")


def cards(telegram_api):
    return [m for m in telegram_api.messages if m["chat_id"] == str(STAFF)]


def press(live, telegram_api, card, label, user=STAFF_USER):
    [row] = card["reply_markup"]["inline_keyboard"]
    data = next(b["callback_data"] for b in row if b["text"] == label)
    card_message = tu.bot_message(STAFF, card["message_id"], BOT, card["text"])
    update = tu.callback(data, user, card_message)
    response = post(live, update)
    assert response.status_code == 200
    return update["callback_query"]["id"]


def answer_to(telegram_api, query_id):
    return next(a["text"] for a in telegram_api.answers if a["id"] == query_id)


# ----- inbound -----------------------------------------------------------------------------


@pytest.mark.parametrize("secret", [None, "not-the-secret"])
def test_without_the_exact_secret_token_a_webhook_gets_401_and_nothing_is_stored(
    live_factory, secret
):
    live = live_factory()
    response = post(live, tu.text_update(42, 42, "question: hi"), secret=secret)
    assert response.status_code == 401 and inbound(live.services.engine) == []


def test_an_update_delivered_twice_is_stored_once(live_factory):
    live = live_factory()
    update = tu.text_update(42, 42, "question: hi")
    assert post(live, update).json()["stored"] == 1
    assert post(live, update).json()["duplicates"] == 1
    assert len(inbound(live.services.engine)) == 1


def test_an_edit_is_stored_linked_to_the_original_and_drafts_nothing_new(live_factory):
    live = live_factory()
    original = tu.text_update(42, 42, "question: where is my odrer")
    post(live, original)
    post(live, tu.edited_update(original, "complaint: where is my order?!"))
    wait_until(lambda: all(m.state == "processed" for m in inbound(live.services.engine)))
    first, edit = inbound(live.services.engine)
    assert edit.kind == "edit" and edit.edit_of_id == first.id
    assert edit.type == "complaint"  # classified, so reports see what it says now
    assert {d.message_id for d in rows(live.services.engine, Draft)} == {first.id}


def test_stickers_are_stored_as_stickers_and_classified_other(live_factory):
    live = live_factory()
    post(live, tu.sticker(42, 42))
    wait_until(lambda: inbound(live.services.engine)[0].state == "processed")
    [message] = inbound(live.services.engine)
    assert (message.content_type, message.type, message.text) == ("sticker", "other", None)


# ----- outbound ----------------------------------------------------------------------------


def test_a_group_message_is_answered_with_a_reply_threaded_to_it(live_factory, telegram_api):
    live = live_factory()
    update = tu.text_update(-100555, 42, "question: 這週末有營業嗎？")
    post(live, update)
    wait_until(lambda: top_draft(live.services.engine), what="a draft")
    add_user(live.services.engine, "mei")
    approve_all(live.services.engine)
    wait_until(lambda: telegram_api.texts_to(-100555), what="the reply")
    [sent] = telegram_api.messages
    assert sent["reply_parameters"]["message_id"] == update["message"]["message_id"]
    assert sent["text"] == top_draft(live.services.engine).text
    ours = wait_until(
        lambda: rows(live.services.engine, Message, Message.direction == "out"), what="recorded"
    )[0]
    assert ours.platform_message_id == str(sent["message_id"])
    bot_reply = tu.bot_message(-100555, sent["message_id"], BOT, sent["text"])
    post(live, tu.text_update(-100555, 42, "advocate: thanks!", reply_to=bot_reply))
    assert inbound(live.services.engine)[-1].reply_to_message_id == ours.id


def test_a_customer_who_blocked_the_bot_leaves_the_draft_failed_with_the_reason(
    live_factory, telegram_api
):
    live = live_factory()
    telegram_api.blocked_by.add("42")
    post(live, tu.text_update(42, 42, "question: hello?"))
    wait_until(lambda: top_draft(live.services.engine), what="a draft")
    add_user(live.services.engine, "mei")
    approve_all(live.services.engine)
    failed = wait_until(
        lambda: (
            top_draft(live.services.engine).status == "failed" and top_draft(live.services.engine)
        ),
        what="the draft to fail",
    )
    assert failed.error == "Telegram: Forbidden: bot was blocked by the user"


def test_a_flood_of_50_replies_to_one_chat_loses_nothing_and_honours_every_429(
    live_factory, telegram_api
):
    telegram_api.chat_limit = Limit(3, 1.0)  # Telegram says 429 past this, retry_after 1+
    live = live_factory()
    group = -100777
    for i in range(50):
        post(live, tu.text_update(group, 42, f"question: number {i}?"))
    wait_until(
        lambda: len(rows(live.services.engine, Draft, Draft.rank == 0)) == 50, what="50 drafts"
    )
    add_user(live.services.engine, "mei")
    approve_all(live.services.engine)
    expected = [d.text for d in rows(live.services.engine, Draft, Draft.rank == 0)]
    wait_until(lambda: len(telegram_api.texts_to(group)) == 50, timeout=60, what="50 replies")
    assert telegram_api.texts_to(group) == expected  # all of them, once each, in order
    assert len(telegram_api.floods) >= 1  # Telegram did push back...
    assert telegram_api.violations == []  # ...and no retry_after was ignored
    wait_until(
        lambda: {d.status for d in rows(live.services.engine, Draft, Draft.rank == 0)} == {"sent"},
        what="every draft sent",
    )
    out = rows(live.services.engine, Message, Message.direction == "out")
    assert len(out) == 50


def test_a_flooded_chat_does_not_stall_other_chats(live_factory, telegram_api):
    telegram_api.retry_after = 4
    live = live_factory()
    add_user(live.services.engine, "mei")
    post(live, tu.text_update(-100777, 42, "question: first"))
    post(live, tu.text_update(-100777, 42, "question: second"))
    wait_until(lambda: len(rows(live.services.engine, Draft, Draft.rank == 0)) == 2)
    telegram_api.flood(-100777, 4)
    approve_all(live.services.engine)
    wait_until(lambda: telegram_api.floods, what="a 429")
    flooded_at = telegram_api.floods[0][1]
    post(live, tu.text_update(43, 43, "question: meanwhile, me?"))
    wait_until(lambda: len(rows(live.services.engine, Draft, Draft.rank == 0)) == 3)
    approve_all(live.services.engine)
    wait_until(lambda: telegram_api.texts_to(43), timeout=10, what="the other chat's reply")
    other = next(m for m in telegram_api.messages if m["chat_id"] == "43")
    assert other["at"] - flooded_at < 4  # delivered while the first chat was still blocked
    assert telegram_api.texts_to(-100777) == []
    wait_until(lambda: len(telegram_api.texts_to(-100777)) == 2, timeout=15)
    assert telegram_api.violations == []


# ----- review from the staff chat ----------------------------------------------------------


@pytest.fixture
def staffed(live_factory, telegram_api):
    live = live_factory(language="en", telegram={"staff_chat_id": str(STAFF)})  # reads English
    add_user(live.services.engine, "mei", telegram_id=str(STAFF_USER))
    return live


def customer_writes(live, telegram_api, text="question: 請問有外送嗎？"):
    post(live, tu.text_update(42, 42, text))
    return wait_until(lambda: cards(telegram_api), what="a card in the staff chat")[-1]


def test_a_pending_draft_reaches_the_staff_chat_once_with_its_details_and_buttons(
    staffed, telegram_api
):
    card = customer_writes(staffed, telegram_api)
    draft = top_draft(staffed.services.engine)
    assert "請問有外送嗎" in card["text"] and "Question" in card["text"]
    assert "New contact" in card["text"] and "confidence 90%" in card["text"]
    assert draft.text in card["text"]
    [row] = card["reply_markup"]["inline_keyboard"]
    assert [b["text"] for b in row] == ["Approve", "Edit", "Reject"]
    assert all(len(b["callback_data"].encode()) <= 64 for b in row)
    time.sleep(0.3)  # more worker rounds send nothing more
    assert len(cards(telegram_api)) == 1
    assert len(rows(staffed.services.engine, StaffCard)) == 1


def test_approve_in_the_staff_chat_sends_the_reply_and_is_audited(staffed, telegram_api):
    card = customer_writes(staffed, telegram_api)
    query = press(staffed, telegram_api, card, "Approve")
    assert answer_to(telegram_api, query) == "✅ Approved; sending now."
    draft = top_draft(staffed.services.engine)
    wait_until(lambda: telegram_api.texts_to(42) == [draft.text], what="the customer's reply")
    [entry] = rows(staffed.services.engine, AuditLog)
    assert (entry.via, entry.action, entry.username) == ("telegram", "approve", "mei")
    closed = wait_until(lambda: telegram_api.edits, what="the card updated")
    assert closed[0]["message_id"] == card["message_id"] and "Sent" in closed[0]["text"]


def test_someone_not_on_the_team_gets_a_polite_refusal(staffed, telegram_api):
    card = customer_writes(staffed, telegram_api)
    query = press(staffed, telegram_api, card, "Approve", user=666)
    assert answer_to(telegram_api, query).startswith("Sorry, only replyline staff")
    assert top_draft(staffed.services.engine).status == "pending"
    assert rows(staffed.services.engine, AuditLog) == []


def test_every_press_is_answered_even_an_outdated_one(staffed, telegram_api):
    card = customer_writes(staffed, telegram_api)
    first = press(staffed, telegram_api, card, "Approve")
    second = press(staffed, telegram_api, card, "Reject")
    assert answer_to(telegram_api, first).startswith("✅")
    assert "already" in answer_to(telegram_api, second)


def test_reject_in_the_staff_chat(staffed, telegram_api):
    card = customer_writes(staffed, telegram_api)
    query = press(staffed, telegram_api, card, "Reject")
    assert answer_to(telegram_api, query) == "❌ Rejected."
    draft = top_draft(staffed.services.engine)
    assert draft.status == "rejected" and draft.reason
    [entry] = rows(staffed.services.engine, AuditLog)
    assert (entry.via, entry.action) == ("telegram", "reject")
    edits = wait_until(lambda: telegram_api.edits, what="the card closed")
    assert "Rejected by mei" in edits[0]["text"]


def test_edit_asks_for_the_new_text_and_the_staff_reply_is_approved(staffed, telegram_api):
    card = customer_writes(staffed, telegram_api)
    query = press(staffed, telegram_api, card, "Edit")
    assert "Reply" in answer_to(telegram_api, query)
    prompt = wait_until(
        lambda: [m for m in cards(telegram_api) if "new text" in m["text"]], what="the prompt"
    )[0]
    assert prompt["reply_markup"]["force_reply"] is True
    prompt_message = tu.bot_message(STAFF, prompt["message_id"], BOT, prompt["text"])
    someone_else = tu.text_update(STAFF, 777, "my version", reply_to=prompt_message)
    post(staffed, someone_else)
    assert top_draft(staffed.services.engine).status == "pending"
    reply = tu.text_update(STAFF, STAFF_USER, "有的！滿 500 元免運外送 🚚", reply_to=prompt_message)
    assert post(staffed, reply).status_code == 200
    wait_until(
        lambda: telegram_api.texts_to(42) == ["有的！滿 500 元免運外送 🚚"], what="edited reply"
    )
    [entry] = rows(staffed.services.engine, AuditLog)
    assert (entry.via, entry.action, entry.after_text) == (
        "telegram",
        "edit",
        "有的！滿 500 元免運外送 🚚",
    )
    staff = [m for m in inbound(staffed.services.engine) if m.kind == "staff_reply"]
    assert [(m.text, m.state) for m in staff] == [
        ("my version", "ignored"),
        ("有的！滿 500 元免運外送 🚚", "ignored"),
    ]
    refusal = next(m for m in cards(telegram_api) if m["text"].startswith("Sorry"))
    assert refusal["reply_parameters"]["message_id"] == someone_else["message"]["message_id"]
    assert {d.message_id for d in rows(staffed.services.engine, Draft)} == {
        inbound(staffed.services.engine)[0].id
    }


def test_staff_chat_messages_never_enter_the_customer_pipeline(staffed, telegram_api):
    post(staffed, tu.text_update(STAFF, STAFF_USER, "question: who's on lunch duty?"))
    time.sleep(0.3)
    assert inbound(staffed.services.engine) == []
    assert cards(telegram_api) == []


def test_the_bot_token_never_appears_in_logs_errors_or_stored_payloads(
    staffed, telegram_api, caplog
):
    httpx_logger = logging.getLogger("httpx")
    quiet = httpx_logger.level
    httpx_logger.setLevel(logging.INFO)  # as if someone turned request logging back on
    try:
        with caplog.at_level(logging.DEBUG):
            card = customer_writes(staffed, telegram_api)
            press(staffed, telegram_api, card, "Approve")
            wait_until(lambda: telegram_api.texts_to(42))
    finally:
        httpx_logger.setLevel(quiet)
    secret_part = telegram_api.token.split(":")[1]
    assert telegram_api.token not in caplog.text and secret_part not in caplog.text
    assert "/bot[redacted]/sendMessage" in caplog.text  # httpx did log the URL, masked
    stored = json.dumps([m.raw for m in inbound(staffed.services.engine)])
    errors = " ".join(d.error or "" for d in rows(staffed.services.engine, Draft))
    assert secret_part not in stored + errors
