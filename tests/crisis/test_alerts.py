"""Alerts: supervisors get the incident at once on Telegram or LINE with an acknowledge button,
repeats and escalation run on timers kept in the database (so they survive a restart), no
incident sends more than one round per interval, and a supervisor's acknowledgement from
Telegram stops the repeats."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

import pytest
from sqlmodel import Session, select

from bot.config import CrisisSettings
from bot.crisis import alerts
from bot.crisis.alerts import AlertPolicy, Supervisor
from bot.crisis.signals import Signal
from bot.jobs import open_job_table, start_scheduler, stop_scheduler
from bot.review import actions
from bot.services import Services
from bot.web.security import hash_password
from db.engine import session_scope
from db.models import Incident, IncidentAlert, User
from db.types import utcnow
from tests.fakes.channel import FakeChannel

SUPERVISORS = "1:telegram:111, 1:line:Uaaa, 2:telegram:-100222"


def parse_supervisors(text: str) -> list[Supervisor]:
    """As REPLYLINE_CRISIS_SUPERVISORS is read: the setting's list, then its entries."""
    return alerts.parse_supervisors(CrisisSettings(supervisors=text).supervisors)


def test_supervisors_are_written_tier_channel_id():
    assert parse_supervisors(SUPERVISORS) == [
        Supervisor(1, "telegram:111"),
        Supervisor(1, "line:Uaaa"),
        Supervisor(2, "telegram:-100222"),
    ]
    assert parse_supervisors("telegram:5\nline:U9") == [
        Supervisor(1, "telegram:5"),
        Supervisor(1, "line:U9"),
    ]
    assert parse_supervisors("") == []
    for wrong in ("email:boss@example.com", "1:telegram:", "0:line:U1", "telegram"):
        with pytest.raises(ValueError, match=r"\[TIER:\]CHANNEL:ID|tiers start at 1"):
            parse_supervisors(wrong)


def test_each_escalation_period_unacknowledged_adds_the_next_tier():
    policy = AlertPolicy(parse_supervisors(SUPERVISORS), escalate=timedelta(minutes=15))
    opened = utcnow()
    assert policy.tier_at(opened, opened) == 1
    assert policy.tier_at(opened, opened + timedelta(minutes=14)) == 1
    assert policy.tier_at(opened, opened + timedelta(minutes=15)) == 2
    assert policy.tier_at(opened, opened + timedelta(hours=3)) == 2  # no tier 3: stays at 2
    assert [s.recipient for s in policy.recipients(1)] == ["telegram:111", "line:Uaaa"]
    assert len(policy.recipients(2)) == 3


def severe(message_id: int) -> Signal:
    return Signal(
        kind="severity",
        key=f"severity:legal:{message_id}",
        at=utcnow(),
        severity=7,
        title="Possible legal threat on line",
        explanation="One message on line reads as a legal threat, recognised by the words “提告”.",
        channels=["line"],
        message_ids=[message_id],
        figures={"category": "legal"},
    )


def open_incident(services) -> int:
    from bot.pipeline.ingest import store_events
    from handlers.base import InboundEvent

    [stored] = store_events(
        services.engine,
        [InboundEvent(channel="line", event_id="e1", chat_id="U1", user_id="U1", text="x")],
    )
    [recorded] = services.crisis.handle([severe(stored.message_id)])
    return recorded.incident.id


def with_channels(services):
    services.channels["telegram"] = FakeChannel("telegram")
    services.channels["line"] = FakeChannel("line")
    return services


def pushes(services) -> list[tuple[str, str, list]]:
    return [
        (f"{name}:{push.recipient}", push.text, push.actions)
        for name in ("telegram", "line")
        for push in services.channels[name].pushed
    ]


