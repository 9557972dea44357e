"""A customer writes on the web chat, LINE or Telegram, replyline drafts a reply, a person
approves it (in the console or in the Telegram staff chat) and the customer gets it. Under the
compose layout the message arrives at one `serve` and is approved on the other."""

from __future__ import annotations

from tests.e2e.conftest import STAFF_CHAT
from tests.fakes import line_webhooks as lw
from tests.fakes import telegram_updates as tu


def test_a_web_chat_message_is_answered_after_approval_in_the_console(deployment):
    visitor = deployment.chat(deployment.web[0])
    visitor.say("I love your new store, the staff were so kind. Thank you! (web)")

    draft = deployment.top_draft("(web)")
    assert draft.status == "pending" and visitor.replies() == []  # nothing goes out unapproved
    deployment.console("ana", deployment.web[-1]).approve(draft.id)

    deployment.wait_until(lambda: draft.text in visitor.replies(), "the reply in the web chat")
    deployment.wait_until(
        lambda: deployment.draft(draft.id).status == "sent", "the draft to be marked sent"
    )


def test_a_line_message_is_answered_after_approval_by_reply_token_or_push(deployment):
    customer = lw.user_id(2000 + len(deployment.layout))
    deployment.line_says("Thank you for the lovely gift box, my mum adored it! (line)", customer)

    draft = deployment.top_draft("(line)")
    deployment.console("ana", deployment.web[-1]).approve(draft.id)

    def delivered():
        return [
            d for d in deployment.line.delivered if d["to"] == customer and d["text"] == draft.text
        ]

    [reply] = deployment.wait_until(delivered, "the reply on LINE")
    # the free reply token while it is fresh (REPLYLINE_LINE_REPLY_TOKEN_MAX_AGE_SECONDS), else a
    # push that a retry cannot deliver twice
    assert reply["via"] == "reply" or (reply["via"] == "push" and reply["retry_key"])
    deployment.wait_until(
        lambda: deployment.draft(draft.id).status == "sent", "the draft to be marked sent"
    )


def test_a_line_message_whose_reply_token_has_expired_is_answered_by_push_once(deployment):
    customer = lw.user_id(2100 + len(deployment.layout))
    deployment.line_says(
        "The gift cards arrived in time, thank you! (stale)", customer, token_age=90
    )

    draft = deployment.top_draft("(stale)")
    deployment.console("ana", deployment.web[-1]).approve(draft.id)

    def pushed():
        return [d for d in deployment.line.delivered if d["to"] == customer]

    [push] = deployment.wait_until(pushed, "the push on LINE")
    assert (push["via"], push["text"]) == ("push", draft.text) and push["retry_key"]
    refused = [c for c in deployment.line.requests("/message/reply") if c.status == 400]
    assert any(c.body["messages"][0]["text"] == draft.text for c in refused)  # tried first


def test_a_telegram_message_is_approved_with_the_staff_chat_button(deployment):
    customer = 4200 + len(deployment.layout)
    deployment.telegram_sends(
        tu.text_update(customer, customer, "Your cafe made my whole week, thank you! (tg)")
    )
    draft = deployment.top_draft("(tg)")

    def card():
        cards = deployment.telegram.messages
        return next(
            (
                m
                for m in cards
                if m["chat_id"] == str(STAFF_CHAT) and "(tg)" in m["text"] and m["reply_markup"]
            ),
            None,
        )

    found = deployment.wait_until(card, "the draft's card in the staff chat")
    assert draft.text in found["text"]
    assert "核准" in [b["text"] for b in found["reply_markup"]["inline_keyboard"][0]]
    query = deployment.press(found, "draft:a:", deployment.people["mei"], deployment.web[-1])

    deployment.wait_until(
        lambda: draft.text in deployment.telegram.texts_to(customer), "the reply on Telegram"
    )
    answer = deployment.wait_until(
        lambda: next((a for a in deployment.telegram.answers if a["id"] == query), None),
        "the answer to the press",
    )
    assert "Approved" in answer["text"]  # the card is in the brand's language, mei reads English
    assert deployment.draft(draft.id).decided_by_id is not None
