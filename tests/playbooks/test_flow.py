"""The playbooks in the running pipeline, over several messages: handoff, business hours,
tickets, proposals, repeat trolls, automatic sending, claims, corrections and roles. Runs on
SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import update
from sqlmodel import Session, select

from bot.errors import DomainError
from bot.i18n import use_locale
from bot.pipeline.ingest import store_events
from bot.review import decisions as review
from bot.review import proposals
from bot.review.queue import recent_notices
from bot.services import Services
from bot.web.errors import http_status
from bot.web.security import hash_password
from db.engine import session_scope
from db.models import (
    AuditLog,
    Contact,
    Draft,
    Feedback,
    Handoff,
    Message,
    Proposal,
    StaffNotice,
    StageTransition,
    Ticket,
    User,
)
from handlers.base import InboundEvent
from tests.fakes.channel import FakeChannel
from tests.playbooks.support import LabelClassifier

TPE = ZoneInfo("Asia/Taipei")
MONDAY_EVENING = datetime(2026, 11, 23, 20, 0, tzinfo=TPE)
BRAND_WITH_HOURS = "hours:\n  mon-fri: '09:00-18:00'\nholidays:\n  - 2026-11-25\n"


@pytest.fixture
def make_services(settings, tmp_path):
    built = []

    def make(brand: str | None = None, **replies) -> Services:
        if brand is not None:
            folder = tmp_path / f"brand{len(built)}"
            folder.mkdir()
            (folder / "brand.yaml").write_text(brand, encoding="utf-8")
            settings.replies.playbook_dir = folder
        for key, value in replies.items():
            setattr(settings.replies, key, value)
        classifier = LabelClassifier()
        services = Services.build(settings, classifier=lambda: classifier)
        services.labels = classifier.labels
        built.append(services)
        return services

    yield make
    for services in built:
        services.engine.dispose()


@pytest.fixture
def services(make_services):
    return make_services()


def say(services, text, user="u1", at: datetime | None = None, n=[0]):  # noqa: B006
    """The customer writes `text` ("label: words": the classifier double's verdict and what the
    customer actually wrote), and the worker runs until idle."""
    n[0] += 1
    label, _, words = text.partition(": ")
    services.labels[words] = label
    text = words
    event = InboundEvent(channel="web", event_id=f"e{n[0]}-{user}", chat_id=user, user_id=user,
                         user_name="小美", text=text)  # fmt: skip
    stored = store_events(services.engine, [event])[0]
    if at is not None:
        with session_scope(services.engine) as session:
            session.exec(update(Message).where(Message.id == stored.message_id)
                         .values(received_at=at.astimezone(UTC), sent_at=at.astimezone(UTC)))  # fmt: skip
    asyncio.run(services.worker.run_until_idle())
    return stored.message_id


def drafts_of(services, message_id):
    with Session(services.engine) as session:
        return session.exec(select(Draft).where(Draft.message_id == message_id)
                            .order_by(Draft.rank)).all()  # fmt: skip


def sent_texts(services, chat="u1"):
    with Session(services.engine) as session:
        return [m.text for m in session.exec(select(Message).where(Message.direction == "out")
                                             .order_by(Message.id)).all()]  # fmt: skip


def staff(services, name="mei", role="agent") -> User:
    with session_scope(services.engine) as session:
        user = session.exec(select(User).where(User.username == name)).first()
        if user is None:
            user = User(username=name, password_hash=hash_password("x" * 12), role=role)
            session.add(user)
            session.flush()
        return user


# ------------------------------------------------------------------ handoff


def test_a_handoff_holds_everything_automatic_until_staff_release_it(make_services):
    services = make_services(auto_send=True, staff_notify="staff:team")
    chat = FakeChannel("staff")  # where staff notices are pushed
    services.channels["staff"] = chat
    first = say(services, "question: 我要找真人客服")
    sent = sent_texts(services)
    assert len(sent) == 1 and "真人客服" in sent[0]  # told someone will come
    with Session(services.engine) as session:
        assert session.exec(select(Handoff)).one().released_at is None
        assert session.exec(select(StaffNotice)).one().kind == "handoff"
    assert chat.pushed and chat.pushed[0].recipient == "team"
    assert "要求真人客服" in chat.pushed[0].text  # the brand's language: no user reads "team"
    assert "台北時間（UTC+8）" in chat.pushed[0].text
    assert all(d.status == "pending" for d in drafts_of(services, first) if not d.auto)

    answerable = say(services, "question: 請問可以刷卡嗎？")  # the FAQ knows, auto_send is on...
    again = say(services, "question: 真人呢？？")
    assert len(sent_texts(services)) == 1  # ...but nothing more went out on its own
    assert all(d.status == "pending" for d in drafts_of(services, answerable))
    assert all(not d.auto for d in drafts_of(services, again))
    with Session(services.engine) as session:
        assert len(session.exec(select(Handoff)).all()) == 1

    with session_scope(services.engine) as session:
        conversation_id = session.get(Message, first).conversation_id
        review.release_handoff(session, conversation_id, staff(services))
    say(services, "question: 可以用信用卡付款嗎")
    sent = sent_texts(services)
    assert len(sent) == 2 and "信用卡" in sent[1]  # released: the bot answers on its own again


@pytest.mark.parametrize(
    "text", ["agent please", "can I talk to a human?", "客服", "转人工", "我要找專人處理"]
)
def test_requests_for_a_person_in_any_language_start_a_handoff(services, text):
    say(services, f"other: {text}")
    with Session(services.engine) as session:
        assert len(session.exec(select(Handoff)).all()) == 1


def test_mentioning_customer_service_is_not_asking_for_a_person(services):
    say(services, "complaint: 你們客服回覆太慢了，等了三天都沒有消息")
    with Session(services.engine) as session:
        assert session.exec(select(Handoff)).all() == []


# ------------------------------------------------------------------ business hours


def test_one_acknowledgement_per_closed_stretch_not_one_per_message(make_services):
    services = make_services(BRAND_WITH_HOURS)
    for minutes in (0, 30, 200):  # Monday 20:00, 20:30, 23:20
        say(services, "question: 你們有賣禮盒嗎", at=MONDAY_EVENING.replace(minute=0) +
            __import__("datetime").timedelta(minutes=minutes))  # fmt: skip
    acks = sent_texts(services)
    assert len(acks) == 1
    assert "非營業時間" in acks[0] and "11/24（週二）09:00" in acks[0]
    say(services, "question: 還在嗎", at=datetime(2026, 11, 24, 10, 0, tzinfo=TPE))  # open
    assert len(sent_texts(services)) == 1
    # Tuesday evening and the Wednesday holiday are one stretch: one more acknowledgement
    say(services, "question: hello?", at=datetime(2026, 11, 24, 19, 0, tzinfo=TPE))
    say(services, "question: anyone?", at=datetime(2026, 11, 25, 11, 0, tzinfo=TPE))
    sent = sent_texts(services)
    assert len(sent) == 2 and "Thu 26 Nov 09:00" in sent[1]  # in the customer's language
    with Session(services.engine) as session:  # every message still waits for a person
        pending = session.exec(select(Draft).where(Draft.status == "pending")).all()
        assert len({d.message_id for d in pending}) == 6


def test_each_conversation_gets_its_own_acknowledgement(make_services):
    services = make_services(BRAND_WITH_HOURS)
    say(services, "question: hi", user="u1", at=MONDAY_EVENING)
    say(services, "question: hi", user="u2", at=MONDAY_EVENING)
    assert len(sent_texts(services)) == 2


def test_asking_for_a_person_after_hours_says_when_someone_comes(make_services):
    services = make_services(BRAND_WITH_HOURS)
    say(services, "other: 我要找真人", at=MONDAY_EVENING)
    say(services, "other: 人呢", at=MONDAY_EVENING.replace(hour=21))
    sent = sent_texts(services)
    assert len(sent) == 1  # the handoff reply; no after-hours acknowledgement on top
    assert "真人客服" in sent[0] and "11/24（週二）09:00" in sent[0]


def test_acknowledgements_can_be_turned_off(make_services):
    services = make_services(BRAND_WITH_HOURS, acknowledge_automatically=False)
    say(services, "question: hi", at=MONDAY_EVENING)
    assert sent_texts(services) == []


def test_first_response_targets_skip_closed_hours(make_services):
    from bot.review.queue import QueueFilters, build_queue

    services = make_services(BRAND_WITH_HOURS)
    say(services, "complaint: 東西壞了", at=MONDAY_EVENING)
    user = staff(services)
    with Session(services.engine) as session:
        hours = services.pipeline.playbooks.brand.hours
        item = build_queue(session, hours, QueueFilters(), user)[0]
    assert item.target_minutes == 30
    assert item.due_at == datetime(2026, 11, 24, 9, 30, tzinfo=TPE)


# ------------------------------------------------------------------ tickets and proposals


def test_complaints_in_one_conversation_share_a_ticket_until_it_is_closed(services):
    first = say(services, "complaint: 包裹壓壞了")
    second = say(services, "complaint/angry: 到底要等多久")
    with Session(services.engine) as session:
        ticket = session.exec(select(Ticket)).one()
    assert ticket.number == f"CS-{ticket.id:05d}"
    assert all(
        ticket.number in d.text for d in drafts_of(services, first) + drafts_of(services, second)
    )
    with session_scope(services.engine) as session:
        proposals.close_ticket(session, ticket.id, staff(services))
    third = say(services, "complaint: 又壞了")
    with Session(services.engine) as session:
        tickets = session.exec(select(Ticket).order_by(Ticket.id)).all()
    assert len(tickets) == 2 and tickets[1].number in drafts_of(services, third)[0].text


def test_a_suggestion_becomes_a_proposal_and_the_contributor_hears_of_every_change(services):
    message_id = say(services, "advocate: 建議你們出小包裝，一個人吃剛好")
    with Session(services.engine) as session:
        proposal = session.exec(select(Proposal)).one()
    assert proposal.status == "open" and proposal.text.startswith("建議")
    assert all(proposal.number in d.text for d in drafts_of(services, message_id))
    agent = staff(services)
    with session_scope(services.engine) as session:
        text = proposals.notification(session, services.pipeline.playbooks, proposal,
                                      "under_review", "小森生活")  # fmt: skip
        assert proposal.number in text and "評估" in text
        proposals.set_status(session, proposal.id, agent, "under_review", notify_text=text)
    asyncio.run(services.worker.run_until_idle())
    assert sent_texts(services) == [text]  # through the normal outbox
    with session_scope(services.engine) as session:
        proposals.set_status(session, proposal.id, agent, "adopted", note="next season",
                             notify_text="好消息，提案已採納！")  # fmt: skip
    asyncio.run(services.worker.run_until_idle())
    assert sent_texts(services)[-1] == "好消息，提案已採納！"
    with session_scope(services.engine) as session, pytest.raises(DomainError):
        proposals.set_status(session, proposal.id, agent, "declined")  # adopted is final
    with Session(services.engine) as session:
        actions = [a.action for a in session.exec(select(AuditLog).order_by(AuditLog.id)).all()]
    assert actions.count("proposal_status") == 2 and actions.count("notify_contributor") == 2


# ------------------------------------------------------------------ trolls and auto-send


def test_repeated_trolling_from_one_contact_is_flagged_and_never_answered_alone(make_services):
    services = make_services(auto_send=True)
    ids = [say(services, f"troll: 垃圾公司 {i}") for i in range(4)]
    flags = [drafts_of(services, i)[0].policy.get("flags", []) for i in ids]
    assert flags[:2] == [[], []] and all("repeat_troll" in f for f in flags[2:])
    with Session(services.engine) as session:
        notices = session.exec(select(StaffNotice).where(StaffNotice.kind == "repeat_troll")).all()
    assert len(notices) == 1 and "3 times" in notices[0].text
    assert sent_texts(services) == []


def test_nothing_is_sent_automatically_unless_enabled(services):
    # an entry that stands well clear of the next (請問可以刷卡嗎 is a close call: a person)
    message_id = say(services, "question: 退款几天能到账？")
    drafts = drafts_of(services, message_id)
    assert drafts[0].playbook == "question/answer" and drafts[0].policy["faq"]["confident"]
    assert all(d.status == "pending" for d in drafts) and sent_texts(services) == []


def test_when_enabled_only_allowed_policies_above_the_threshold_are_sent(make_services):
    services = make_services(auto_send=True)
    say(services, "question: 退款几天能到账？")
    assert len(sent_texts(services)) == 1 and "工作日" in sent_texts(services)[0]
    say(services, "question/low: 退款几天能到账", user="u2")  # the classifier is unsure
    say(services, "question: 你們的老闆是誰", user="u3")  # the FAQ does not know
    say(services, "complaint: 東西壞了", user="u4")  # complaints always need a person
    assert len(sent_texts(services)) == 1


# ------------------------------------------------------------------ people deciding


def test_two_people_never_answer_the_same_message(services):
    message_id = say(services, "question: 你們的老闆是誰")
    mei, bo = staff(services, "mei"), staff(services, "bo")
    boss = staff(services, "boss", role="supervisor")
    first, second = drafts_of(services, message_id)[:2]
    with session_scope(services.engine) as session:
        review.assign(session, message_id, mei, mei)
    with session_scope(services.engine) as session, pytest.raises(DomainError) as refused:
        review.approve(session, second.id, bo)
    assert http_status(refused.value) == 409 and "mei is answering" in str(refused.value)
    with session_scope(services.engine) as session, pytest.raises(DomainError):
        review.assign(session, message_id, bo, bo)  # an agent cannot take it from mei
    with session_scope(services.engine) as session:
        review.assign(session, message_id, boss, bo)  # a supervisor can hand it over
    with session_scope(services.engine) as session:
        review.approve(session, second.id, bo, text="老闆是小森")
    with session_scope(services.engine) as session, pytest.raises(DomainError):
        review.approve(session, first.id, mei)
    assert [d.status for d in drafts_of(services, message_id)[:2]] == ["superseded", "edited"]


def test_racing_approvals_of_one_message_let_exactly_one_through(services):
    message_id = say(services, "question: 你們的老闆是誰")
    people = [staff(services, f"agent{i}") for i in range(2)]
    drafts = drafts_of(services, message_id)
    outcomes, barrier = [], threading.Barrier(2)

    def decide(user, draft):
        barrier.wait()
        try:
            with session_scope(services.engine) as session:
                review.approve(session, draft.id, user)
            outcomes.append("ok")
        except Exception as error:  # DomainError, or the database refusing the loser
            outcomes.append(type(error).__name__)

    threads = [threading.Thread(target=decide, args=(p, d)) for p, d in zip(people, drafts)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert outcomes.count("ok") == 1
    statuses = sorted(d.status for d in drafts_of(services, message_id))
    assert statuses.count("approved") == 1


def test_a_correction_is_training_feedback_and_redoes_the_drafts(services):
    message_id = say(services, "question: 你們的東西根本是壞的")
    mei = staff(services)
    with session_scope(services.engine) as session:
        review.correct(session, message_id, mei, "type", "complaint")
    # the correction only marks the message: the worker drafts again, outside the request
    assert not [d for d in drafts_of(services, message_id) if d.status == "pending"]
    asyncio.run(services.worker.run_until_idle())
    with Session(services.engine) as session:
        feedback = session.exec(select(Feedback)).one()
        message = session.get(Message, message_id)
    assert (feedback.field, feedback.value, feedback.user_id) == ("type", "complaint", mei.id)
    assert feedback.text == message.text and message.type == "complaint"
    drafts = drafts_of(services, message_id)
    assert {d.status for d in drafts if d.playbook.startswith("question")} == {"superseded"}
    fresh = [d for d in drafts if d.status == "pending"]
    assert fresh and all(d.playbook.startswith("complaint/") and "CS-" in d.text for d in fresh)

    with session_scope(services.engine) as session:
        review.correct(session, message_id, mei, "stage", "collaboration")
    asyncio.run(services.worker.run_until_idle())
    with Session(services.engine) as session:
        contact = session.exec(select(Contact)).one()
        move = session.exec(select(StageTransition)).all()[-1]
    assert contact.stage == "collaboration" and move.reason == "corrected by mei"
    assert any(d.playbook == "complaint/unhappy@collaboration" for d in drafts_of(services, message_id)
               if d.status == "pending")  # fmt: skip


def test_severe_complaints_and_crisis_messages_need_a_supervisor(services):
    severe = say(services, "complaint/angry: 再不退款我就找律師和記者")
    mei, boss = staff(services), staff(services, "boss", role="supervisor")
    # (its words also open a crisis incident, whose holding statements replace the drafts)
    draft = next(d for d in drafts_of(services, severe) if d.status == "pending")
    assert draft.required_role == "supervisor"
    with Session(services.engine) as session:
        notice = session.exec(select(StaffNotice).where(StaffNotice.kind == "escalation")).one()
    assert "needs a supervisor now" in notice.text  # stored in English, shown in each language
    with Session(services.engine) as session, use_locale("zh_Hant_TW"):
        [shown] = [n for n in recent_notices(session) if n.kind == "escalation"]
    assert "需要主管立即處理" in shown.text and shown.label == "需升級處理"
    with session_scope(services.engine) as session, pytest.raises(DomainError) as refused:
        review.approve(session, draft.id, mei)
    assert http_status(refused.value) == 403
    with session_scope(services.engine) as session:
        review.approve(session, draft.id, boss)

    ordinary = say(services, "question: 你們的老闆是誰", user="u9")
    with session_scope(services.engine) as session:  # crisis detection marks it later
        session.exec(update(Message).where(Message.id == ordinary).values(incident_id=7))
    with session_scope(services.engine) as session, pytest.raises(DomainError):
        review.approve(session, drafts_of(services, ordinary)[0].id, mei)