def test_rounds_are_rate_limited_escalate_and_stop_once_acknowledged(services, people):
    with_channels(services)
    policy = AlertPolicy(
        parse_supervisors(SUPERVISORS), repeat=timedelta(minutes=5), escalate=timedelta(minutes=15)
    )
    incident_id = open_incident(services)
    opened = services_opened_at(services, incident_id)

    def round_at(minutes: float) -> int:
        return asyncio.run(
            alerts.send_round(
                services.engine, services.channels, policy, incident_id,
                now=opened + timedelta(minutes=minutes),
            )
        )  # fmt: skip

    assert round_at(0) == 2  # tier 1: Telegram and LINE
    assert round_at(1) == 0  # within the interval: nothing, however often the timer fires
    assert round_at(4.99) == 0
    assert round_at(5) == 2
    assert round_at(15) == 3  # escalated: tier 2 joins
    first, *_ = pushes(services)  # telegram:111, no console user: the brand's language
    assert "危機事件 #" in first[1] and "嚴重度 7/10" in first[1] and "提告" in first[1]
    assert first[1].rstrip().endswith(f"/console/incidents/{incident_id}")
    assert [a.label for a in first[2]] == ["確認處理"]
    assert first[2] == [actions_ack(incident_id)]
    with Session(services.engine) as session:
        sent = session.exec(select(IncidentAlert).order_by(IncidentAlert.id)).all()
        incident = session.get(Incident, incident_id)
    assert [a.round for a in sent] == [1, 1, 2, 2, 3, 3, 3] and all(a.ok for a in sent)
    assert incident.alerts_sent == 3 and incident.alert_tier == 2

    reply = press(services, "900", incident_id)
    assert "acknowledged by boss" in reply
    assert round_at(20) == 0 and round_at(40) == 0
    assert len(pushes(services)) == 7


def services_opened_at(services, incident_id):
    with Session(services.engine) as session:
        return session.get(Incident, incident_id).opened_at


def actions_ack(incident_id: int):
    return alerts.ack_action(incident_id)


def press(services, telegram_user: str, incident_id: int) -> str:
    """What the Telegram adapter does with a button press: dispatch it, commit, show the text."""
    with session_scope(services.engine) as session:
        return actions.dispatch(
            session,
            actions.Press("telegram", telegram_user, f"ack:{incident_id}"),
            services.actions,
        )


@pytest.fixture
def people(services):
    """boss reads English (the tests read his answers), mei the brand's language."""
    with session_scope(services.engine) as session:
        session.add(User(username="boss", password_hash=hash_password("x" * 12),
                         role="supervisor", telegram_user_id="900", locale="en"))  # fmt: skip
        session.add(User(username="mei", password_hash=hash_password("x" * 12), role="agent",
                         telegram_user_id="901"))  # fmt: skip


def test_only_a_linked_supervisor_can_acknowledge_from_a_chat(services, people):
    incident_id = open_incident(services)
    # refusals are told in the presser's language: an unlinked id and mei read the brand's
    assert "只有綁定控制台帳號的主管" in press(services, "12345", incident_id)
    assert "這需要主管權限" in press(services, "901", incident_id)
    with session_scope(services.engine) as session:
        stale = actions.dispatch(
            session, actions.Press("telegram", "900", "ack:abc"), services.actions
        )
    assert "no longer valid" in stale
    with Session(services.engine) as session:
        assert session.get(Incident, incident_id).status == "open"
    assert "acknowledged by boss" in press(services, "900", incident_id)
    assert "already acknowledged" in press(services, "900", incident_id)


def test_each_supervisor_reads_the_alert_and_the_answer_in_their_own_language(services, people):
    """A supervisor linked to a console user reads their own setting; any other chat (a
    group, an unlinked id) the brand's language; times are the brand zone's, named."""
    with_channels(services)
    with session_scope(services.engine) as session:
        session.add(User(username="kim", password_hash=hash_password("x" * 12),
                         role="supervisor", telegram_user_id="111", locale="en"))  # fmt: skip
        session.add(User(username="lin", password_hash=hash_password("x" * 12),
                         role="supervisor", telegram_user_id="902"))  # fmt: skip
    incident_id = open_incident(services)
    policy = AlertPolicy(parse_supervisors(SUPERVISORS))
    assert asyncio.run(alerts.send_round(services.engine, services.channels, policy,
                                         incident_id)) == 2  # fmt: skip
    texts = {recipient: (text, buttons) for recipient, text, buttons in pushes(services)}
    english, english_buttons = texts["telegram:111"]
    chinese, chinese_buttons = texts["line:Uaaa"]
    assert english.startswith("🚨 Possible crisis · incident #")
    assert "Taiwan Time (UTC+8)" in english and "UTC+00" not in english
    assert [b.label for b in english_buttons] == ["Acknowledge"]
    assert chinese.startswith("🚨 可能的危機 · 危機事件 #") and "台北時間（UTC+8）" in chinese
    assert english_buttons[0].data == chinese_buttons[0].data
    assert "已由 lin 確認處理" in press(services, "902", incident_id)


# ---- the timers, for real: short intervals, a restart, an acknowledgement from Telegram ---


async def wait_for(predicate, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)


