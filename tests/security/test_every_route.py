"""Every route, with whatever a stranger or a logged-in admin sends it, answers below 500
(finding 5 of issue 16): property-based, over the routes the app really has, with path
parameters past 64 bits, odd dates, junk strings and random forms. One app on a temporary
SQLite database serves every example, so the whole suite takes seconds, not minutes."""

from __future__ import annotations

import re
from urllib.parse import quote

import pytest
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.config import Settings
from bot.services import Services
from bot.web import queue_live
from bot.web.app import create_app
from bot.web.security import hash_password
from db.engine import session_scope
from db.models import User
from tests.security.conftest import PASSWORD, csrf_of, login
from tests.support import ScriptedClassifier, migrated_sqlite

METHODS = {"GET", "POST", "PUT", "PATCH", "DELETE"}
# An admin who ends their own session (or everyone's) would only test the login redirect from
# then on; these routes have tests of their own (tests/security/test_sessions.py).
ENDS_THE_SESSION = {"/console/logout", "/console/sessions/end", "/console/password"}

integers = st.one_of(
    st.integers(-(2**70), 2**70),
    st.sampled_from([0, -1, 1, 2**31 - 1, 2**31, 2**63 - 1, 2**63, -(2**63) - 1, 10**40]),
).map(str)
dates = st.one_of(
    st.dates().map(str),
    st.sampled_from(["0001-01-01", "9999-12-31", "1970-01-01", "2026-02-30", "x", ""]),
)
junk = st.text(max_size=40)
values = st.one_of(integers, dates, junk)


@pytest.fixture(scope="module")
def clients(tmp_path_factory):
    """(anonymous, admin) clients of one app with a few rows to find. The queue's event stream
    ends after a fifth of a second instead of 30 s, or each visit to it would wait that long."""
    patch = pytest.MonkeyPatch()
    patch.setattr(queue_live, "STREAM_SECONDS", 0.2)
    url = migrated_sqlite(tmp_path_factory.mktemp("routes") / "replyline.db")
    app_settings = Settings(
        database={"url": url},
        web={"secret_key": "every-route"},
        pipeline={"worker_enabled": False},
        _env_file=None,
    )
    services = Services.build(app_settings, classifier=ScriptedClassifier)
    with session_scope(services.engine) as session:
        session.add(User(username="ada", password_hash=hash_password(PASSWORD), role="admin"))
    app = create_app(app_settings, services)
    with TestClient(app) as anonymous, TestClient(app) as admin:
        anonymous.get("/chat")
        assert login(admin).status_code == 303
        anonymous.post("/chat/api/messages", json={"text": "question: hi", "client_id": "seed-001"})
        yield app, anonymous, admin
    services.engine.dispose()
    patch.undo()


def routes(app) -> list[tuple[str, str, list[str]]]:
    """(method, path, query parameter names) of every route the app serves."""
    found = []
    for route in iter_route_contexts(app.routes):
        dependant = getattr(route, "dependant", None)
        names = sorted({q.alias for q in dependant.query_params}) if dependant else []
        for method in sorted((route.methods or set()) & METHODS):
            found.append((method, route.path, names))
    return found


def token_of(admin) -> str:
    """The admin's CSRF token, logging in again if an example ended the session (signing a
    user out everywhere may pick the admin)."""
    if admin.get("/console", follow_redirects=False).status_code != 200:
        assert login(admin).status_code == 303
    return csrf_of(admin)


def request_for(draw, route) -> tuple[str, str, dict, dict]:
    method, path, names = route
    url = re.sub(r"\{[^}:]+(?::path)?\}", lambda _: quote(draw(values), safe="") or "0", path)
    query = {n: draw(values) for n in names if draw(st.booleans())}
    form = draw(st.dictionaries(st.sampled_from(["text", "reason", "id", "to", "field",
                                                  "value", "role", "active", "title"]),
                                values, max_size=3))  # fmt: skip
    return method, url, query, form


def test_every_route_is_reachable_by_this_suite(clients):
    app, _, _ = clients
    paths = {path for _, path, _ in routes(app)}
    assert len(paths) > 40 and {"/chat/api/messages", "/console/reports.json"} <= paths


@settings(
    max_examples=400,  # about ten seconds; a developer may raise it locally
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_no_route_answers_a_5xx_to_anyone(clients, data):
    app, anonymous, admin = clients
    every = routes(app)
    route = data.draw(st.sampled_from(every))
    method, url, query, form = request_for(data.draw, route)
    who = data.draw(st.sampled_from(["anonymous", "admin"]))
    client = admin if who == "admin" and route[1] not in ENDS_THE_SESSION else anonymous
    if client is admin and method != "GET":
        form["csrf"] = token_of(admin)
    answer = client.request(
        method, url, params=query, data=form or None, follow_redirects=False,
        headers={"content-type": "application/x-www-form-urlencoded"} if form else {},
    )  # fmt: skip
    assert answer.status_code < 500, (who, method, url, query, form, answer.text[:300])


def test_every_route_answers_huge_ids_and_odd_dates_below_500(clients):
    """The same, for every route once, deterministically, with the values that used to 500."""
    app, anonymous, admin = clients
    token = token_of(admin)  # one page load, not one per request: no route here ends it
    for method, path, names in routes(app):
        for value in (str(2**64), "0001-01-01"):
            url = re.sub(r"\{[^}:]+(?::path)?\}", value, path)
            query = {n: value for n in names}
            for client in (anonymous, admin if path not in ENDS_THE_SESSION else anonymous):
                data = {"csrf": token} if client is admin and method != "GET" else None
                answer = client.request(
                    method, url, params=query, data=data, follow_redirects=False
                )
                assert answer.status_code < 500, (method, url, query, answer.text[:300])
                if client is admin:  # the token held: a refused one would hide the route
                    assert answer.headers.get("location") != "/console/login", (method, url)
