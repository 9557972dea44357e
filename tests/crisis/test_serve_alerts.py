"""Crisis alerts in the layout users run: `replyline serve`, whose pipeline (and so crisis
detection) runs in a child process that leads no scheduler. The child sends the first round
itself and leaves the repeats to a timer in the shared job table; a supervisor's Acknowledge
on Telegram, handled by the web process, ends the timer there."""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlmodel import select

from bot.crisis.alerts import job_id
from db.models import Incident, IncidentAlert
from db.models.scheduler import JOBS_TABLE
from tests.e2e.harness import Deployment, Person
from tests.fakes import line_webhooks as lw
from tests.fakes.line_api import FakeLine
from tests.fakes.telegram_api import FakeTelegram
from tests.support import migrated_sqlite

SUPERVISORS_CHAT = -100888
SUPERVISOR_LINE = lw.user_id(880)
BOSS = Person("boss", "supervisor", telegram_id=556)
REPEAT_SECONDS = 3


@pytest.fixture
def deployment():
    workdir = Path(tempfile.mkdtemp(prefix="replyline-alerts-"))
    telegram, line = FakeTelegram().start(), FakeLine().start()
    deployment = Deployment(
        migrated_sqlite(workdir / "replyline.db"),
        workdir,
        telegram,
        line,
        [BOSS],
        classifier="tests.support:ScriptedClassifier",
        supervisors=f"1:telegram:{SUPERVISORS_CHAT},1:line:{SUPERVISOR_LINE}",
        crisis_repeat_minutes=str(REPEAT_SECONDS / 60),
        crisis_escalate_minutes="30",
        scheduler_retry_seconds="1",
    )
    try:
        yield deployment
    finally:
        deployment.stop()
        telegram.stop()
        line.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def alerts_on_telegram(d: Deployment) -> list[dict]:
    return [m for m in d.telegram.messages if m["chat_id"] == str(SUPERVISORS_CHAT)]


def alerts_on_line(d: Deployment) -> list[str]:
    return [x["text"] for x in d.line.delivered if x["to"] == SUPERVISOR_LINE and x["text"]]


def timer_stored(d: Deployment, incident_id: int) -> bool:
    query = text(f"SELECT 1 FROM {JOBS_TABLE} WHERE id = :id")  # noqa: S608 (a constant)
    return d.query(lambda s: s.connection().execute(query, {"id": job_id(incident_id)}).first())


@pytest.mark.timeout(300)
def test_serve_alerts_every_supervisor_once_repeats_and_stops_on_a_telegram_acknowledge(
    deployment,
):
    d = deployment
    d.start()
    serve = d.web[0]
    d.line_says("complaint: 你們再不退款，我就提告，也會找記者", lw.user_id(1))
    first_tg = d.wait_until(lambda: alerts_on_telegram(d), "the alert on Telegram", 90)[0]
    d.wait_until(lambda: alerts_on_line(d), "the alert on LINE", 30)
    assert "Possible crisis" in first_tg["text"] and "提告" in first_tg["text"]
    assert "Possible crisis" in alerts_on_line(d)[0]
    assert "no job table" not in (d.workdir / "serve.log").read_text()
    incident_id = d.query(lambda s: s.exec(select(Incident.id)).one())
    assert timer_stored(d, incident_id), "the child did not store the repeat timer"

    # the web process leads the scheduler and repeats the round the child sent
    d.wait_until(lambda: len(alerts_on_telegram(d)) >= 2, "a repeat on Telegram", 30)
    d.wait_until(lambda: len(alerts_on_line(d)) >= 2, "a repeat on LINE", 30)
    assert "Reminder 1" in alerts_on_telegram(d)[1]["text"]
    rounds = d.query(lambda s: s.exec(select(IncidentAlert.round, IncidentAlert.recipient)).all())
    first_round = sorted(r for n, r in rounds if n == 1)
    assert first_round == [f"line:{SUPERVISOR_LINE}", f"telegram:{SUPERVISORS_CHAT}"]

    d.press(first_tg, "Acknowledge 確認處理", BOSS, serve)
    d.wait_until(
        lambda: d.query(lambda s: s.get(Incident, incident_id).status) == "acknowledged",
        "the incident to be acknowledged",
    )
    d.wait_until(lambda: not timer_stored(d, incident_id), "the timer to be removed", 10)
    time.sleep(1)  # a round already on its way may still arrive
    settled = len(alerts_on_telegram(d)), len(alerts_on_line(d))
    time.sleep(2 * REPEAT_SECONDS)
    assert (len(alerts_on_telegram(d)), len(alerts_on_line(d))) == settled