def test_repeats_and_escalation_survive_a_restart_and_a_telegram_ack_stops_them(
    settings, classifier, people
):
    settings.crisis.supervisors = SUPERVISORS
    settings.crisis.repeat_minutes = 1 / 60  # every second
    settings.crisis.escalate_minutes = 2.5 / 60  # tier 2 after two and a half seconds
    settings.calendar.scheduler_retry_seconds = 0.2
    first = with_channels(Services.build(settings, classifier=lambda: classifier))

    async def before_restart() -> int:
        await start_scheduler(first)
        await wait_for(lambda: first.scheduler.is_leader)
        incident_id = await asyncio.to_thread(open_incident, first)
        await wait_for(lambda: len(pushes(first)) >= 2)  # the first round, within seconds
        assert first.scheduler.get_job(alerts.job_id(incident_id)) is not None
        await stop_scheduler(first)
        return incident_id

    incident_id = asyncio.run(before_restart())
    assert {to for to, _, _ in pushes(first)} == {"telegram:111", "line:Uaaa"}

    restarted = with_channels(Services.build(settings, classifier=lambda: classifier))

    async def after_restart() -> None:
        await start_scheduler(restarted)  # a new scheduler on the same database
        assert restarted.scheduler.get_job(alerts.job_id(incident_id)) is not None
        await wait_for(lambda: "telegram:-100222" in {to for to, _, _ in pushes(restarted)})
        reply = await asyncio.to_thread(press, restarted, "900", incident_id)
        assert "Alerts stopped" in reply
        await wait_for(lambda: restarted.scheduler.get_job(alerts.job_id(incident_id)) is None)
        settled = len(pushes(restarted))
        await asyncio.sleep(2.5)  # more than two intervals: nothing more goes out
        assert len(pushes(restarted)) == settled
        await stop_scheduler(restarted)

    asyncio.run(after_restart())
    with Session(restarted.engine) as session:
        rounds = session.exec(select(IncidentAlert.round, IncidentAlert.at)).all()
        incident = session.get(Incident, incident_id)
    assert incident.status == "acknowledged" and incident.acknowledged_by == "boss"
    numbers = sorted({r for r, _ in rounds})
    assert numbers == list(range(1, len(numbers) + 1)) and len(numbers) >= 3
    # never more than one round per interval (give or take the scheduler's jitter)
    starts = sorted({at for _, at in rounds})
    assert all(b - a >= timedelta(seconds=0.9) for a, b in zip(starts, starts[1:], strict=False))
    restarted.engine.dispose()
    first.engine.dispose()


def test_a_process_that_runs_no_jobs_alerts_what_it_opens_and_the_leader_repeats_it(
    settings, classifier, people
):
    """serve's pipeline child: it opens the job table without leading, sends the first round
    of an incident it opens itself and leaves the timer to the leader, elsewhere."""
    settings.crisis.supervisors = SUPERVISORS
    settings.crisis.repeat_minutes = 1 / 60  # every second
    settings.crisis.escalate_minutes = 10
    settings.calendar.scheduler_retry_seconds = 0.2
    leader = with_channels(Services.build(settings, classifier=lambda: classifier))
    child = with_channels(Services.build(settings, classifier=lambda: classifier))

    async def run() -> int:
        await start_scheduler(leader)
        await wait_for(lambda: leader.scheduler.is_leader)
        assert await open_job_table(child)
        assert child.crisis.scheduler is child.scheduler and not child.scheduler.is_leader
        incident_id = await asyncio.to_thread(open_incident, child)
        assert await child.crisis.send_opened() == 2  # at once, from the process that opened it
        assert leader.scheduler.get_job(alerts.job_id(incident_id)) is not None  # shared table
        await wait_for(lambda: len(pushes(leader)) >= 4)  # two repeats, from the leader
        reply = await asyncio.to_thread(press, child, "900", incident_id)
        assert "Alerts stopped" in reply
        await wait_for(lambda: leader.scheduler.get_job(alerts.job_id(incident_id)) is None)
        settled = len(pushes(leader))
        await asyncio.sleep(2.5)
        assert len(pushes(leader)) == settled
        await stop_scheduler(child)
        await stop_scheduler(leader)
        return incident_id

    incident_id = asyncio.run(run())
    assert {to for to, _, _ in pushes(child)} == {"telegram:111", "line:Uaaa"}
    with Session(leader.engine) as session:
        rounds = session.exec(
            select(IncidentAlert.round).where(IncidentAlert.incident_id == incident_id)
        ).all()
    assert sorted(rounds).count(1) == 2  # the leader's timer found the first round taken
    assert max(rounds) >= 3
    leader.engine.dispose()
    child.engine.dispose()
