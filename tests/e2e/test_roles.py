"""An admin changes a colleague's role, then deactivates them, on one server: the colleague's
session on another server (under the compose layout) ends at once, and signing in again gives
the new role only."""

from __future__ import annotations

from sqlmodel import select

from db.models import User


def test_a_role_change_and_a_deactivation_hold_on_every_server_at_once(deployment):
    d = deployment
    here, there = d.web[0], d.web[-1]
    lee_there = d.console("lee", there)
    assert lee_there.http.get("/console/users").status_code == 200
    lee_id = d.query(lambda s: s.exec(select(User.id).where(User.username == "lee")).one())
    ana_here = d.console("ana", here)

    ana_here.post(f"/console/users/{lee_id}", role="agent")
    response = lee_there.http.get("/console/users", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/console/login"
    lee_there = d.console("lee", there)  # signed in again, now as an agent
    assert lee_there.http.get("/console/users").status_code == 403

    ana_here.post(f"/console/users/{lee_id}", active="no")
    response = lee_there.http.get("/console", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/console/login"
