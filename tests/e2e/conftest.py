"""The deployments journeys run against, one per layout, shared by every journey of the session
(starting processes and loading the model is the expensive part):

- sqlite: one `replyline serve`, as `make run` starts it (the pipeline in a child process);
- postgresql: the compose layout, two `serve` and one `replyline worker` on one database.

Both use the real bundled model (its encoder is loaded by the crisis monitor and the FAQ
whatever classifies, so a scripted classifier would save little) and settings a user could set
too, made short for tests: alerts repeat every 3 s, the scheduler looks at its table every
second."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from tests.e2e.harness import Deployment, Person
from tests.fakes import line_webhooks as lw
from tests.fakes.line_api import FakeLine
from tests.fakes.telegram_api import FakeTelegram
from tests.support import ROOT, fresh_postgres_database, migrated_sqlite, postgres_available

STAFF_CHAT = -1009999  # where drafts are reviewed with buttons
SUPERVISORS_CHAT = -100888  # a Telegram group of supervisors
SUPERVISOR_LINE = lw.user_id(880)
SUPERVISOR_EN = 557  # a supervisor alerted in a private chat, who reads English
REPORT_TELEGRAM = 7070
REPORT_LINE = lw.user_id(707)
CHANNEL = "@brandnews"  # a Telegram channel posts go to
CHANNEL_ID = -1007777

PEOPLE = (
    Person("ana", "admin"),  # works the console
    Person("mei", "supervisor", telegram_id=555, locale="en"),  # reviews in the staff chat
    Person("boss", "supervisor", telegram_id=556, line_id=lw.user_id(556)),  # acknowledges
    Person("lee", "admin"),  # loses the role, then the account (tests/e2e/test_roles.py)
    Person("kim", "supervisor", telegram_id=SUPERVISOR_EN, locale="en"),  # alerted in English
)


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def deployment(request) -> Iterator[Deployment]:
    layout = request.param
    if layout == "postgresql" and (reason := postgres_available()):
        pytest.skip(reason)
    workdir = Path(tempfile.mkdtemp(prefix=f"replyline-e2e-{layout}-"))
    with ExitStack() as stack:
        stack.callback(shutil.rmtree, workdir, ignore_errors=True)
        if layout == "sqlite":
            database_url = migrated_sqlite(workdir / "replyline.db")
        else:
            database_url = stack.enter_context(fresh_postgres_database(migrated=True))
        telegram = FakeTelegram()
        telegram.channels[CHANNEL] = CHANNEL_ID
        telegram.start()
        stack.callback(telegram.stop)
        line = FakeLine().start()
        stack.callback(line.stop)
        playbooks = workdir / "playbooks"
        shutil.copytree(ROOT / "playbooks" / "default", playbooks)
        deployment = Deployment(
            database_url,
            workdir,
            telegram,
            line,
            [Person(p.username, p.role, p.telegram_id, p.line_id, p.locale) for p in PEOPLE],
            playbook_dir=str(playbooks),
            telegram_staff_chat_id=str(STAFF_CHAT),
            telegram_chat_interval_seconds="0.05",
            supervisors=f"1:telegram:{SUPERVISORS_CHAT},1:line:{SUPERVISOR_LINE},"
            f"1:telegram:{SUPERVISOR_EN}",
            crisis_repeat_minutes="0.05",
            crisis_escalate_minutes="30",
            report_recipients=f"telegram:{REPORT_TELEGRAM},line:{REPORT_LINE}",
            scheduler_retry_seconds="1",
        )
        deployment.layout = layout
        stack.callback(deployment.stop)  # also when starting fails half-way
        if layout == "sqlite":
            deployment.start(serves=("serve",))
        else:
            deployment.start(serves=("serve-a", "serve-b"), workers=("worker",))
        yield deployment
        # every journey is behind us: whatever the processes logged, no secret is in it
        assert deployment.logged_secrets() == [], "a process logged a secret"
