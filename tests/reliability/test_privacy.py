"""Privacy (Taiwan PDPA): a contact's data can be exported and erased on request, message text
is purged after the retention period, and reports keep their anonymous counts."""

import asyncio
import io
import json
from datetime import timedelta

import pytest
from sqlalchemy import text, update
from sqlmodel import Session, SQLModel, select

from bot.cli import main
from bot.config import get_settings
from bot.pipeline.ingest import store_events
from bot.privacy.contacts import erase_contact, export_contact, purge_expired_text
from bot.review import decisions as review
from bot.services import Services
from db.engine import session_scope
from db.models import AuditLog, Contact, Conversation, Draft, Feedback, Message, User
from db.types import utcnow
from handlers.base import InboundEvent

PHONE = "0912-345-678"
MEI = [
    f"complaint: 我是林美玲，電話 {PHONE}，訂單還沒到",
    "question: 請問可以退貨嗎？我的鞋子尺寸不合",
]
KAI = ["advocate: love the new latte"]


def say(engine, user, texts, name=None, chat=None):
    store_events(
        engine,
        [
            InboundEvent(
                channel="web",
                event_id=f"{user}-{chat}-{i}",
                chat_id=chat or user,
                chat_kind="group" if chat else "direct",
                user_id=user,
                user_name=name,
                text=t,
            )
            for i, t in enumerate(texts)
        ],
    )


@pytest.fixture
def world(services):
    """Mei (direct chat and a group), Kai; drafts decided, one reply sent, one correction."""
    say(services.engine, "U-mei", MEI, name="林美玲")
    say(services.engine, "U-mei", ["other: 大家好 from Mei in the group"], chat="G1")
    say(services.engine, "U-kai", KAI, name="Kai")
    asyncio.run(services.worker.run_until_idle())
    with session_scope(services.engine) as session:
        admin = User(username="ada", password_hash="x", role="admin")
        session.add(admin)
        session.flush()
        first = session.exec(select(Draft).order_by(Draft.id)).first()
        review.approve(session, first.id, admin, text=f"林美玲您好，我們會打 {PHONE} 給您")
        session.add(
            Feedback(message_id=first.message_id, text=MEI[0], field="type", value="complaint")
        )
    asyncio.run(services.worker.run_until_idle())
    with Session(services.engine) as session:
        mei = session.exec(select(Contact).where(Contact.platform_user_id == "U-mei")).one()
        kai = session.exec(select(Contact).where(Contact.platform_user_id == "U-kai")).one()
        admin = session.exec(select(User)).one()
    return mei, kai, admin


def everything(engine) -> str:
    """Every row of every table, as text."""
    with Session(engine) as session:
        return json.dumps(
            [
                [str(v) for v in row]
                for table in SQLModel.metadata.sorted_tables
                for row in session.execute(text(f'SELECT * FROM "{table.name}"')).all()
            ],
            ensure_ascii=False,
        )


def report_counts(engine):
    with Session(engine) as session:
        messages = session.exec(select(Message).where(Message.direction == "in")).all()
        drafts = session.exec(select(Draft)).all()
        return (
            sorted((m.type, m.stage, m.sentiment, m.language, m.sent_at) for m in messages),
            sorted(d.status for d in drafts),
            sorted((c.stage, c.message_count) for c in session.exec(select(Contact)).all()),
        )


def test_an_export_holds_everything_stored_about_the_contact(services, world):
    mei, _, admin = world
    data = export_contact(services.engine, mei.id, admin)
    assert data["contact"]["display_name"] == "林美玲"
    assert {m["text"] for m in data["messages"]} == set(MEI) | {
        "other: 大家好 from Mei in the group"
    }
    assert any(PHONE in r["text"] for r in data["replies"]), "the reply sent to them"
    assert any(d["status"] == "sent" for d in data["drafts"])
    assert data["feedback"][0]["text"] == MEI[0]
    assert data["audit_log"] and "username" not in data["audit_log"][0]
    assert "love the new latte" not in json.dumps(data, ensure_ascii=False), "not Kai's"
    json.dumps(data)  # JSON-ready


def test_erasing_removes_personal_data_and_text_but_keeps_the_counts(services, world):
    mei, kai, admin = world
    before = report_counts(services.engine)
    erase_contact(services.engine, mei.id, admin)
    stored = everything(services.engine)
    # (the brand's own FAQ text, quoted in draft policies, may share words like 退貨)
    for trace in ("林美玲", PHONE, "U-mei", "鞋子尺寸", "大家好", "訂單還沒到"):
        assert trace not in stored, trace
    assert "love the new latte" in stored, "other people's data stays"
    assert report_counts(services.engine) == before
    with Session(services.engine) as session:
        erased = session.get(Contact, mei.id)
        assert erased.erased and erased.display_name is None
        assert session.exec(select(Feedback)).all() == []
        assert session.exec(select(AuditLog).where(AuditLog.action == "contact_erase")).one()
        assert session.exec(select(Conversation).where(Conversation.chat_id == "G1")).one()


