"""Log output: plain or JSON lines with a request id on every record, redacted as written.

Secrets and personal data (phone numbers, e-mail addresses, Taiwan national ID numbers) are
masked in everything written, tracebacks included. The masking itself is handlers/redact.py,
shared with the record factory and the adapters' error texts, so every path masks alike."""

from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
from typing import IO

from pydantic import BaseModel, SecretStr

from handlers.redact import add_secrets, install, redact

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")


def register_settings_secrets(settings) -> None:
    """Every SecretStr setting in any group (bot tokens, channel secrets, the secret key...) and
    the password in the database URL."""
    values = [value for value in _setting_values(settings) if isinstance(value, SecretStr)]
    match = re.search(r"://[^/:@]+:([^@/]+)@", settings.database.url or "")
    add_secrets([*values, match.group(1) if match else None])


def _setting_values(model: BaseModel):
    for name in type(model).model_fields:
        value = getattr(model, name, None)
        if isinstance(value, BaseModel):
            yield from _setting_values(value)
        else:
            yield value


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        return True


class RedactingFormatter(logging.Formatter):
    """Formats as usual, then masks the whole line, message and traceback alike."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


class JsonFormatter(RedactingFormatter):
    """One JSON object a line: time, level, logger, request id, message, exception."""

    def format(self, record: logging.LogRecord) -> str:
        item = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname,
            "logger": record.name,
            "request_id": getattr(record, "request_id", "-"),
            "message": redact(record.getMessage()),
        }
        if record.exc_text:
            item["exception"] = redact(record.exc_text)
        elif record.exc_info:
            item["exception"] = redact(self.formatException(record.exc_info))
        return json.dumps(item, ensure_ascii=False)


PLAIN_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s]: %(message)s"
QUIET = (
    "alembic.runtime.plugins",
    "httpx",
    "httpx2",
    "httpcore",
    "multipart",
    "hpack",
    "apscheduler.executors.default",
)


def setup_logging(
    level: int = logging.INFO, json_lines: bool = False, stream: IO[str] | None = None
) -> logging.Handler:
    """Route every logger (uvicorn's too) through one redacting handler on the root logger, and
    redact every record as it is made (handlers/redact.py), whichever handler gets it."""
    install()
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(JsonFormatter() if json_lines else RedactingFormatter(PLAIN_FORMAT))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    for name in QUIET:
        logging.getLogger(name).setLevel(max(level, logging.WARNING))
    return handler


def setup_logging_from_settings(level: int = logging.INFO) -> logging.Handler:
    """What the `replyline` command does first: log as the settings say, and know the
    configured secrets before anything can log them."""
    try:
        from bot.config import get_settings

        settings = get_settings()
    except Exception:  # invalid settings: the command reports them itself
        return setup_logging(level)
    register_settings_secrets(settings)
    return setup_logging(level, json_lines=settings.log_json)
