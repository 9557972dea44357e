"""Puts the protections around the web app, outermost first: trusted proxy headers, request
id and security headers, the login rate limit, CSRF; and answers 503 when the database is
away, so platforms retry and browsers see a clear error instead of a 500."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from bot.calendar.media import MAX_UPLOAD_BYTES
from bot.config import Settings
from bot.services import Services
from bot.web import error_pages
from bot.web.csrf import CsrfGuard
from bot.web.middleware import RequestContext
from bot.web.throttle import LoginLimiter, LoginThrottle
from db.engine import DATABASE_AWAY

log = logging.getLogger(__name__)


def install(app: FastAPI, settings: Settings, services: Services) -> None:
    limiter = LoginLimiter(
        services.engine,
        per_user=settings.web.login_max_failures,
        per_ip=settings.web.login_max_failures_per_ip,
        window_seconds=settings.web.login_window_seconds,
    )
    # add_middleware wraps what is there: the last added runs first.
    app.add_middleware(
        CsrfGuard, max_body_bytes=settings.web.max_body_bytes, max_upload_bytes=MAX_UPLOAD_BYTES
    )
    app.add_middleware(LoginThrottle, limiter=limiter, max_body_bytes=settings.web.max_body_bytes)
    app.add_middleware(RequestContext)
    app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=settings.web.trusted_proxies)

    async def database_unavailable(request: Request, error: Exception) -> Response:
        log.warning("database unavailable: %s", type(error).__name__)
        if error_pages.wants_page(request.scope):
            return await error_pages.page(request, 503, headers={"Retry-After": "5"})
        return JSONResponse(
            {"error": "temporarily unavailable"}, status_code=503, headers={"Retry-After": "5"}
        )

    for error in DATABASE_AWAY:
        app.add_exception_handler(error, database_unavailable)
