"""The staff-review job on SQLite and PostgreSQL: each pending message gets one card, also
across restarts and competing workers; decisions from buttons are checked and audited; a
card is closed once its draft is decided anywhere."""

import asyncio
from datetime import timedelta

from sqlmodel import Session, select

from bot.pipeline.ingest import store_events
from bot.review import actions
from bot.review import decisions as review
from bot.review.actions import Press
from bot.review.staff_review import StaffReview
from db.engine import session_scope
from db.models import AuditLog, Draft, StaffCard, StaffEditRequest, User
from db.types import utcnow
from handlers.base import InboundEvent, SendResult
from tests.fakes.channel import FakeChannel

STAFF_CHAT = "-1001"


def pending_message(services, text="question: 有外送嗎？", event_id="e1"):
    store_events(
        services.engine,
        [InboundEvent(channel="line", event_id=event_id, chat_id="U1", user_id="U1", text=text)],
    )
    asyncio.run(services.worker.run_until_idle())


def staff(services, channel=None) -> StaffReview:
    return StaffReview(services.engine, channel or FakeChannel("telegram"), STAFF_CHAT)


def add_staff(services, name="mei", telegram_id="555", role="agent", locale="en") -> User:
    """A console user linked to a Telegram account; the answers to their presses are in their
    language (English here, as most tests read them)."""
    with session_scope(services.engine) as session:
        user = User(
            username=name,
            password_hash="x",
            role=role,
            telegram_user_id=telegram_id,
            locale=locale,
        )
        session.add(user)
    return user


def press(services, data, telegram_id="555", text=None) -> str:
    with session_scope(services.engine) as session:
        return actions.dispatch(
            session, Press("telegram", telegram_id, data, text=text), services.actions
        )


def top(services) -> Draft:
    with Session(services.engine) as session:
        return session.exec(select(Draft).where(Draft.rank == 0)).one()


def test_each_pending_message_gets_one_card_with_its_buttons(services):
    pending_message(services)
    job = staff(services)
    assert asyncio.run(job.run_once()) == 1
    assert asyncio.run(job.run_once()) == 0
    [(chat, text, _)] = job.channel.pushed
    data = job.channel.pushed[0].data
    draft = top(services)
    assert chat == STAFF_CHAT and draft.text in text and "有外送嗎" in text
    assert data == [f"draft:a:{draft.id}", f"draft:e:{draft.id}", f"draft:r:{draft.id}"]


def test_a_card_is_in_the_staff_chats_language_with_the_time_in_the_brand_zone(services):
    """The staff chat is a group: it reads the brand's language (REPLYLINE_LANGUAGE, Chinese
    by default); a person's answers follow their own setting."""
    pending_message(services)
    job = staff(services)
    asyncio.run(job.run_once())
    [card] = job.channel.pushed
    assert [a.label for a in card.actions] == ["核准", "修改", "退回"]
    assert "LINE · " in card.text and "私訊" in card.text and "台北時間（UTC+8）" in card.text
    assert f"草稿 #{top(services).id}：" in card.text and "信心" in card.text
    add_staff(services, locale=None)  # follows the brand
    assert press(services, f"draft:a:{top(services).id}") == "✅ 已核准，正在送出。"


def test_a_restarted_worker_does_not_send_cards_again(services):
    pending_message(services)
    asyncio.run(staff(services).run_once())
    again = staff(services)  # a new process: nothing in memory
    asyncio.run(again.run_once())
    assert again.channel.pushed == []


def test_a_card_claimed_by_another_worker_is_left_alone_until_its_lease_expires(services):
    pending_message(services)
    first = staff(services)
    first._create_cards()
    assert first._claim(StaffCard)  # e.g. a worker that died mid-send
    other = staff(services)
    asyncio.run(other.run_once())
    assert other.channel.pushed == []
    with session_scope(services.engine) as session:
        card = session.exec(select(StaffCard)).one()
        card.claimed_until = utcnow() - timedelta(seconds=1)
    asyncio.run(other.run_once())
    assert len(other.channel.pushed) == 1


def test_a_deferred_card_waits_for_the_flood_limit_without_using_an_attempt(services):
    pending_message(services)
    job = staff(
        services,
        FakeChannel(
            "telegram", results={"push": [SendResult(False, retry_after=30, deferred=True)]}
        ),
    )
    assert asyncio.run(job.run_once()) == 0
    with Session(services.engine) as session:
        card = session.exec(select(StaffCard)).one()
    assert card.attempts == 0 and card.sent_at is None and card.next_attempt_at > utcnow()


def test_a_card_that_keeps_failing_gives_up_with_the_reason(services):
    pending_message(services)
    job = staff(
        services,
        FakeChannel(
            "telegram", results={"push": [SendResult(False, error="Forbidden", permanent=True)]}
        ),
    )
    asyncio.run(job.run_once())
    with session_scope(services.engine) as session:
        card = session.exec(select(StaffCard)).one()
        assert card.error == "Forbidden"
        card.next_attempt_at = None
    asyncio.run(job.run_once())
    assert job.channel.pushed == []


