"""Logs: secrets and personal data never reach a log line, an error stored in the database,
the audit log or an export; every line of a request carries its request id."""

import asyncio
import io
import json
import logging
import re

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from bot.config import Settings
from bot.logs import register_settings_secrets, setup_logging
from bot.privacy.contacts import export_contact
from bot.services import Services
from bot.web.app import create_app
from bot.web.security import hash_password
from db.engine import session_scope
from db.models import AuditLog, Draft, User
from handlers.redact import redact
from tests.fakes.channel import FakeChannel

BOT_TOKEN = "7312945601:AAHk3v9QpZrT5xLmN2bWcYd8EfGhJkL0pQs"
CHANNEL_SECRET = "8c1f0e7d6b5a49382716f5e4d3c2b1a0"
ACCESS_TOKEN = "Zk9pQ2xWb3RrZW5MaW5lQWNjZXNzVG9rZW4xMjM0NTY3ODkw"
WEBHOOK_SECRET = "tg-webhook-secret-4d5e6f"
SECRET_KEY = "console-signing-key-9f8e7d6c"
PASSWORD = "Tr0ub4dor&3-staff"
WRONG_PASSWORD = "hunter2-wrong-guess"
PHONE, EMAIL, NATIONAL_ID = "0912-345-678", "mei.lin@example.com.tw", "A123456789"


def leaky_channel() -> FakeChannel:
    """A platform client whose errors quote the request, token in the URL included."""

    def error(args) -> RuntimeError:
        reply = args["reply"]
        return RuntimeError(
            f"POST https://api.telegram.org/bot{BOT_TOKEN}/sendMessage failed: "
            f"chat={reply.chat_id} text={reply.text!r} Authorization: Bearer {ACCESS_TOKEN}"
        )

    return FakeChannel(always={"send": error})


@pytest.mark.parametrize(
    "text",
    [
        "call 0912-345-678 or 0912345678 or +886 912 345 678 or +886-912-345-678",
        "office (02)2345-6789 or 02-2345-6789, abroad +1 415 555 0100",
        "write to mei.lin@example.com.tw",
        "ID A123456789, resident F823456789",
        f"url postgresql://replyline:{PASSWORD}@db/replyline",
        f"password={PASSWORD} token: {ACCESS_TOKEN}",
        f"bot {BOT_TOKEN}",
    ],
)
def test_personal_data_and_credentials_are_masked(text):
    masked = redact(text)
    for leak in (
        "345-678",
        "345678",
        "912 345",
        "2345-6789",
        "555 0100",
        "mei.lin",
        "123456789",
        "823456789",
        PASSWORD,
        ACCESS_TOKEN,
        BOT_TOKEN,
    ):
        assert leak not in masked, (leak, masked)


def test_ordinary_log_text_is_left_alone():
    line = (
        "2026-11-23 09:15:00,123 INFO bot.pipeline.worker [0a1b2c3d4e5f60718293a4b5c6d7e8f9]: "
        "draft 1234 sent at 2026-11-23T01:15:00+00:00, 37 messages in 0.25 s"
    )
    assert redact(line) == line


@pytest.fixture
def root_logger():
    """Put the root logger's handlers and level back after the test."""
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    yield root
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in saved[0]:
        root.addHandler(handler)
    root.setLevel(saved[1])


@pytest.fixture
def captured(root_logger):
    stream = io.StringIO()
    setup_logging(logging.DEBUG, json_lines=True, stream=stream)
    return stream


def logged(json_lines: bool, message: str, error: str) -> tuple[str, str]:
    """The message and the traceback one log call writes through `setup_logging`'s handler."""
    stream = io.StringIO()
    setup_logging(logging.DEBUG, json_lines=json_lines, stream=stream)
    try:
        raise RuntimeError(error)
    except RuntimeError:
        logging.getLogger("tests.logs").exception("%s", message)
    output = stream.getvalue()
    if json_lines:
        line = json.loads(output)
        return line["message"], line["exception"]
    first, _, traceback = output.partition("\n")
    return first.split("]: ", 1)[1], traceback.rstrip()


