"""CSRF protection for every state-changing request, enforced in one place.

A POST, PUT, PATCH or DELETE from a browser that is logged in to the console must carry the
session's CSRF token, as the form field `csrf` or the header `X-CSRF-Token`; a request whose
Origin (or Sec-Fetch-Site) says it comes from another site is refused outright. Routes do not
check (and must not need to): new routes are covered as they are added (tests/reliability checks
every route the app has). The few exemptions are listed below with the reason.

To find a token sent as a form field the body is buffered, up to max_body_bytes; multipart forms
carry uploads (post images), so they may be as large as max_upload_bytes."""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.requests import cookie_parser

from bot.i18n import N_
from bot.web.error_pages import refuse
from bot.web.middleware import (
    ASGIApp,
    BodyTooLarge,
    Receive,
    Scope,
    Send,
    form_of,
    read_body,
    replay,
)
from bot.web.security import SESSION_COOKIE

UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
TOKEN_FIELD = "csrf"  # noqa: S105 (a field name)
TOKEN_HEADER = "x-csrf-token"  # noqa: S105 (a header name)

# Path prefixes that take no CSRF token, and why that is safe.
EXEMPT = {
    "/webhooks/": "platforms authenticate each request with a signature or secret token; "
    "no browser cookie grants anything there",
    "/chat/api/": "accepts only application/json, which a cross-site form cannot send and a "
    "cross-site script cannot send without a CORS preflight we never grant; a visitor has "
    "no privileges beyond their own chat",
}
# No session exists yet when logging in: the Origin check alone protects it.
ORIGIN_ONLY = {"/console/login"}


def exempt(path: str) -> bool:
    return any(path.startswith(prefix) for prefix in EXEMPT)


def same_site(scope: Scope, headers: Headers, public_url: str) -> bool:
    """False when the browser tells us the request was started by another site."""
    origin = headers.get("origin")
    if origin is not None:
        own = f"{scope.get('scheme', 'http')}://{headers.get('host', '')}".lower()
        public = urlsplit(public_url)
        allowed = {own, f"{public.scheme}://{public.netloc}".lower()}
        return origin.lower() in allowed
    return headers.get("sec-fetch-site", "same-origin") in {"same-origin", "none"}


class CsrfGuard:
    def __init__(self, app: ASGIApp, max_body_bytes: int, max_upload_bytes: int = 0):
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.max_upload_bytes = max(max_upload_bytes, max_body_bytes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or scope["method"] not in UNSAFE or exempt(path):
            await self.app(scope, receive, send)
            return
        state = scope["app"].state
        headers = Headers(scope=scope)
        if not same_site(scope, headers, state.services.settings.web.public_url):
            await refuse(403, N_("cross-site request refused"))(scope, receive, send)
            return
        login = state.sessions.read(cookie_parser(headers.get("cookie", "")).get(SESSION_COOKIE))
        if path in ORIGIN_ONLY or login is None:
            # Without a session a request has no authority to abuse; the route itself asks
            # for a login where one is needed.
            await self.app(scope, receive, send)
            return
        token = headers.get(TOKEN_HEADER)
        if token is None:
            multipart = headers.get("content-type", "").startswith("multipart/form-data")
            limit = self.max_upload_bytes if multipart else self.max_body_bytes
            try:
                body = await read_body(receive, limit)
            except BodyTooLarge:
                await refuse(413, N_("request body too large"))(scope, receive, send)
                return
            receive = replay(body, receive)
            value = (await form_of(scope, body)).get(TOKEN_FIELD)
            token = value if isinstance(value, str) else None
        if not state.sessions.check_csrf(login, token):
            await refuse(403, N_("the form expired; reload the page and try again"))(
                scope, receive, send
            )
            return
        await self.app(scope, receive, send)
