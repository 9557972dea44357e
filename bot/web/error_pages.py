"""Errors as people see them: a browser that asks for a page (Accept: text/html) gets a small page
in its reader's language with a way back; webhooks, the chat's and other APIs, `.json` routes and
the console's own script keep the JSON answers they always had. Used by the app's exception
handlers and by the middleware's refusals (CSRF, login throttle), so every error goes one way."""

from __future__ import annotations

import logging
from http import HTTPStatus
from urllib.parse import urlsplit

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exception_handlers import (
    http_exception_handler,
    request_validation_exception_handler,
)
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from sqlmodel import Session
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from bot.i18n import N_, choose, gettext
from bot.i18n.web import wants_html
from bot.web.security import SESSION_COOKIE
from db.models import User

log = logging.getLogger(__name__)

# Programs, not people, read these: their errors stay JSON whatever they accept.
API_PATHS = ("/webhooks/", "/chat/api/", "/metrics", "/healthz", "/openapi.json")
TITLES = {
    400: N_("The request could not be read"),
    401: N_("Please log in"),
    403: N_("You cannot open this page"),
    404: N_("Page not found"),
    405: N_("This page cannot be opened this way"),
    409: N_("That could not be done"),
    413: N_("That was too large to send"),
    415: N_("That could not be read"),
    422: N_("Something in the request is not valid"),
    429: N_("Too many tries"),
    503: N_("Temporarily unavailable"),
}
HINTS = {
    404: N_("The address may be mistyped, or what it showed is gone."),
    405: N_("Go back and use the page's own buttons and links."),
    429: N_("Please wait a moment, then try again."),
    503: N_("Please try again in a moment."),
}


def wants_page(scope: Scope) -> bool:
    """A person's browser asking for a page (not fetch() from the console's script, an API
    client, a platform's webhook or a .json route)."""
    headers = Headers(scope=scope)
    path = scope.get("path", "")
    if headers.get("x-requested-with") == "fetch" or path.endswith(".json"):
        return False
    if path.startswith(API_PATHS):
        return False
    return wants_html(headers.get("accept"))


def _way_back(request: Request) -> tuple[str, str]:
    """Where the page's link leads: the console page the reader came from, the web chat for
    its visitors, else the console."""
    if request.url.path.startswith("/chat"):
        return "/chat", gettext("Back to the chat")
    referer = urlsplit(request.headers.get("referer", ""))
    same_site = referer.netloc in ("", request.url.netloc)
    if same_site and referer.path.startswith("/console") and referer.path != request.url.path:
        return referer.path + (f"?{referer.query}" if referer.query else ""), gettext(
            "Back to the page you came from"
        )
    return "/console", gettext("Back to the console")


def _reader(request: Request) -> tuple[User | None, str | None]:
    """The logged-in console user, if any, and their form token: the page then speaks their own
    language and shows the console's navigation. Any trouble (no session, the database away)
    just means a page without them."""
    try:
        sessions = request.app.state.sessions
        login = sessions.read(request.cookies.get(SESSION_COOKIE))
        if login is None:
            return None, None
        with Session(request.app.state.services.engine) as session:
            user = sessions.user_of(session, login)
        if user is None or not user.active:
            return None, None
        choose(user.locale)
        return user, sessions.csrf_token(login)
    except Exception as error:  # an error page must not fail in turn
        log.debug("error page without the reader: %s", type(error).__name__)
        return None, None


def _render(request: Request, status: int, message: str | None, headers, reader) -> HTMLResponse:
    user, csrf = reader
    title = TITLES.get(status) or (
        N_("Something went wrong") if status >= 500 else N_("That did not work")
    )
    back, back_text = _way_back(request)
    hint = HINTS.get(status)
    return request.app.state.templates.TemplateResponse(
        request,
        "error.html",
        {
            "status": status,
            "title": gettext(title),
            "message": message,
            "hint": gettext(hint) if hint else None,
            "back": back,
            "back_text": back_text,
            "user": user,
            "csrf": csrf,
        },
        status_code=status,
        headers=dict(headers or {}),
    )


async def page(
    request: Request, status: int, message: str | None = None, headers=None
) -> HTMLResponse:
    """The error page; its reader is looked up (a database read) only for the client's
    mistakes: when the server or database is in trouble, the page must not wait on it."""

    def build() -> HTMLResponse:
        reader = _reader(request) if status < 500 else (None, None)
        return _render(request, status, message, headers, reader)

    return await run_in_threadpool(build)


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


async def http_error(request: Request, error: HTTPException):
    if not wants_page(request.scope):
        return await http_exception_handler(request, error)
    message: str | None = error.detail if isinstance(error.detail, str) else None
    if message == _phrase(error.status_code):  # Starlette's "Not Found": the title says more
        message = None
    return await page(request, error.status_code, message, error.headers)


async def invalid_request(request: Request, error: RequestValidationError):
    if not wants_page(request.scope):
        return await request_validation_exception_handler(request, error)
    return await page(request, 422)


def refuse(status: int, error: str, headers: dict[str, str] | None = None) -> ASGIApp:
    """An ASGI answer for middleware that refuses a request before any route: JSON
    {"error": ...} for programs, the error page (with `error` translated) for browsers."""

    async def answer(scope: Scope, receive: Receive, send: Send) -> None:
        response: Response
        if wants_page(scope):
            said = gettext(error) if status < 500 else None  # the title says it all
            response = await page(Request(scope, receive), status, said, headers)
        else:
            response = JSONResponse({"error": error}, status_code=status, headers=headers)
        await response(scope, receive, send)

    return answer


def install(app: FastAPI) -> None:
    app.add_exception_handler(HTTPException, http_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, invalid_request)  # type: ignore[arg-type]