@pytest.mark.parametrize(
    "text",
    [
        f"POST https://api.telegram.org/bot{BOT_TOKEN}/sendMessage failed",
        f"bot token {BOT_TOKEN} refused",
        f"LINE signature checked with {CHANNEL_SECRET}",
        f"LINE push with {ACCESS_TOKEN} got 401",
        f"connect postgresql://replyline:{PASSWORD}@db:5432/replyline failed",
        f"connect with {PASSWORD}",
    ],
)
def test_a_secret_is_masked_alike_on_the_plain_and_json_paths_and_in_error_texts(root_logger, text):
    settings = Settings(
        database={"url": f"postgresql://replyline:{PASSWORD}@db:5432/replyline"},
        telegram={"bot_token": BOT_TOKEN},
        line={"channel_secret": CHANNEL_SECRET, "channel_access_token": ACCESS_TOKEN},
        _env_file=None,
    )
    register_settings_secrets(settings)
    plain = logged(False, text, f"upstream said: {text}")
    as_json = logged(True, text, f"upstream said: {text}")
    assert plain == as_json
    message, traceback = plain
    assert message == redact(text)  # what an adapter's error text becomes
    assert "[redacted]" in message and traceback.endswith(f"RuntimeError: upstream said: {message}")
    for secret in (BOT_TOKEN, BOT_TOKEN.split(":")[1], CHANNEL_SECRET, ACCESS_TOKEN, PASSWORD):
        assert secret not in message + traceback


def test_a_full_scenario_logs_no_secret_and_no_personal_data(captured, database_url, classifier):
    settings = Settings(  # every SecretStr setting, in whichever group, is redacted by type
        database={"url": database_url},
        web={"secret_key": SECRET_KEY, "metrics_token": "metrics-bearer-7a6b5c"},
        telegram={"bot_token": BOT_TOKEN, "webhook_secret": WEBHOOK_SECRET},
        line={"channel_secret": CHANNEL_SECRET, "channel_access_token": ACCESS_TOKEN},
        pipeline={"worker_enabled": False},
        _env_file=None,
    )
    services = Services.build(settings, classifier=lambda: classifier)
    services.outbox.channels = {**services.channels, "web": leaky_channel()}
    services.outbox.max_attempts = 1
    with session_scope(services.engine) as session:
        session.add(User(username="mei", password_hash=hash_password(PASSWORD), role="admin"))
    app = create_app(settings, services)
    with TestClient(app) as customer, TestClient(app) as agent:
        customer.get("/chat")
        text = f"complaint: refund please, call {PHONE}, mail {EMAIL}, ID {NATIONAL_ID}"
        assert (
            customer.post(
                "/chat/api/messages", json={"text": text, "client_id": "leaky-0001"}
            ).status_code
            == 200
        )
        bad = customer.post(
            "/chat/api/messages", content=b"{bad", headers={"content-type": "application/json"}
        )
        assert bad.status_code == 400
        agent.post("/console/login", data={"username": "mei", "password": WRONG_PASSWORD})
        agent.post("/console/login", data={"username": "mei", "password": PASSWORD})
        asyncio.run(services.worker.run_until_idle())
        with Session(services.engine) as session:
            draft = session.exec(select(Draft).order_by(Draft.rank)).first()
        token = re.search(r'name="csrf" value="([^"]+)"', agent.get("/console").text).group(1)
        reply = f"Sorry! We will call {PHONE} and write to {EMAIL} today."
        agent.post(f"/console/drafts/{draft.id}/approve", data={"csrf": token, "text": reply})
        asyncio.run(services.worker.run_until_idle())
        agent.get("/metrics", headers={"Authorization": "Bearer wrong"})
        with Session(services.engine) as session:
            failed = session.get(Draft, draft.id)
            audit = session.exec(select(AuditLog)).all()
            admin = session.exec(select(User)).one()
            contact_id = session.exec(select(Draft.message_id)).first()
        export = json.dumps(export_contact(services.engine, 1, admin), ensure_ascii=False)
    services.engine.dispose()

    output = captured.getvalue()
    lines = [json.loads(line) for line in output.splitlines()]
    secrets = [BOT_TOKEN, CHANNEL_SECRET, ACCESS_TOKEN, WEBHOOK_SECRET, SECRET_KEY, PASSWORD]
    secrets += [WRONG_PASSWORD, "metrics-bearer-7a6b5c"]
    personal = [PHONE, EMAIL, NATIONAL_ID, "345-678", "mei.lin"]
    assert failed.status == "failed" and "[redacted]" in failed.error
    assert "[redacted]" in output and "[phone]" in output, "the scenario did log the leak"
    for value in secrets + personal:
        assert value not in output, f"{value!r} reached the log"
    for value in secrets:
        assert value not in failed.error
        assert all(value not in (a.after_text or "") + (a.reason or "") for a in audit)
        assert value not in export
    assert contact_id is not None
    request_ids = [line["request_id"] for line in lines if line["request_id"] != "-"]
    assert request_ids and all(re.fullmatch(r"[0-9a-f]{32}", r) for r in request_ids)
