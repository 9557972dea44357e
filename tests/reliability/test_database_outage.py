"""A database outage: while PostgreSQL is unreachable, webhooks get 503 (so the platform
redelivers) and nothing is acknowledged that was not stored; when it is back, the same
process carries on without a restart."""

import time

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import make_url
from sqlmodel import Session, select

from bot.config import Settings
from bot.services import Services
from bot.web.app import create_app
from db.engine import make_engine
from db.models import Message
from tests.reliability.tcpproxy import TcpProxy
from tests.support import (
    ScriptedClassifier,
    fresh_postgres_database,
    postgres_available,
    wait_for,
)


@pytest.fixture
def proxied_postgres():
    """(url through a proxy that can be cut, direct url) of a fresh database."""
    reason = postgres_available()
    if reason:
        pytest.skip(reason)
    with fresh_postgres_database(migrated=True) as url:
        parsed = make_url(url)
        proxy = TcpProxy((parsed.host or "127.0.0.1", parsed.port or 5432))
        try:
            via = parsed.set(host="127.0.0.1", port=proxy.port)
            yield proxy, via.render_as_string(hide_password=False), url
        finally:
            proxy.close()


def test_webhooks_get_503_while_postgres_is_away_and_work_again_after(proxied_postgres, caplog):
    proxy, url, direct = proxied_postgres
    settings = Settings(
        database={"url": url},
        web={"secret_key": "outage"},
        pipeline={"worker_poll_seconds": 0.1},
        _env_file=None,
    )
    services = Services.build(settings, classifier=ScriptedClassifier)
    app = create_app(settings, services)
    watcher = make_engine(direct)

    def states():
        with Session(watcher) as session:
            return [m.state for m in session.exec(select(Message).order_by(Message.id))]

    def say(client, text, client_id):
        return client.post("/chat/api/messages", json={"text": text, "client_id": client_id})

    with TestClient(app) as client:
        client.get("/chat")
        assert say(client, "question: before", "outage-0001").status_code == 200
        assert wait_for(lambda: states() == ["processed"], 20)

        proxy.cut()
        started = time.monotonic()
        during = say(client, "question: during", "outage-0002")
        assert during.status_code == 503 and during.json() == {"error": "temporarily unavailable"}
        assert time.monotonic() - started < 10, "fails fast rather than hanging"
        refused = [r for r in caplog.records if r.name == "bot.web.routes.webhooks"]
        assert [r.levelname for r in refused] == ["WARNING"], "one line per refused request"
        assert refused[0].exc_info is None and "database unavailable" in refused[0].getMessage()
        assert client.get("/healthz").status_code == 503
        assert client.get("/chat/api/messages").status_code == 503
        assert "replyline_database_up 0.0" in client.get("/metrics").text
        time.sleep(1.0)  # the worker keeps polling the missing database meanwhile
        assert states() == ["processed"], "nothing was stored for the 503"

        proxy.restore()
        assert wait_for(lambda: client.get("/healthz").status_code == 200, 20)
        again = say(client, "question: during", "outage-0002")  # the platform redelivers
        assert again.status_code == 200 and again.json()["stored"] == 1
        assert say(client, "question: after", "outage-0003").status_code == 200
        assert wait_for(lambda: states() == ["processed"] * 3, 20), states()
    services.engine.dispose()
    watcher.dispose()
