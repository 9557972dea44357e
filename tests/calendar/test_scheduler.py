"""The scheduler: jobs live in replyline's database and exactly one process runs them."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger

from bot.scheduler import Scheduler, job_table
from tests.calendar import jobs
from tests.support import fresh_postgres_database, postgres_available

ROOT = Path(__file__).resolve().parents[2]
RECORD = "tests.calendar.jobs:record"


def lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


async def wait_for(predicate, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)


def test_a_job_added_by_any_process_is_run_once_by_the_leader(database_url, tmp_path):
    out = tmp_path / "runs.txt"

    async def scenario():
        first = Scheduler(database_url, context="first", retry_seconds=0.2)
        second = Scheduler(database_url, context="second", retry_seconds=0.2)
        await first.start()
        await wait_for(lambda: first.is_leader)
        await second.start()
        await asyncio.sleep(0.5)
        assert first.is_leader and not second.is_leader
        # the follower writes the job; the leader picks it up on its next look
        second.add_job(
            RECORD,
            DateTrigger(datetime.now(UTC)),
            id="once",
            args=[str(out)],
            misfire_grace_time=60,
        )
        await wait_for(lambda: lines(out))
        await asyncio.sleep(0.5)
        assert first.get_job("once") is None  # a one-off job is gone once it ran
        await second.stop()
        await first.stop()

    asyncio.run(scenario())
    assert lines(out) == [f"{os.getpid()} first"]


def test_jobs_survive_a_restart(database_url, tmp_path):
    out = tmp_path / "runs.txt"
    when = datetime.now(UTC) + timedelta(seconds=1)

    async def before_restart():
        async with job_table(database_url) as table:
            table.add_job(
                RECORD, DateTrigger(when), id="later", args=[str(out)], misfire_grace_time=60
            )

    async def after_restart():
        scheduler = Scheduler(database_url, context="restarted", retry_seconds=0.2)
        await scheduler.start()
        assert scheduler.get_job("later") is not None
        await wait_for(lambda: lines(out))
        await scheduler.stop()

    asyncio.run(before_restart())
    asyncio.run(after_restart())
    assert lines(out) == [f"{os.getpid()} restarted"]


def test_a_job_late_beyond_its_grace_is_reported_missed_not_run(sqlite_url, tmp_path):
    out = tmp_path / "runs.txt"
    jobs.MISSED.clear()
    an_hour_ago = datetime.now(UTC) - timedelta(hours=1)

    async def scenario():
        async with job_table(sqlite_url) as table:  # added while no process was running jobs
            for job_id, grace in (("test-missed:late", 600), ("test-missed:in-grace", 7200)):
                table.add_job(
                    RECORD,
                    DateTrigger(an_hour_ago),
                    id=job_id,
                    args=[str(out)],
                    misfire_grace_time=grace,
                )
        scheduler = Scheduler(sqlite_url, context="recovered", retry_seconds=0.2)
        await scheduler.start()
        await wait_for(lambda: jobs.MISSED and lines(out))
        await scheduler.stop()

    asyncio.run(scenario())
    assert lines(out) == [f"{os.getpid()} recovered"]  # the one still within its grace ran
    assert [job_id for job_id, _ in jobs.MISSED] == ["test-missed:late"]
    assert abs(jobs.MISSED[0][1] - an_hour_ago) < timedelta(seconds=1)


@pytest.fixture
def postgres_url():
    reason = postgres_available()
    if reason:
        pytest.skip(reason)

    with fresh_postgres_database(migrated=True) as url:
        yield url


def test_on_postgresql_a_follower_takes_over_when_the_leader_dies(postgres_url, tmp_path):
    out = tmp_path / "runs.txt"

    async def scenario():
        first = Scheduler(postgres_url, context="first", retry_seconds=0.3)
        second = Scheduler(postgres_url, context="second", retry_seconds=0.3)
        await first.start()
        await wait_for(lambda: first.is_leader)
        await second.start()
        first.add_job(
            RECORD, IntervalTrigger(seconds=0.2), id="tick", args=[str(out)], misfire_grace_time=5
        )
        await wait_for(lambda: len(lines(out)) >= 3)
        assert not second.is_leader
        # the leader "dies": its session ends without unlocking and it stops running jobs
        first._task.cancel()
        first.aps.pause()
        first.leadership._drop()
        died = len(lines(out))
        await wait_for(lambda: second.is_leader, timeout=5)
        await wait_for(lambda: len(lines(out)) >= died + 3)
        await second.stop()
        first.is_leader = False
        await first.stop()

    asyncio.run(scenario())
    runs = [line.split()[1] for line in lines(out)]
    took_over = runs.index("second")
    assert set(runs[:took_over]) == {"first"} and set(runs[took_over:]) == {"second"}


def test_two_worker_processes_on_postgresql_run_each_job_once(postgres_url, tmp_path):
    """The real thing: two `replyline worker` processes share a database; one runs the job;
    when it is killed the other takes over within seconds."""
    out = tmp_path / "runs.txt"
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "REPLYLINE_DATABASE_URL": postgres_url,
        "REPLYLINE_SCHEDULER_RETRY_SECONDS": "0.5",
    }
    workers = [
        subprocess.Popen(
            [sys.executable, "-m", "bot", "worker"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(2)
    ]
    try:

        async def add():
            async with job_table(postgres_url) as table:
                table.add_job(
                    RECORD,
                    IntervalTrigger(seconds=0.3),
                    id="tick",
                    args=[str(out)],
                    misfire_grace_time=5,
                )

        asyncio.run(add())
        deadline = time.monotonic() + 30
        while len(lines(out)) < 5 and time.monotonic() < deadline:
            time.sleep(0.1)
        pids = {line.split()[0] for line in lines(out)}
        assert len(pids) == 1, f"more than one process ran the job: {pids}"
        leader = int(pids.pop())
        assert leader in {w.pid for w in workers}
        os.kill(leader, signal.SIGKILL)
        killed = time.monotonic()
        killed_at = len(lines(out))
        while len(lines(out)) < killed_at + 3 and time.monotonic() < killed + 30:
            time.sleep(0.1)
        took_over_in = time.monotonic() - killed
        after_pids = {line.split()[0] for line in lines(out)[killed_at:]}
        assert after_pids and str(leader) not in after_pids and len(after_pids) == 1
        assert took_over_in < 15, f"took {took_over_in:.1f}s to take over"
    finally:
        for w in workers:
            if w.poll() is None:
                w.send_signal(signal.SIGTERM)
        for w in workers:
            try:
                w.wait(timeout=10)
            except subprocess.TimeoutExpired:
                w.kill()
