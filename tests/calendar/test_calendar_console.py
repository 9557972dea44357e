"""The content calendar in the console and from the shell, as staff use it."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from bot.cli import main as replyline
from bot.config import get_settings
from bot.web.app import create_app
from bot.web.security import hash_password
from db.engine import make_engine, session_scope
from db.models import AuditLog, Post, User

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.fixture
def app(services, settings, tmp_path):
    settings.pipeline.worker_enabled = False
    settings.calendar.media_dir = tmp_path / "media"
    with session_scope(services.engine) as session:
        session.add(User(username="mei", password_hash=hash_password("agent pw 1"), role="agent"))
        session.add(
            User(username="boss", password_hash=hash_password("super pw 1"), role="supervisor")
        )
        session.add(User(username="root", password_hash=hash_password("admin pw 1"), role="admin"))
    return create_app(settings, services)


def login(app, username, password):
    client = TestClient(app)
    client.__enter__()
    response = client.post(
        "/console/login", data={"username": username, "password": password}, follow_redirects=False
    )
    assert response.status_code == 303
    return client


@pytest.fixture
def agent(app):
    client = login(app, "mei", "agent pw 1")
    yield client
    client.__exit__(None, None, None)


@pytest.fixture
def boss(app):
    client = login(app, "boss", "super pw 1")
    yield client
    client.__exit__(None, None, None)


def csrf(client) -> str:
    page = client.get("/console/calendar").text
    return re.search(r'name="csrf" value="([^"]+)"', page).group(1)


def tomorrow() -> str:
    return (date.today() + timedelta(days=2)).isoformat()


def add(client, **form):
    data = {
        "csrf": csrf(client),
        "text": "<b>週末市集</b> 見！",
        "target": "telegram:@brandchannel",
        "day": tomorrow(),
        "at": "10:00",
        "stage_goal": "relationship",
    } | form
    return client.post("/console/posts", data=data, follow_redirects=False)


def only_post(services) -> Post:
    with Session(services.engine) as session:
        return session.exec(select(Post)).one()


def test_staff_plan_a_post_a_supervisor_approves_it_and_its_job_is_stored(services, agent, boss):
    response = add(agent)
    assert response.status_code == 303
    post = only_post(services)
    week = agent.get(response.headers["location"]).text
    assert "&lt;b&gt;週末市集&lt;/b&gt;" in week and "<b>週末市集</b>" not in week  # escaped
    assert "relationship" in week and "planned" in week
    assert f"/console/posts/{post.id}/approve" not in week  # agents do not see Approve
    # what was done is said beside the post, which is shown open (in the reader's language)
    assert response.headers["location"].endswith(f"&post={post.id}&done=added#post-{post.id}")
    assert f'id="post-{post.id}" open>' in week
    assert '<p class="done" role="status">Added. A supervisor approves it' in week
    chinese = agent.get(response.headers["location"], headers={"Accept-Language": "zh-TW"}).text
    assert '<p class="done" role="status">已加入行事曆，發布前需經主管核准。</p>' in chinese
    assert 'class="done"' not in agent.get(f"/console/calendar?day={tomorrow()}").text

    denied = agent.post(f"/console/posts/{post.id}/approve", data={"csrf": csrf(agent)})
    assert denied.status_code == 403
    forged = boss.post(f"/console/posts/{post.id}/approve", data={"csrf": "forged"})
    assert forged.status_code == 403
    approved = boss.post(
        f"/console/posts/{post.id}/approve", data={"csrf": csrf(boss)}, follow_redirects=False
    )
    assert approved.status_code == 303
    assert only_post(services).status == "approved"
    assert "Approved: it goes out at its time." in boss.get(approved.headers["location"]).text
    assert services.scheduler.get_job(f"post:{post.id}") is not None

    month = boss.get(f"/console/calendar?view=month&day={tomorrow()}").text
    assert "approved" in month and "週末市集" in month
    cancelled = boss.post(
        f"/console/posts/{post.id}/cancel",
        data={"csrf": csrf(boss), "reason": "改期"},
        follow_redirects=False,
    )
    assert cancelled.status_code == 303 and only_post(services).status == "cancelled"
    assert services.scheduler.get_job(f"post:{post.id}") is None


def test_the_calendar_speaks_the_readers_language_with_brand_zone_times(app, agent):
    """A Chinese browser reads the calendar in Traditional Chinese, an English one in English;
    a post planned for 10:00 Taipei time shows at 10:00 with when it goes out (after a ·, as on
    the other pages: no half-width brackets in Chinese), never as UTC."""
    day = date.today() + timedelta(days=2)
    assert add(agent, every="week", at="10:00").status_code == 303
    chinese = agent.get(
        f"/console/calendar?day={day}", headers={"Accept-Language": "zh-TW,zh;q=0.9"}
    ).text
    for words in ("內容行事曆", "上一週", "週一", "待核准", "熟客", "安排貼文"):
        assert words in chinese, words
    assert f"{day.month}月{day.day}日" in chinese and re.search(r"</time> · \d+ 天後 ·", chinese)
    assert '<option value="week" selected' not in chinese and "每週的…" in chinese
    assert "Content calendar" not in chinese and "Times in" not in chinese
    english = agent.get(f"/console/calendar?view=month&day={day}").text
    for words in ("Content calendar", "Previous month", "Mon", "needs approval", "Regular"):
        assert words in english, words
    assert "內容行事曆" not in english and re.search(r"</time> · in \d days? ·", english)
    for page in (chinese, english):
        assert ">10:00</time>" in page and "+00:00</" not in page
        assert not re.search(r"\bUTC\b(?![+-]\d)", page)  # the zone is named as UTC+8 only


def test_a_bad_post_is_shown_again_with_the_reason_and_nothing_is_stored(services, agent):
    response = add(agent, target="line:everyone", text="保留我輸入的字")
    assert response.status_code == 422
    assert "is not one of" in response.text and "保留我輸入的字" in response.text
    with Session(services.engine) as session:
        assert session.exec(select(Post)).first() is None
    assert add(agent, day="someday").status_code == 422
    assert agent.get("/console/calendar?view=year").status_code == 422
    assert agent.get("/console/calendar?day=2026-13-01").status_code == 422
    missing = agent.post("/console/posts/999/cancel", data={"csrf": csrf(agent)})
    assert missing.status_code == 404


def test_staff_pick_a_repeat_in_words_and_the_calendar_says_it_back(services, agent):
    form = agent.get("/console/calendar").text
    assert 'name="every"' in form and "Every weekday (Monday to Friday)" in form
    assert 'name="repeat"' not in form  # the cron field is for admins
    response = add(agent, every="weekday", at="09:30")
    assert response.status_code == 303
    assert only_post(services).cron == "30 9 * * mon-fri"
    week = agent.get(response.headers["location"]).text
    assert "repeats every weekday (Monday to Friday) at 09:30" in week
    assert "30 9 * * mon-fri" not in week

    # a weekly or monthly repeat takes its day from the first post unless one is chosen
    first = date(date.today().year + 1, 3, 12)
    day_name = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")[first.weekday()]
    for form in (
        {"every": "week"},
        {"every": "week", "every_weekday": "0"},
        {"every": "month"},
        {"every": "month", "every_day": "15"},
    ):
        assert add(agent, day=first.isoformat(), **form).status_code == 303
    with Session(services.engine) as session:
        crons = [p.cron for p in session.exec(select(Post).order_by(Post.id))][1:]
    assert crons == [f"0 10 * * {day_name}", "0 10 * * mon", "0 10 12 * *", "0 10 15 * *"]

    # a refused form comes back with the choice kept and said in words
    response = add(agent, every="month", every_day="31")
    assert response.status_code == 422 and "from 1 to 28" in response.text
    kept = add(agent, every="week", every_weekday="2", target="line:everyone")
    assert kept.status_code == 422
    assert 'Chosen: <strong class="repeat">every Wednesday at 10:00</strong>' in kept.text
    assert '<option value="week" selected>' in kept.text
    assert '<option value="2" selected>' in kept.text


def test_only_admins_may_type_a_cron_rule(services, app, agent, boss):
    refused = add(agent, repeat="0 10 * * mon")
    assert refused.status_code == 403
    assert "only an admin can type a repeat as a cron rule" in refused.text
    assert add(boss, repeat="0 10 * * mon").status_code == 403
    with Session(services.engine) as session:
        assert session.exec(select(Post)).first() is None
    root = login(app, "root", "admin pw 1")
    try:
        assert 'name="repeat"' in root.get("/console/calendar").text
        response = add(root, repeat="15 8 * * 1,3")
        assert response.status_code == 303
        week = root.get(response.headers["location"]).text
        assert "repeats on the custom schedule “15 8 * * 1,3” (cron)" in week
        both = add(root, repeat="0 9 * * *", every="day")
        assert both.status_code == 422 and "not both" in both.text
    finally:
        root.__exit__(None, None, None)


def test_an_uploaded_image_is_served_publicly_for_the_platforms(services, app, agent):
    response = agent.post(
        "/console/posts",
        data={
            "csrf": csrf(agent),
            "text": "新品",
            "target": "line:broadcast",
            "day": tomorrow(),
            "at": "12:00",
            "stage_goal": "identification",
        },
        files={"image": ("new.png", PNG, "image/png")},
        follow_redirects=False,
    )
    assert response.status_code == 303
    name = only_post(services).image
    assert re.fullmatch(r"[0-9a-f]{32}\.png", name)
    with TestClient(app) as anyone:  # LINE fetches it without logging in
        served = anyone.get(f"/media/{name}")
        assert served.status_code == 200 and served.content == PNG
        assert anyone.get("/media/..%2Freplyline.db").status_code == 404
    not_image = agent.post(
        "/console/posts",
        data={
            "csrf": csrf(agent),
            "text": "x",
            "target": "line:broadcast",
            "day": tomorrow(),
            "at": "12:00",
            "stage_goal": "identification",
        },
        files={"image": ("x.png", b"GIF89a....", "image/png")},
    )
    assert not_image.status_code == 422 and "only JPEG and PNG" in not_image.text


def test_a_photo_far_above_the_plain_form_limit_can_be_uploaded(services, app, agent):
    """The CSRF guard reads the form to find the token; it must not refuse an image the route
    accepts (up to bot.calendar.media.MAX_BYTES), which is far above the limit for plain forms."""
    photo = PNG + b"\x00" * (3 * 1024 * 1024)
    assert len(photo) > services.settings.web.max_body_bytes
    data = {"csrf": csrf(agent), "text": "大圖", "target": "line:broadcast", "day": tomorrow(),
            "at": "12:00", "stage_goal": "identification"}  # fmt: skip
    files = {"image": ("big.png", photo, "image/png")}
    response = agent.post("/console/posts", data=data, files=files, follow_redirects=False)
    assert response.status_code == 303, response.text
    with TestClient(app) as anyone:
        assert anyone.get(f"/media/{only_post(services).image}").content == photo


def test_the_shell_adds_lists_approves_and_cancels_posts(database_url, monkeypatch, capsys):
    monkeypatch.setenv("REPLYLINE_DATABASE_URL", database_url)
    get_settings.cache_clear()
    try:
        engine = make_engine(database_url)
        with session_scope(engine) as session:
            session.add(User(username="mei", password_hash="x", role="agent"))
            session.add(User(username="boss", password_hash="x", role="supervisor"))
        when = f"{date.today() + timedelta(days=1)} 09:00"
        add = [
            "posts",
            "add",
            "--text",
            "每週一見",
            "--target",
            "line:audience:123",
            "--at",
            when,
            "--stage",
            "collaboration",
        ]
        assert replyline([*add, "--repeat", "0 9 * * mon", "--as", "mei"]) == 2
        assert "只有管理員可以輸入 cron 重複規則" in capsys.readouterr().err  # the brand language
        assert replyline([*add, "--every", "monday", "--as", "mei"]) == 0
        assert replyline(["posts", "approve", "1", "--as", "mei"]) == 2  # not a supervisor
        assert "只有主管可以核准貼文" in capsys.readouterr().err
        assert replyline(["posts", "approve", "1", "--as", "boss"]) == 0
        assert replyline(["posts", "list", "--json"]) == 0
        out = capsys.readouterr().out
        assert '"status": "approved"' in out and '"repeat": "0 9 * * mon"' in out
        assert replyline(["posts", "list"]) == 0
        listed = capsys.readouterr().out  # the brand language (zh-Hant), the zone named once
        assert "每週一 09:00" in listed and "[已核准]" in listed and "(夥伴)" in listed
        assert listed.count("台北時間（UTC+8）") == 1
        assert replyline(["posts", "cancel", "1", "--reason", "活動取消", "--as", "boss"]) == 0
        assert (
            replyline(
                [
                    "posts",
                    "add",
                    "--text",
                    "x",
                    "--target",
                    "fb:page",
                    "--at",
                    when,
                    "--stage",
                    "relationship",
                    "--as",
                    "mei",
                ]
            )
            == 2
        )
        assert "不是以下其中之一" in capsys.readouterr().err
        with Session(engine) as session:
            actions = [a.action for a in session.exec(select(AuditLog).order_by(AuditLog.id))]
            assert session.get(Post, 1).status == "cancelled"
        assert actions == ["post_add", "post_approve", "post_cancel"]
    finally:
        get_settings.cache_clear()
