"""Learn from the team: a reply people approved or edited for a similar earlier message (same
language, same type) comes back as a candidate, ranked with the playbook's, naming the reply
it came from; replies that carry another customer's case numbers are never reused."""

# ruff: noqa: F811 (the console tests' fixtures are imported and used by name)
from __future__ import annotations

from sqlmodel import Session, select

from bot.review import decisions as review
from bot.review.team_replies import PLAYBOOK, similarity
from db.engine import session_scope
from db.models import Draft, Message, User
from tests.playbooks.test_console import (  # noqa: F401 (fixtures)
    app,
    chat,
    classifier,
    login,
    pending,
    services,
)

TEAM_REPLY = "目前門市只有台北迪化街一間，台中暫時沒有喔！歡迎線上訂購宅配到府。"


def decide_first(services, text: str) -> None:
    with session_scope(services.engine) as session:
        mei = session.exec(select(User).where(User.username == "mei")).one()
        draft = session.exec(select(Draft).where(Draft.status == "pending")
                             .order_by(Draft.message_id, Draft.rank)).first()  # fmt: skip
        review.approve(session, draft.id, mei, text=text)


def drafts_of(services, text: str) -> list[Draft]:
    with Session(services.engine) as session:
        message = session.exec(select(Message).where(Message.text == text)).one()
        return session.exec(
            select(Draft).where(Draft.message_id == message.id).order_by(Draft.rank)
        ).all()


def test_similarity_is_about_shared_words():
    assert similarity("請問台中有門市嗎", "台中有沒有門市") > 0.4
    assert similarity("請問台中有門市嗎", "退款要多久") < 0.1
    assert similarity("do you have a shop in Taichung", "is there a shop in Taichung") > 0.4


def test_an_edited_reply_is_offered_for_a_similar_later_question(app, services, classifier):
    chat(app, services, classifier, "question: 請問台中有門市嗎")
    decide_first(services, TEAM_REPLY)
    chat(app, services, classifier, "question: 台中有沒有門市啊")
    drafts = drafts_of(services, "台中有沒有門市啊")
    learned = [d for d in drafts if d.playbook == PLAYBOOK]
    assert len(learned) == 1 and learned[0].text == TEAM_REPLY
    assert learned[0].status == "pending" and not learned[0].auto
    source = learned[0].policy["learned_from"]
    assert source["message_id"] == drafts_of(services, "請問台中有門市嗎")[0].message_id
    assert source["edited"] is True and source["message_text"] == "請問台中有門市嗎"
    assert len(drafts) <= 3
    page = login(app, "mei").get("/console").text
    assert "as your team answered before" in page


def test_other_types_languages_and_case_numbers_are_not_reused(app, services, classifier):
    chat(app, services, classifier, "question: 請問台中有門市嗎")
    decide_first(services, "台中店在 CS-00042 案件處理中")
    chat(app, services, classifier, "question: 台中有沒有門市啊", "complaint: 台中有沒有門市啊!!")
    assert not [d for d in drafts_of(services, "台中有沒有門市啊") if d.playbook == PLAYBOOK]
    assert not [d for d in drafts_of(services, "台中有沒有門市啊!!") if d.playbook == PLAYBOOK]
