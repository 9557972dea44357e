"""`/metrics`: what Prometheus scrapes, counters per process and queue depths from the
database, so every process reports the same backlog."""

import asyncio

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr
from sqlmodel import Session, select

from bot.review import decisions as review
from bot.services import Services
from bot.web.app import create_app
from db.engine import session_scope
from db.models import Draft, User
from handlers.base import SendResult
from tests.fakes.channel import FakeChannel


def scrape(client, **kw) -> dict[tuple, float]:
    response = client.get("/metrics", **kw)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(metrics, name, **labels):
    return metrics.get((name, tuple(sorted(labels.items()))), 0.0)


@pytest.fixture
def make_app(settings, classifier):
    settings.pipeline.worker_enabled = False
    built = []

    def make(**overrides):
        app_settings = settings.updated(**overrides)
        services = Services.build(app_settings, classifier=lambda: classifier)
        built.append(services)
        return create_app(app_settings, services), services

    yield make
    for services in built:
        services.engine.dispose()


def say(client, text, client_id):
    return client.post("/chat/api/messages", json={"text": text, "client_id": client_id})


def test_webhooks_latency_queue_depth_and_drafts_are_reported(make_app):
    app, services = make_app()
    with TestClient(app) as client:
        client.get("/chat")
        before = scrape(client)
        for i in range(3):
            assert say(client, f"question: number {i}?", f"metric-{i:04d}").status_code == 200
        say(client, "question: number 0?", "metric-0000")  # redelivered
        say(client, "", "metric-9999")  # refused
        mid = scrape(client)
        asyncio.run(services.worker.run_until_idle())
        with session_scope(services.engine) as session:
            user = User(username="ada", password_hash="x", role="admin")
            session.add(user)
            session.flush()
            first = session.exec(select(Draft).where(Draft.rank == 0)).first()
            review.approve(session, first.id, user)
        after = scrape(client)

    def delta(name, snapshot=mid, **labels):
        return value(snapshot, name, **labels) - value(before, name, **labels)

    received = "replyline_webhooks_received_total"
    assert delta(received, channel="web", outcome="stored") == 3
    assert delta(received, channel="web", outcome="duplicate") == 1
    assert delta(received, channel="web", outcome="rejected") == 1
    assert delta("replyline_webhook_ack_seconds_count", channel="web") == 5
    assert value(mid, "replyline_messages_unprocessed") == 3
    assert value(mid, "replyline_oldest_unprocessed_seconds") >= 0
    assert value(after, "replyline_messages_unprocessed") == 0
    assert delta("replyline_processing_seconds_count", snapshot=after) == 3
    assert value(after, "replyline_drafts_unsent") == 1
    assert value(after, "replyline_drafts", status="approved") == 1
    assert value(after, "replyline_drafts", status="pending") >= 2
    assert value(after, "replyline_database_up") == 1
    assert value(after, "replyline_incidents", status="open") == 0


def test_every_process_reports_the_same_backlog(make_app):
    app_a, _ = make_app()
    app_b, _ = make_app()
    with TestClient(app_a) as a, TestClient(app_b) as b:
        a.get("/chat")
        say(a, "question: queued", "queued-0001")
        for client in (a, b):
            assert value(scrape(client), "replyline_messages_unprocessed") == 1


def test_incidents_are_counted_by_status(make_app):
    from db.models import Incident

    app, services = make_app()
    with session_scope(services.engine) as session:
        for status in ("open", "open", "resolved"):
            session.add(Incident(status=status, title="refund complaints spike"))
    with TestClient(app) as client:
        metrics = scrape(client)
    assert value(metrics, "replyline_incidents", status="open") == 2
    assert value(metrics, "replyline_incidents", status="resolved") == 1
    assert value(metrics, "replyline_incidents", status="acknowledged") == 0


def test_send_failures_are_counted_by_channel_and_kind(make_app):
    refusing = FakeChannel(
        always={"send": SendResult(False, error="403 blocked by user", permanent=True)}
    )

    app, services = make_app()
    with TestClient(app) as client:
        client.get("/chat")
        say(client, "question: will this fail?", "fails-0001")
        asyncio.run(services.worker.run_until_idle())
        with session_scope(services.engine) as session:
            user = User(username="ada", password_hash="x", role="admin")
            session.add(user)
            session.flush()
            review.approve(session, session.exec(select(Draft)).first().id, user)
        before = scrape(client)
        services.outbox.channels = {"web": refusing}
        asyncio.run(services.outbox.send_due())
        after = scrape(client)
    name = "replyline_send_failures_total"
    labels = {"channel": "web", "kind": "failed"}
    assert value(after, name, **labels) - value(before, name, **labels) == 1
    assert value(after, "replyline_drafts", status="failed") == 1
    with Session(services.engine) as session:
        assert session.exec(select(Draft).where(Draft.status == "failed")).one().error


def test_a_metrics_token_keeps_strangers_out(make_app):
    app, _ = make_app(web={"metrics_token": SecretStr("scrape-me-please")})
    with TestClient(app) as client:
        assert client.get("/metrics").status_code == 401
        assert client.get("/metrics", headers={"Authorization": "Bearer nope"}).status_code == 401
        scrape(client, headers={"Authorization": "Bearer scrape-me-please"})
