"""Calendar rules: who may add, approve and cancel posts, and what a post may say and when."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import Session, select

from bot.calendar.posts import (
    approve_post,
    calendar,
    cancel_post,
    create_post,
    cron_trigger,
    parse_target,
    upcoming,
)
from bot.errors import DomainError
from bot.web.errors import http_status
from db.engine import session_scope
from db.models import AuditLog, Post, PostRun, User

TAIPEI = ZoneInfo("Asia/Taipei")
GRACE = timedelta(minutes=30)
NOW = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)  # Friday 10:00 in Taipei


def plan(session, user, **kw) -> Post:
    values = dict(
        text="本週新品上市！",
        target="telegram:@brandchannel",
        when=NOW + timedelta(days=1),
        stage_goal="identification",
        now=NOW,
    )
    return create_post(session, user, **(values | kw))


def test_a_post_is_planned_and_goes_out_only_after_a_supervisor_approves(engine, staff):
    agent, boss = staff
    with session_scope(engine) as session:
        post = plan(session, agent)
        assert post.status == "planned" and post.channel == "telegram"
        assert post.target == "@brandchannel"
    with pytest.raises(DomainError) as refused, session_scope(engine) as session:
        approve_post(session, post.id, agent, grace=GRACE, now=NOW)
    assert http_status(refused.value) == 403
    with session_scope(engine) as session:
        approved = approve_post(session, post.id, boss, grace=GRACE, now=NOW)
        assert approved.status == "approved" and approved.approved_by_id == boss.id
    with pytest.raises(DomainError) as again, session_scope(engine) as session:
        approve_post(session, post.id, boss, grace=GRACE, now=NOW)
    assert http_status(again.value) == 409
    with Session(engine) as session:
        actions = [(a.username, a.action) for a in session.exec(select(AuditLog))]
    assert actions == [("mei", "post_add"), ("boss", "post_approve")]


@pytest.mark.parametrize(
    "change, message",
    [
        ({"target": "twitter:@brand"}, "is not one of"),
        ({"target": "line:everyone"}, "is not one of"),
        ({"text": "   "}, "needs text"),
        ({"text": "字" * 4001}, "at most 4000"),
        ({"stage_goal": "loyalty"}, "stage goal"),
        ({"when": NOW - timedelta(minutes=1)}, "has passed"),
        ({"cron": "*/30 * * * *"}, "at most once an hour"),
        ({"cron": "0 10 * *"}, "five fields"),
        ({"cron": "0 25 * * *"}, "repeat rule"),
    ],
)
def test_bad_posts_are_refused_with_the_reason(engine, staff, change, message):
    with pytest.raises(DomainError, match=message), session_scope(engine) as session:
        plan(session, staff[0], **change)


def test_targets_name_a_telegram_chat_or_a_line_audience():
    assert parse_target("telegram:-1001234567890") == ("telegram", "-1001234567890")
    assert parse_target("line:broadcast") == ("line", "broadcast")
    assert parse_target("line:audience:4389") == ("line", "audience:4389")


def test_repeat_rules_use_crontab_weekdays_in_the_calendars_time_zone():
    # crontab: 1 = Monday, 0 and 7 = Sunday (APScheduler itself counts 0 = Monday)
    mondays = upcoming(cron_trigger("0 10 * * 1", "Asia/Taipei"), NOW, 2)
    assert [t.astimezone(TAIPEI).strftime("%a %H:%M") for t in mondays] == ["Mon 10:00"] * 2
    weekend = upcoming(cron_trigger("30 9 * * 6,0", "Asia/Taipei"), NOW, 3)
    assert [t.astimezone(TAIPEI).strftime("%a %d %H:%M") for t in weekend] == [
        "Sat 21 09:30",
        "Sun 22 09:30",
        "Sat 28 09:30",
    ]
    workdays = upcoming(cron_trigger("0 12 * * 1-5", "Asia/Taipei"), NOW, 5)
    assert [t.astimezone(TAIPEI).strftime("%a") for t in workdays] == [
        "Fri", "Mon", "Tue", "Wed", "Thu",
    ]  # fmt: skip


def test_whoever_planned_a_post_may_cancel_it_and_supervisors_any_open_post(engine, staff):
    agent, boss = staff
    other = User(username="jun", password_hash="x", role="agent")
    with session_scope(engine) as session:
        session.add(other)
        mine, theirs = plan(session, agent), plan(session, boss)
    with pytest.raises(DomainError) as refused, session_scope(engine) as session:
        cancel_post(session, mine.id, other)
    assert http_status(refused.value) == 403
    with session_scope(engine) as session:
        assert cancel_post(session, mine.id, agent, reason="typo").status == "cancelled"
    with session_scope(engine) as session:
        approve_post(session, theirs.id, boss, grace=GRACE, now=NOW)
    with pytest.raises(DomainError), session_scope(engine) as session:
        cancel_post(session, theirs.id, agent)  # approved: only a supervisor can stop it
    with session_scope(engine) as session:
        assert cancel_post(session, theirs.id, boss).status == "cancelled"
    with pytest.raises(DomainError) as twice, session_scope(engine) as session:
        cancel_post(session, theirs.id, boss)
    assert http_status(twice.value) == 409


def test_a_one_off_post_whose_time_passed_cannot_be_approved(engine, staff):
    agent, boss = staff
    with session_scope(engine) as session:
        post = plan(session, agent, when=NOW + timedelta(minutes=5))
    later = NOW + timedelta(minutes=5) + GRACE + timedelta(seconds=1)
    with pytest.raises(DomainError, match="has passed"), session_scope(engine) as session:
        approve_post(session, post.id, boss, grace=GRACE, now=later)


def test_the_calendar_shows_one_off_posts_past_runs_and_upcoming_repeats(engine, staff):
    agent, boss = staff
    week = datetime(2026, 11, 23, tzinfo=TAIPEI)  # Monday
    with session_scope(engine) as session:
        once = plan(session, agent, when=week + timedelta(days=2, hours=9))
        weekly = plan(
            session,
            agent,
            when=week - timedelta(days=7),
            cron="0 10 * * mon,thu",
            stage_goal="relationship",
        )
        approve_post(session, weekly.id, boss, grace=GRACE, now=NOW)
        session.add(
            PostRun(
                post_id=weekly.id,
                scheduled_for=week + timedelta(hours=10),
                status="failed",
                error="chat not found",
            )
        )
    with Session(engine) as session:
        items = calendar(session, week, week + timedelta(days=7), now=week + timedelta(hours=12))
    shown = [
        (i.post.id, i.at.astimezone(TAIPEI).strftime("%a %H:%M"), i.status, i.post.stage_goal)
        for i in items
    ]
    assert shown == [
        (weekly.id, "Mon 10:00", "failed", "relationship"),
        (once.id, "Wed 09:00", "planned", "identification"),
        (weekly.id, "Thu 10:00", "approved", "relationship"),
    ]
