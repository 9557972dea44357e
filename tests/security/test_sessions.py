"""Console sessions live on the server (finding 1 of issue 16): a logout, a password change, a
role change or a deactivation ends them, in every process behind the database; admins can sign
a user, or everyone, out everywhere. The first-start admin sets a password first (finding 6)."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlmodel import Session, select

from bot.cli.serve import _print_welcome
from bot.web.security import SESSION_COOKIE
from db.models import AuditLog, User
from tests.security.conftest import PASSWORD, csrf_of, logged_in, login, opens_console


def copy_of(client: TestClient, app) -> TestClient:
    """Another browser (or an attacker) holding the same cookie, possibly on another process."""
    other = TestClient(app)
    other.cookies.set(SESSION_COOKIE, client.cookies.get(SESSION_COOKIE))
    return other


def test_after_logout_the_same_cookie_opens_nothing_and_posts_nothing(app, make_app):
    mei = logged_in(app, "mei")
    stolen = copy_of(mei, make_app())  # kept by an attacker, used on another process
    token = csrf_of(mei)
    assert opens_console(stolen)
    mei.post("/console/logout", data={"csrf": token}, follow_redirects=False)
    assert not opens_console(stolen)
    note = stolen.post("/console/messages/1/dismiss", data={"csrf": token}, follow_redirects=False)
    assert note.status_code == 303 and note.headers["location"] == "/console/login"


def user_id(services, name: str) -> int:
    with Session(services.engine) as session:
        return session.exec(select(User.id).where(User.username == name)).one()


def test_a_password_reset_role_change_or_deactivation_ends_the_users_sessions(app, services):
    admin = logged_in(app, "ada")
    for change in ({"password": "a brand new one"}, {"role": "supervisor"}, {"active": "no"}):
        mei = logged_in(app, "mei")
        assert opens_console(mei)
        answer = admin.post(
            f"/console/users/{user_id(services, 'mei')}",
            data={"csrf": csrf_of(admin), **change},
            follow_redirects=False,
        )
        assert answer.status_code == 303, answer.text
        assert not opens_console(mei), change
        admin.post(  # back as before for the next change
            f"/console/users/{user_id(services, 'mei')}",
            data={"csrf": csrf_of(admin), "role": "agent", "active": "yes",
                  "password": PASSWORD},
            follow_redirects=False,
        )  # fmt: skip
    assert opens_console(admin)  # changing someone else leaves the admin signed in


def test_admins_sign_one_user_or_everyone_out_everywhere(app, make_app, services):
    admin = logged_in(app, "ada")
    phone, laptop, sam = logged_in(app, "mei"), logged_in(make_app(), "mei"), logged_in(app, "sam")
    answer = admin.post(
        f"/console/users/{user_id(services, 'mei')}/sessions/end",
        data={"csrf": csrf_of(admin)},
        follow_redirects=False,
    )
    assert answer.status_code == 303
    assert not opens_console(phone) and not opens_console(laptop)
    assert opens_console(sam) and opens_console(admin)
    assert mei_can_not_end_sessions(app, services)
    admin.post("/console/sessions/end", data={"csrf": csrf_of(admin)}, follow_redirects=False)
    assert not opens_console(sam) and not opens_console(admin)
    with Session(services.engine) as session:
        ends = session.exec(select(AuditLog).where(AuditLog.action == "sessions_end")).all()
    assert [e.username for e in ends] == ["ada", "ada"]


def mei_can_not_end_sessions(app, services) -> bool:
    mei = logged_in(app, "mei")
    answer = mei.post(
        f"/console/users/{user_id(services, 'ada')}/sessions/end",
        data={"csrf": csrf_of(mei)},
        follow_redirects=False,
    )
    return answer.status_code == 403


def test_changing_ones_own_password_ends_the_other_sessions_and_keeps_this_one(app, make_app):
    here, elsewhere = logged_in(app, "mei"), logged_in(make_app(), "mei")
    answer = here.post(
        "/console/password",
        data={"csrf": csrf_of(here), "current": PASSWORD, "new": "a fresh secret",
              "repeat": "a fresh secret"},
        follow_redirects=False,
    )  # fmt: skip
    assert answer.status_code == 303 and answer.headers["location"] == "/console"
    assert opens_console(here) and not opens_console(elsewhere)
    assert login(TestClient(app), "mei", PASSWORD).status_code == 401
    assert login(TestClient(app), "mei", "a fresh secret").status_code == 303


def test_the_first_start_admin_must_set_a_new_password_before_anything_else(
    make_app, services, settings, capsys
):
    _print_welcome(services, settings)
    printed = capsys.readouterr().err
    password = printed.split("密碼：")[1].split()[0]  # the brand's language, zh-Hant
    app = make_app()
    client = TestClient(app)
    first = login(client, "admin", password)
    assert first.status_code == 303 and first.headers["location"] == "/console/password"
    for path in ("/console", "/console/users", "/console/audit.csv", "/openapi.json"):
        answer = client.get(path, follow_redirects=False)
        assert answer.headers.get("location") == "/console/password", path
    page = client.get("/console/password")
    assert page.status_code == 200 and "New password" in page.text
    chinese = client.get("/console/password", headers={"Accept-Language": "zh-TW"})
    assert "新密碼" in chinese.text and "New password" not in chinese.text
    token = csrf_of(client, "/console/password")
    refused = client.post(
        "/console/password",
        data={"csrf": token, "current": password, "new": password, "repeat": password},
    )
    assert refused.status_code == 422
    done = client.post(
        "/console/password",
        data={"csrf": token, "current": password, "new": "mine and only mine",
              "repeat": "mine and only mine"},
        follow_redirects=False,
    )  # fmt: skip
    assert done.status_code == 303
    assert opens_console(client)
    assert login(TestClient(app), "admin", password).status_code == 401


def test_the_api_schema_is_for_admins_only(app):
    anonymous = TestClient(app).get("/openapi.json", follow_redirects=False)
    assert anonymous.status_code in (303, 401, 403, 404)
    assert TestClient(app).get("/docs").status_code == 404
    assert logged_in(app, "mei").get("/openapi.json").status_code == 403
    schema = logged_in(app, "ada").get("/openapi.json")
    assert schema.status_code == 200 and "/console/login" in schema.json()["paths"]
