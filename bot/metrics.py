"""Prometheus metrics for `/metrics`.

Counters and histograms (requests received, latencies, send failures) are kept by each process
and describe what that process did: scrape every process, or sum them in Prometheus. Gauges
(queue depths, drafts by status, incidents) are read from the database at scrape time, so any
process answers the same for the whole deployment."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Awaitable, Callable, Iterator
from datetime import datetime
from functools import wraps

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.engine import Connection, Engine
from sqlmodel import col
from starlette.responses import Response

from db.enums import DraftStatus, IncidentStatus, MessageState
from db.models import Draft, Incident, Message
from db.types import utcnow

log = logging.getLogger(__name__)

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)

WEBHOOKS = Counter(
    "replyline_webhooks_received",
    "Inbound platform webhooks and web chat posts, by channel and outcome "
    "(stored, duplicate, empty, rejected, unavailable, error).",
    ["channel", "outcome"],
)
ACK_SECONDS = Histogram(
    "replyline_webhook_ack_seconds",
    "Time from receiving an inbound request to answering it (after the events are stored).",
    ["channel"],
    buckets=LATENCY_BUCKETS,
)
PROCESSING_SECONDS = Histogram(
    "replyline_processing_seconds",
    "Time from a message being stored to it being classified and drafted.",
    buckets=LATENCY_BUCKETS,
)
PROCESS_STEP_SECONDS = Histogram(
    "replyline_process_step_seconds",
    "Time this process spent storing one message's classification, stage and drafts.",
    buckets=LATENCY_BUCKETS,
)
SENT = Counter("replyline_replies_sent", "Replies delivered, by channel.", ["channel"])
SEND_FAILURES = Counter(
    "replyline_send_failures",
    "Failed delivery attempts, by channel and kind (retry: will be tried again; failed: given "
    "up, the draft is marked failed with the reason).",
    ["channel", "kind"],
)
PROCESSING_FAILURES = Counter(
    "replyline_processing_failures",
    "Messages that could not be classified or drafted, by kind (retry: will be tried again; "
    "failed: given up, the message is marked failed with the reason).",
    ["kind"],
)


def webhook_outcome(status: int, body: bytes) -> str:
    if status >= 500:
        return "unavailable" if status == 503 else "error"
    if status >= 400:
        return "rejected"
    try:
        counts = json.loads(body)
    except ValueError:
        return "stored"
    if counts.get("stored"):
        return "stored"
    return "duplicate" if counts.get("duplicates") else "empty"


def observe_webhook(
    fn: Callable[..., Awaitable[Response]],
) -> Callable[..., Awaitable[Response]]:
    """Wraps the shared inbound handler `receive(services, channel_name, request, ...)`."""

    @wraps(fn)
    async def wrapper(services, channel_name: str, *args, **kwargs) -> Response:
        started = time.perf_counter()
        response = await fn(services, channel_name, *args, **kwargs)
        channel = channel_name if channel_name in services.channels else "unknown"
        ACK_SECONDS.labels(channel).observe(time.perf_counter() - started)
        WEBHOOKS.labels(channel, webhook_outcome(response.status_code, bytes(response.body))).inc()
        return response

    return wrapper


def observe_processed(received_at: datetime, step_started: datetime) -> None:
    now = utcnow()
    PROCESSING_SECONDS.observe(max(0.0, (now - received_at).total_seconds()))
    PROCESS_STEP_SECONDS.observe(max(0.0, (now - step_started).total_seconds()))


class DatabaseGauges(Collector):
    """Queue depths and counts, read from the database each time Prometheus scrapes."""

    def __init__(self, engine: Engine):
        self.engine = engine

    def collect(self) -> Iterator[GaugeMetricFamily]:
        up = GaugeMetricFamily("replyline_database_up", "1 if the database answered the scrape.")
        try:
            families = list(self._read())
        except Exception as error:  # a scrape must answer even when the database does not
            log.warning("metrics: database unavailable: %s", type(error).__name__)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from families

    def _read(self) -> Iterator[GaugeMetricFamily]:
        now = utcnow()
        with self.engine.connect() as connection:
            waiting, oldest = connection.execute(
                select(func.count(), func.min(col(Message.received_at))).where(
                    col(Message.state) == MessageState.RECEIVED
                )
            ).one()
            failed = connection.execute(
                select(func.count()).where(col(Message.state) == MessageState.FAILED)
            ).scalar_one()
            drafts = self._drafts(connection)
            incidents = self._incidents(connection)
        if oldest is not None and oldest.tzinfo is None:  # raw SQLite rows carry no zone
            oldest = oldest.replace(tzinfo=now.tzinfo)
        yield _gauge(
            "replyline_messages_unprocessed",
            "Messages stored but not yet classified and drafted (pipeline queue depth).",
            waiting,
        )
        yield _gauge(
            "replyline_oldest_unprocessed_seconds",
            "Age of the oldest message waiting to be processed (0 when none waits).",
            (now - oldest).total_seconds() if oldest else 0.0,
        )
        yield _gauge(
            "replyline_messages_failed",
            "Messages that could not be processed after several attempts (see the console).",
            failed,
        )
        yield _gauge(
            "replyline_drafts_unsent",
            "Drafts approved but not yet delivered (outbox queue depth).",
            drafts.get(DraftStatus.APPROVED, 0) + drafts.get(DraftStatus.EDITED, 0),
        )
        by_status = GaugeMetricFamily("replyline_drafts", "Drafts by status.", labels=["status"])
        for status in sorted(DraftStatus):
            by_status.add_metric([status], drafts.get(status, 0))
        yield by_status
        family = GaugeMetricFamily("replyline_incidents", "Incidents by status.", labels=["status"])
        for incident_status in sorted(IncidentStatus):
            family.add_metric([incident_status], incidents.get(incident_status, 0))
        yield family

    @staticmethod
    def _drafts(connection: Connection) -> dict[DraftStatus, int]:
        """Drafts by status."""
        query = select(col(Draft.status), func.count()).group_by(col(Draft.status))
        return {status: count for status, count in connection.execute(query).all()}

    @staticmethod
    def _incidents(connection: Connection) -> dict[IncidentStatus, int]:
        """Incidents by status (open, acknowledged, resolved)."""
        query = select(col(Incident.status), func.count()).group_by(col(Incident.status))
        return {status: count for status, count in connection.execute(query).all()}


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, documentation)
    family.add_metric([], value)
    return family


def database_registry(engine: Engine) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(DatabaseGauges(engine))
    return registry


def exposition(database: CollectorRegistry) -> bytes:
    """This process's counters (and process_* metrics) followed by the database gauges."""
    return generate_latest(REGISTRY) + generate_latest(database)
