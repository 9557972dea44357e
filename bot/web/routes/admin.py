"""Admin pages: console users and their roles, the loaded playbooks (and reloading them after an
edit), and the effective settings without secrets."""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Form, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from bot import state
from bot.auth.roles import ROLE_RANK
from bot.config import overview
from bot.i18n import N_, gettext
from bot.review.decisions import audit_action
from bot.services import load_playbooks
from bot.web.deps import CurrentLogin, ServicesDep, SessionDep, SessionsDep, require_role
from bot.web.routes.console import done, page
from bot.web.security import Sessions, hash_password
from db.engine import session_scope
from db.enums import Role
from db.models import User
from playbooks.yamlfile import PlaybookError

router = APIRouter(prefix="/console")
Admin = Annotated[User, require_role(Role.ADMIN)]
ROLES = ", ".join(ROLE_RANK)
# What the users page says on the row of the user a form changed (?done=...&user=id).
DONE = {
    "added": N_("Added."),
    "saved": N_("Saved."),
    "signed_out": N_("Signed out everywhere."),
}


@router.get("/users", response_class=HTMLResponse)
def users_page(
    request: Request,
    session: SessionDep,
    user: Admin,
    login: CurrentLogin,
    sessions: SessionsDep,
    done: Annotated[str, Query(max_length=16)] = "",
    changed: Annotated[int, Query(alias="user", ge=0)] = 0,
) -> HTMLResponse:
    users = session.exec(select(User).order_by(User.username)).all()
    note = gettext(DONE[done]) if done in DONE else None
    return page(request, "users.html", user, login, sessions, users=users, roles=list(ROLE_RANK),
                note=note, changed=changed)  # fmt: skip


def _back_to_users(request: Request, done: str, user_id: int) -> Response:
    """A plain form goes back to the users page, which says what happened on that user's row;
    the console's script gets JSON."""
    if request.headers.get("x-requested-with") == "fetch":
        return JSONResponse({"ok": True})
    query = urlencode({"done": done, "user": user_id})
    return RedirectResponse(f"/console/users?{query}#user-{user_id}", status_code=303)


def _save_user(services, admin: User, change):
    try:
        with session_scope(services.engine) as session:
            return change(session)
    except IntegrityError as error:
        raise HTTPException(409, gettext("that username or chat id is taken")) from error


@router.post("/users")
async def add_user(
    request: Request,
    services: ServicesDep,
    user: Admin,
    username: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form()],
    role: Annotated[str, Form()] = "agent",
) -> Response:
    username = username.strip()
    if not username or role not in ROLE_RANK or len(password) < 8:
        raise HTTPException(
            422, gettext("a username, a role and a password of 8+ characters, please")
        )
    hashed = await run_in_threadpool(hash_password, password)

    def change(session):
        added = User(username=username, password_hash=hashed, role=role)
        session.add(added)
        audit_action(session, user, "console", "user_add", after=f"{username} ({role})")
        session.flush()
        return added.id

    added_id = await run_in_threadpool(_save_user, services, user, change)
    return _back_to_users(request, "added", added_id)


@router.post("/users/{user_id}")
async def change_user(
    request: Request,
    user_id: int,
    services: ServicesDep,
    user: Admin,
    role: Annotated[str, Form()] = "",
    active: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
) -> Response:
    """Change a role, deactivate or reactivate, or set a new password (never logged)."""
    if role and role not in ROLE_RANK:
        raise HTTPException(422, gettext("role must be one of %(roles)s") % {"roles": ROLES})
    if password and len(password) < 8:
        raise HTTPException(422, gettext("a password needs at least 8 characters"))
    if user_id == user.id and (active == "no" or (role and role != Role.ADMIN)):
        raise HTTPException(409, gettext("you cannot demote or deactivate yourself"))
    hashed = await run_in_threadpool(hash_password, password) if password else None

    def change(session):
        target = session.get(User, user_id)
        if target is None:
            raise HTTPException(404, gettext("user %(id)d does not exist") % {"id": user_id})
        before = f"{target.role}, {'active' if target.active else 'inactive'}"
        before_role = target.role
        if role:
            target.role = role
        if active in ("yes", "no"):
            target.active = active == "yes"
        if hashed:
            target.password_hash = hashed
        session.add(target)
        if hashed or (role and role != before_role) or not target.active:
            Sessions.end_all(session, target.id)  # the old rights end with the old sessions
        after = f"{target.role}, {'active' if target.active else 'inactive'}"
        audit_action(session, user, "console", "user_change", before=f"{target.username}: "
                     f"{before}", after=after + (", new password" if hashed else ""))  # fmt: skip

    await run_in_threadpool(_save_user, services, user, change)
    return _back_to_users(request, "saved", user_id)