def test_someone_who_writes_again_after_erasure_starts_afresh(services, world):
    mei, _, admin = world
    erase_contact(services.engine, mei.id, admin)
    say(services.engine, "U-mei", ["question: 還在嗎"], name="林美玲")
    with Session(services.engine) as session:
        again = session.exec(select(Contact).where(Contact.platform_user_id == "U-mei")).one()
    assert again.id != mei.id and again.message_count == 0


def age(engine, days):
    with session_scope(engine) as session:
        session.exec(update(Message).values(received_at=utcnow() - timedelta(days=days)))


def test_retention_purges_old_text_except_what_still_waits_for_a_decision(services, world):
    before = report_counts(services.engine)
    age(services.engine, 40)
    say(services.engine, "U-new", ["question: fresh message"])
    asyncio.run(services.worker.run_until_idle())
    assert purge_expired_text(services.engine, days=30) == 2  # Mei's answered message + reply
    with Session(services.engine) as session:
        texts = {m.id: m.text for m in session.exec(select(Message))}
        waiting = {
            d.message_id for d in session.exec(select(Draft).where(Draft.status == "pending"))
        }
        answered = session.exec(select(Draft).where(Draft.status == "sent")).one()
        assert session.exec(select(Feedback)).all() == []
    assert texts[answered.message_id] is None and texts[answered.sent_message_id] is None
    assert answered.text == "" and PHONE not in everything(services.engine)
    assert all(texts[i] for i in waiting), "text a reviewer still needs is kept"
    assert "question: fresh message" in texts.values()
    assert set(before[0]) <= set(report_counts(services.engine)[0]), "counts for reports kept"
    assert purge_expired_text(services.engine, days=30) == 0, "a second run finds nothing"


def test_the_worker_purges_on_its_own_when_retention_is_set(settings, classifier):
    settings.privacy.retention_days = 30
    services = Services.build(settings, classifier=lambda: classifier)
    say(services.engine, "U-old", ["other: an old remark"])
    asyncio.run(services.worker.run_until_idle())
    with session_scope(services.engine) as session:
        session.exec(update(Draft).values(status="rejected"))
    age(services.engine, 31)
    asyncio.run(services.worker.housekeep())
    with Session(services.engine) as session:
        assert session.exec(select(Message)).one().text is None
    services.engine.dispose()


@pytest.fixture
def cli_env(monkeypatch, database_url):
    monkeypatch.setenv("REPLYLINE_DATABASE_URL", database_url)
    get_settings.cache_clear()
    yield database_url
    get_settings.cache_clear()


def test_contact_export_erase_and_purge_from_the_shell(
    cli_env, services, world, capsys, monkeypatch
):
    mei, _, _ = world
    assert main(["contact", "export", str(mei.id), "--as", "ada"]) == 0
    exported = json.loads(capsys.readouterr().out)
    assert exported["contact"]["platform_user_id"] == "U-mei"
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    assert main(["contact", "erase", str(mei.id), "--as", "ada"]) == 2, "needs --yes"
    assert "--yes" in capsys.readouterr().err
    assert main(["contact", "erase", str(mei.id), "--as", "ada", "--yes"]) == 0
    assert json.loads(capsys.readouterr().out)["erased_contact"] == mei.id
    assert main(["contact", "export", "999", "--as", "ada"]) == 2
    assert "聯絡人 999 不存在" in capsys.readouterr().err  # in the brand's language
    assert main(["contact", "export", str(mei.id)]) == 2, "who does it must be named"
    assert main(["purge"]) == 2, "how old must be said"
    assert main(["purge", "--days", "30"]) == 0
    assert json.loads(capsys.readouterr().out)["days"] == 30


def test_only_an_admin_may_export_or_erase(cli_env, services, world, capsys):
    mei, _, _ = world
    with session_scope(services.engine) as session:
        session.add(User(username="agent-a", password_hash="x", role="agent"))
    assert main(["contact", "export", str(mei.id), "--as", "agent-a"]) == 2
    assert "沒有名為 agent-a 的有效管理員" in capsys.readouterr().err  # the brand's language
    assert main(["--lang", "en", "contact", "export", str(mei.id), "--as", "agent-a"]) == 2
    assert "No active admin is named agent-a" in capsys.readouterr().err


def test_erasing_takes_their_words_out_of_crisis_incidents(services, world):
    from bot.crisis.incidents import explain
    from db.models import Incident, IncidentMessage

    mei, _, admin = world
    with session_scope(services.engine) as session:
        quoted = session.exec(select(Message).where(Message.contact_id == mei.id)).first()
        incident = Incident(
            title="late deliveries",
            signals=[
                {"kind": "story", "key": "story", "explanation": f"Same story: “{quoted.text}”"}
            ],
        )
        session.add(incident)
        session.flush()
        session.add(IncidentMessage(incident_id=incident.id, message_id=quoted.id, reason="story"))
        session.flush()
        incident.explanation = explain(session, incident)
        assert "訂單還沒到" in incident.explanation
    exported = export_contact(services.engine, mei.id, admin)
    assert [i["title"] for i in exported["incidents"]] == ["late deliveries"]
    erase_contact(services.engine, mei.id, admin)
    stored = everything(services.engine)
    assert "訂單還沒到" not in stored and PHONE not in stored
    assert "late deliveries" in stored, "the incident itself stays"
