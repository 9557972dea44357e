"""The `replyline` command as a person at a shell uses it."""

import io
import json

import pytest
from sqlmodel import Session, select

from bot.cli import main
from bot.config import get_settings
from bot.pipeline.ingest import store_events
from bot.services import Services
from bot.web.security import verify_password
from db.engine import make_engine
from db.models import AuditLog, Draft, User
from handlers.base import InboundEvent
from tests.support import ScriptedClassifier


@pytest.fixture
def cli_env(monkeypatch, database_url):
    monkeypatch.setenv("REPLYLINE_DATABASE_URL", database_url)
    monkeypatch.setenv("REPLYLINE_LANGUAGE", "en")  # most tests read English
    get_settings.cache_clear()
    yield database_url
    get_settings.cache_clear()


def add_user(monkeypatch, name, role, password="a long password"):
    monkeypatch.setattr("sys.stdin", io.StringIO(password + "\n"))
    return main(["user", "add", name, "--role", role])


def test_user_add_stores_an_argon2_hash_never_the_password(cli_env, monkeypatch, capsys):
    assert add_user(monkeypatch, "mei", "admin") == 0
    with Session(make_engine(cli_env)) as session:
        user = session.exec(select(User)).one()
    assert user.role == "admin" and user.password_hash.startswith("$argon2")
    assert "a long password" not in user.password_hash
    assert verify_password(user.password_hash, "a long password")
    assert add_user(monkeypatch, "mei", "agent") == 2
    assert "exists" in capsys.readouterr().err


def test_user_add_refuses_a_short_password(cli_env, monkeypatch, capsys):
    assert add_user(monkeypatch, "kai", "agent", password="short") == 2
    assert "at least 8" in capsys.readouterr().err


def test_drafts_list_approve_and_reject_from_the_shell(cli_env, monkeypatch, capsys):
    add_user(monkeypatch, "mei", "agent")
    services = Services.build(get_settings(), classifier=lambda: ScriptedClassifier())
    store_events(
        services.engine,
        [
            InboundEvent(channel="web", event_id=str(i), chat_id=f"v{i}", user_id=f"v{i}", text=t)
            for i, t in enumerate(["question: open today?", "troll: lol"])
        ],
    )
    services.pipeline.process_pending()
    capsys.readouterr()

    assert main(["drafts", "list", "--status", "pending", "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert {r["type"] for r in rows} == {"question", "troll"}
    question = next(r for r in rows if r["type"] == "question")
    troll = next(r for r in rows if r["type"] == "troll")

    assert (
        main(["drafts", "approve", str(question["id"]), "--text", "Yes, 9 to 6!", "--as", "mei"])
        == 0
    )
    assert (
        main(["drafts", "reject", str(troll["id"]), "--reason", "do not feed", "--as", "mei"]) == 0
    )
    assert main(["drafts", "approve", str(troll["id"]), "--as", "mei"]) == 2
    assert "already rejected" in capsys.readouterr().err
    assert main(["drafts", "approve", str(question["id"]), "--as", "nobody"]) == 2

    with Session(services.engine) as session:
        assert session.get(Draft, question["id"]).status == "edited"
        audit = session.exec(select(AuditLog).order_by(AuditLog.id)).all()
    assert [(a.action, a.via, a.username) for a in audit] == [
        ("edit", "cli", "mei"),
        ("reject", "cli", "mei"),
    ]


def test_deciding_needs_a_named_user(cli_env, monkeypatch, capsys):
    """Drafts, incidents and posts ask for the acting user the same way (bot.cli.acting_user)."""
    monkeypatch.delenv("REPLYLINE_USER", raising=False)
    for command in (
        ["drafts", "approve", "1"],
        ["incidents", "ack", "1"],
        ["posts", "approve", "1"],
    ):
        assert main(["--lang", "en", *command]) == 2
        assert "Say who acts: --as USERNAME" in capsys.readouterr().err
    assert main(["--lang", "en", "posts", "approve", "1", "--as", "nobody"]) == 2
    assert "No active console user is named nobody." in capsys.readouterr().err


def test_the_shell_speaks_the_brands_language_unless_told_otherwise(cli_env, monkeypatch, capsys):
    """REPLYLINE_LANGUAGE (Traditional Chinese unless set) for results, errors and tables;
    --lang before the command for another language."""
    monkeypatch.setenv("REPLYLINE_LANGUAGE", "zh_Hant_TW")
    get_settings.cache_clear()
    assert add_user(monkeypatch, "mei", "agent") == 0
    assert capsys.readouterr().out == "已建立客服人員 mei。\n"
    services = Services.build(get_settings(), classifier=lambda: ScriptedClassifier())
    store_events(
        services.engine,
        [InboundEvent(channel="web", event_id="1", chat_id="v1", user_id="v1", text="question: 營業嗎？")],
    )  # fmt: skip
    services.pipeline.process_pending()

    assert main(["drafts", "list"]) == 0
    listed = capsys.readouterr().out
    assert "[待審核]" in listed and "(提問)" in listed and "營業嗎" in listed
    assert main(["--lang", "en", "drafts", "list"]) == 0
    assert "[waiting for review]" in capsys.readouterr().out
    assert main(["drafts", "approve", "999", "--as", "nobody"]) == 2
    assert "沒有名為 nobody 的有效主控台使用者" in capsys.readouterr().err
    assert main(["drafts", "list", "--status", "sent"]) == 0
    assert capsys.readouterr().out == "沒有草稿。\n"
    with pytest.raises(SystemExit):
        main(["--lang", "klingon", "drafts", "list"])
    assert "zh-TW or en" in capsys.readouterr().err


def test_user_add_sets_the_language_their_console_and_chat_messages_use(cli_env, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO("a long password\n"))
    assert main(["user", "add", "kim", "--role", "supervisor", "--language", "en"]) == 0
    assert add_user(monkeypatch, "lin", "supervisor") == 0  # follows the brand and browser
    with Session(make_engine(cli_env)) as session:
        locales = {u.username: u.locale for u in session.exec(select(User))}
    assert locales == {"kim": "en", "lin": None}
