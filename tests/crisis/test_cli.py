"""`replyline incidents`: list, show, acknowledge, note and resolve from the shell, as a named
supervisor, recorded like the console's steps."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import Session, select

from bot.cli import main
from bot.config import get_settings
from bot.pipeline.ingest import store_events
from db.engine import session_scope
from db.models import Incident, IncidentNote, User
from handlers.base import InboundEvent


@pytest.fixture
def shell(services, monkeypatch):
    monkeypatch.setenv("REPLYLINE_DATABASE_URL", services.settings.database.url)
    monkeypatch.delenv("REPLYLINE_USER", raising=False)
    monkeypatch.setenv("REPLYLINE_LANGUAGE", "en")  # the test reads English
    get_settings.cache_clear()
    with session_scope(services.engine) as session:
        session.add(User(username="boss", password_hash="x", role="supervisor"))
        session.add(User(username="mei", password_hash="x", role="agent"))
    store_events(
        services.engine,
        [InboundEvent(channel="web", event_id="e1", chat_id="c", user_id="c",
                      text="complaint: 你們再不退款我就提告")],
    )  # fmt: skip
    asyncio.run(services.worker.run_until_idle())
    yield
    get_settings.cache_clear()


def test_list_show_ack_note_resolve(shell, services, capsys):
    with Session(services.engine) as session:
        incident_id = session.exec(select(Incident.id)).one()

    assert main(["incidents", "list", "--json"]) == 0
    [listed] = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert listed["id"] == incident_id and listed["status"] == "open"

    assert main(["incidents", "show", str(incident_id)]) == 0
    shown = capsys.readouterr().out
    assert "legal threat" in shown and "提告" in shown and "Messages (1)" in shown

    assert main(["incidents", "ack", str(incident_id), "--as", "mei"]) == 2
    assert "supervisor role" in capsys.readouterr().err
    assert main(["incidents", "ack", str(incident_id)]) == 2
    assert "--as USERNAME" in capsys.readouterr().err
    assert main(["incidents", "ack", str(incident_id), "--as", "boss", "--note", "on it"]) == 0
    assert "acknowledged by boss" in capsys.readouterr().out
    assert main(["incidents", "note", str(incident_id), "--as", "boss", "--note", "called"]) == 0
    assert main(["incidents", "resolve", str(incident_id), "--as", "boss", "--note", "done"]) == 0
    assert main(["incidents", "resolve", "999", "--as", "boss", "--note", "x"]) == 2
    capsys.readouterr()

    assert main(["incidents", "list", "--status", "active"]) == 0
    assert capsys.readouterr().out == "No incidents.\n"
    with Session(services.engine) as session:
        notes = session.exec(select(IncidentNote.action, IncidentNote.via)).all()
    assert list(notes) == [("acknowledge", "cli"), ("note", "cli"), ("resolve", "cli")]


def test_the_shell_speaks_the_brands_language_with_times_in_the_brands_zone(
    shell, services, capsys, monkeypatch
):
    """REPLYLINE_LANGUAGE (Traditional Chinese unless set), or --lang; times are the brand
    zone's clock with the zone named once, and JSON gives the brand zone's offset."""
    monkeypatch.setenv("REPLYLINE_LANGUAGE", "zh_Hant_TW")
    with Session(services.engine) as session:
        incident = session.exec(select(Incident)).one()
    taipei = incident.opened_at.astimezone(ZoneInfo("Asia/Taipei"))

    assert main(["incidents", "list"]) == 0
    listed = capsys.readouterr().out
    assert f"#{incident.id} [" in listed and "嚴重度" in listed
    assert f"{taipei:%H:%M}" in listed and "時間為台北時間（UTC+8）。" in listed
    assert "UTC " not in listed and "severity" not in listed

    assert main(["incidents", "show", str(incident.id)]) == 0
    assert "訊息（1 則）" in capsys.readouterr().out

    assert main(["--lang", "en", "incidents", "list"]) == 0
    english = capsys.readouterr().out
    assert "severity" in english and "Times are Taiwan Time (UTC+8)." in english

    assert main(["incidents", "list", "--json"]) == 0
    [row] = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert row["opened_at"].endswith("+08:00")
    assert datetime.fromisoformat(row["opened_at"]) == incident.opened_at
