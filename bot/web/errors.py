"""The one place a domain refusal (bot/errors.py) becomes an HTTP answer: its kind picks the
status, its text is shown in the request's language."""

from __future__ import annotations

from fastapi import FastAPI, HTTPException, Request
from fastapi.exception_handlers import http_exception_handler
from starlette.responses import Response

from bot.errors import Conflict, DomainError, Forbidden, Invalid, NotFound

STATUS: dict[type[DomainError], int] = {NotFound: 404, Conflict: 409, Forbidden: 403, Invalid: 422}


def http_status(error: DomainError) -> int:
    """The status of the error's kind (500 for the bare base, which is a bug)."""
    return next((STATUS[kind] for kind in type(error).__mro__ if kind in STATUS), 500)


def as_http(error: DomainError) -> HTTPException:
    return HTTPException(http_status(error), error.text())


def install(app: FastAPI) -> None:
    """Routes let refusals rise: each answers with its status and translated text."""

    async def refused(request: Request, error: Exception) -> Response:
        assert isinstance(error, DomainError)  # registered for it alone
        return await http_exception_handler(request, as_http(error))

    app.add_exception_handler(DomainError, refused)