@router.post("/users/{user_id}/sessions/end")
async def end_user_sessions(
    request: Request, user_id: int, services: ServicesDep, user: Admin
) -> Response:
    """Sign one user out everywhere (a lost laptop, a leaving colleague)."""

    def change(session):
        target = session.get(User, user_id)
        if target is None:
            raise HTTPException(404, gettext("user %(id)d does not exist") % {"id": user_id})
        ended = Sessions.end_all(session, target.id)
        audit_action(session, user, "console", "sessions_end", after=f"{target.username}: "
                     f"{ended} session(s)")  # fmt: skip

    await run_in_threadpool(_save_user, services, user, change)
    return _back_to_users(request, "signed_out", user_id)


@router.post("/sessions/end")
async def end_all_sessions(request: Request, services: ServicesDep, user: Admin) -> Response:
    """Sign everyone out everywhere, this admin included (a leaked secret, a shared laptop)."""

    def change(session):
        ended = Sessions.end_all(session)
        audit_action(session, user, "console", "sessions_end", after=f"everyone: {ended}")

    await run_in_threadpool(_save_user, services, user, change)
    return done(request)


@router.get("/playbooks", response_class=HTMLResponse)
def playbooks_page(
    request: Request, services: ServicesDep, user: Admin, login: CurrentLogin, sessions: SessionsDep
) -> HTMLResponse:
    return page(request, "playbooks.html", user, login, sessions,
                playbooks=services.pipeline.playbooks, error=None)  # fmt: skip


@router.post("/playbooks/reload", response_class=HTMLResponse)
async def reload_playbooks(
    request: Request,
    services: ServicesDep,
    user: Admin,
    login: CurrentLogin,
    sessions: SessionsDep,
) -> HTMLResponse:
    """Read the playbook folder again; a broken file leaves the running playbooks in place.
    Every other process (the pipeline child, other servers, workers) reloads it within
    about a second: the reload bumps the playbooks' state version (bot/state.py)."""
    try:
        fresh = await run_in_threadpool(load_playbooks, services.settings)
        await run_in_threadpool(services.reload_playbooks, fresh)
    except PlaybookError as error:
        return page(request, "playbooks.html", user, login, sessions, status=422,
                    playbooks=services.pipeline.playbooks, error=str(error))  # fmt: skip
    with session_scope(services.engine) as session:
        audit_action(session, user, "console", "playbooks_reload", after=str(fresh.directory))
        state.bump(session, state.PLAYBOOKS)
        session.flush()
        services.versions.saw(state.PLAYBOOKS, session)
    return page(request, "playbooks.html", user, login, sessions, playbooks=fresh,
                error=None, reloaded=True)  # fmt: skip


@router.get("/settings", response_class=HTMLResponse)
def settings_page(
    request: Request, services: ServicesDep, user: Admin, login: CurrentLogin, sessions: SessionsDep
) -> HTMLResponse:
    """Effective settings by group, each explained in the reader's language (the texts are in
    bot/i18n's settings.po); secrets show only whether they are set."""
    groups = [
        (
            gettext(title),
            gettext(purpose),
            [replace(row, meaning=gettext(row.meaning)) for row in rows],
        )
        for title, purpose, rows in overview(services.settings)
    ]
    return page(request, "settings.html", user, login, sessions, groups=groups)