def test_approve_from_the_staff_chat_is_audited_like_the_console(services):
    add_staff(services)
    pending_message(services)
    asyncio.run(staff(services).run_once())
    draft = top(services)
    assert press(services, f"draft:a:{draft.id}") == "✅ Approved; sending now."
    with Session(services.engine) as session:
        entry = session.exec(select(AuditLog)).one()
    assert top(services).status == "approved"
    assert (entry.username, entry.via, entry.action) == ("mei", "telegram", "approve")


def test_people_not_linked_to_a_console_user_are_refused_politely(services):
    pending_message(services)
    draft = top(services)
    assert press(services, f"draft:a:{draft.id}", telegram_id="999").startswith("抱歉")
    assert top(services).status == "pending"


def test_a_deactivated_user_is_neither_staff_nor_a_reader_in_their_chat(services):
    """One lookup (bot/auth/linked.py) answers who pressed and whose language a push uses."""
    from bot.delivery.notify import reader_locale

    pending_message(services)
    user = add_staff(services, locale="en")
    with session_scope(services.engine) as session:
        assert reader_locale(session, "telegram:555") == "en"
        row = session.get(User, user.id)
        row.active = False
        session.add(row)
    with Session(services.engine) as session:
        assert reader_locale(session, "telegram:555") is None
        assert reader_locale(session, "line:555") is None
    assert press(services, f"draft:a:{top(services).id}").startswith("抱歉")
    assert top(services).status == "pending"


def test_a_draft_that_needs_a_supervisor_cannot_be_approved_by_an_agent(services):
    add_staff(services)
    pending_message(services)
    draft = top(services)
    with session_scope(services.engine) as session:
        session.get(Draft, draft.id).required_role = "supervisor"
    assert "needs a supervisor" in press(services, f"draft:a:{draft.id}")
    assert "needs a supervisor" in press(services, f"draft:e:{draft.id}")
    assert top(services).status == "pending"


def test_edit_prompts_once_and_only_the_requesters_reply_counts(services):
    add_staff(services)
    add_staff(services, "ken", telegram_id="556")
    pending_message(services)
    job = staff(services)
    asyncio.run(job.run_once())
    draft = top(services)
    assert press(services, f"draft:e:{draft.id}").startswith("✏️")
    asyncio.run(job.run_once())
    asyncio.run(job.run_once())
    [(chat, text, reply_to)] = job.channel.asked
    assert chat == STAFF_CHAT and "mei" in text and reply_to == "telegram-1"  # the card
    with Session(services.engine) as session:
        prompt = session.exec(select(StaffEditRequest)).one().prompt_message_id
    assert "belongs to mei" in press(services, f"reply:{prompt}", "556", text="ken's text")
    assert press(services, "reply:424242", text="chatter") == ""  # not a prompt
    assert press(services, f"reply:{prompt}", text="新的回覆").startswith("✅")
    assert (top(services).status, top(services).text) == ("edited", "新的回覆")
    assert press(services, f"reply:{prompt}", text="again") == ""  # a prompt is used once


def test_a_card_is_closed_when_its_draft_is_decided_in_the_console(services):
    pending_message(services)
    job = staff(services)
    asyncio.run(job.run_once())
    with session_scope(services.engine) as session:
        boss = User(username="boss", password_hash="x", role="admin")
        session.add(boss)
        session.flush()
        review.reject(session, top(services).id, boss, reason="off topic")
    asyncio.run(job.run_once())
    [(chat, message_id, text)] = job.channel.edited
    assert message_id == "telegram-1" and text.endswith("❌ 已由 boss 退回：off topic")
    asyncio.run(job.run_once())
    assert len(job.channel.edited) == 1


def test_a_message_decided_before_its_card_went_out_gets_none(services):
    pending_message(services)
    job = staff(services)
    job._create_cards()
    with session_scope(services.engine) as session:
        boss = User(username="boss", password_hash="x", role="admin")
        session.add(boss)
        session.flush()
        review.approve(session, top(services).id, boss)
    asyncio.run(job.run_once())
    assert job.channel.pushed == []


def test_a_message_whose_drafts_were_all_rejected_gets_a_card_to_write_the_reply(services):
    add_staff(services)
    pending_message(services)
    job = staff(services)
    asyncio.run(job.run_once())
    with Session(services.engine) as session:
        candidates = session.exec(select(Draft).order_by(Draft.rank)).all()
    for draft in candidates:
        assert press(services, f"draft:r:{draft.id}") == "❌ Rejected."
    asyncio.run(job.run_once())  # the old card says so; a new one waits for the reply
    asyncio.run(job.run_once())
    closed = job.channel.edited[0][2]  # in the staff chat's language, the reason too
    assert "❌ 已由 mei 退回：在 Telegram 團隊群組中退回" in closed
    (_, text, _) = job.channel.pushed[-1]
    data = job.channel.pushed[-1].data
    assert len(job.channel.pushed) == 2 and "請按「修改」撰寫回覆" in text
    slot = data[1].rsplit(":", 1)[1]
    assert press(services, f"draft:e:{slot}").startswith("✏️")
    asyncio.run(job.run_once())
    with Session(services.engine) as session:
        prompt = session.exec(select(StaffEditRequest)).one().prompt_message_id
    assert press(services, f"reply:{prompt}", text="目前沒有外送，歡迎來店！").startswith("✅")
    with Session(services.engine) as session:
        written = session.get(Draft, int(slot))
    assert (written.status, written.text) == ("edited", "目前沒有外送，歡迎來店！")
