"""Console login rate limit: after too many failed logins for one username, or from one
address, within a window, further attempts get 429 until the window has passed.

Failures are rows in the database (db/models/reliability.py), so the limit holds across every
process behind the same database. The guard wraps POST /console/login: it reads the username
from the form, refuses blocked attempts before the password is even checked, and counts an
attempt as failed when the login route answers 401."""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import delete, func
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, col, select
from starlette.concurrency import run_in_threadpool

from bot.i18n import N_
from bot.web.error_pages import refuse
from bot.web.middleware import (
    ASGIApp,
    BodyTooLarge,
    Message,
    Receive,
    Scope,
    Send,
    client_ip,
    form_of,
    read_body,
    replay,
)
from db.engine import session_scope
from db.models import LoginFailure
from db.types import utcnow

log = logging.getLogger(__name__)
LOGIN_PATH = "/console/login"
FIELD_LENGTH = 64


class LoginLimiter:
    """The counting itself, usable without HTTP."""

    def __init__(self, engine: Engine, per_user: int, per_ip: int, window_seconds: int):
        self.engine = engine
        self.per_user = per_user
        self.per_ip = per_ip
        self.window = timedelta(seconds=window_seconds)

    def blocked(self, username: str, ip: str) -> bool:
        since = utcnow() - self.window
        with Session(self.engine) as session:
            by_user = session.exec(
                select(func.count())
                .select_from(LoginFailure)
                .where(LoginFailure.username == username, LoginFailure.at > since)
            ).one()
            by_ip = session.exec(
                select(func.count())
                .select_from(LoginFailure)
                .where(LoginFailure.ip == ip, LoginFailure.at > since)
            ).one()
        return by_user >= self.per_user or by_ip >= self.per_ip

    def failed(self, username: str, ip: str) -> None:
        now = utcnow()
        with session_scope(self.engine) as session:
            session.add(LoginFailure(username=username, ip=ip, at=now))
            session.exec(delete(LoginFailure).where(col(LoginFailure.at) <= now - self.window))

    def succeeded(self, username: str) -> None:
        with session_scope(self.engine) as session:
            session.exec(delete(LoginFailure).where(col(LoginFailure.username) == username))


def normalise(username: object) -> str:
    return username.strip().lower()[:FIELD_LENGTH] if isinstance(username, str) else ""


class LoginThrottle:
    def __init__(self, app: ASGIApp, limiter: LoginLimiter, max_body_bytes: int):
        self.app = app
        self.limiter = limiter
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] != LOGIN_PATH:
            await self.app(scope, receive, send)
            return
        try:
            body = await read_body(receive, self.max_body_bytes)
        except BodyTooLarge:
            await refuse(413, N_("request body too large"))(scope, receive, send)
            return
        username = normalise((await form_of(scope, body)).get("username"))
        ip = client_ip(scope)[:FIELD_LENGTH]
        try:
            blocked = await run_in_threadpool(self.limiter.blocked, username, ip)
        except SQLAlchemyError:
            log.warning("login limiter: database unavailable")
            await refuse(503, N_("temporarily unavailable"))(scope, receive, send)
            return
        if blocked:
            log.warning("login refused: too many failed attempts")
            retry = str(int(self.limiter.window.total_seconds()))
            await refuse(
                429, N_("too many failed logins; try again later"), {"Retry-After": retry}
            )(scope, receive, send)
            return
        status = 0

        async def watch(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        await self.app(scope, replay(body, receive), watch)
        try:
            if status == 401:
                await run_in_threadpool(self.limiter.failed, username, ip)
            elif 200 <= status < 400:
                await run_in_threadpool(self.limiter.succeeded, username)
        except SQLAlchemyError:
            log.warning("login limiter: could not record the attempt")
