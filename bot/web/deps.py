"""Typed dependencies for routes: settings, services, a database session, the console user."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from sqlmodel import Session

from bot.auth.roles import has_role
from bot.config import Settings
from bot.i18n import choose, gettext, role_label
from bot.services import Services
from bot.web.security import SESSION_COOKIE, Sessions
from db.enums import Role
from db.models import User


# Plain attribute reads are `async def` so FastAPI calls them inline: a sync dependency would
# cost every request a round trip through the thread pool.
async def get_services(request: Request) -> Services:
    return request.app.state.services


async def get_settings(request: Request) -> Settings:
    return request.app.state.services.settings


def get_session(request: Request) -> Iterator[Session]:
    with Session(request.app.state.services.engine, expire_on_commit=False) as session:
        yield session


async def get_sessions(request: Request) -> Sessions:
    return request.app.state.sessions


ServicesDep = Annotated[Services, Depends(get_services)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
SessionDep = Annotated[Session, Depends(get_session)]
SessionsDep = Annotated[Sessions, Depends(get_sessions)]


class LoginRequired(Exception):
    """Raised for console pages without a valid session; the app redirects to the login page."""


class PasswordChangeRequired(Exception):
    """Raised for every console page but the password page while the user must set a new
    password (the first-start admin); the app redirects to the password page."""


def current_login(request: Request, sessions: SessionsDep) -> dict:
    data = sessions.read(request.cookies.get(SESSION_COOKIE))
    if data is None:
        raise LoginRequired()
    return data


def logged_in_user(
    session: SessionDep, sessions: SessionsDep, login: Annotated[dict, Depends(current_login)]
) -> User:
    """The user of a session that still exists on the server (logout, a password or role
    change and deactivation end it, in every process)."""
    user = sessions.user_of(session, login)
    if user is None or not user.active:
        raise LoginRequired()
    if not has_role(user, Role.AGENT):  # an unknown role opens nothing
        raise HTTPException(403, gettext("your account has no console role"))
    choose(user.locale)  # the user's own language setting beats the browser's
    return user


def current_user(user: Annotated[User, Depends(logged_in_user)]) -> User:
    if user.must_change_password:
        raise PasswordChangeRequired()
    return user


CurrentLogin = Annotated[dict, Depends(current_login)]
CurrentUser = Annotated[User, Depends(current_user)]


def require_role(role: str):
    def check(user: CurrentUser) -> User:
        if not has_role(user, role):
            # "admin" in English as before; the role's own word in other languages
            label = role_label(role).lower()
            raise HTTPException(403, gettext("this needs the %(role)s role") % {"role": label})
        return user

    return Depends(check)
