"""Logging: plain or JSON lines, a request id on every record, and redaction of secrets and
personal data (phone numbers, e-mail addresses, Taiwan national ID numbers) from everything
written, tracebacks included."""

from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
from typing import IO

from pydantic import BaseModel, SecretStr

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")

MASK = "[redacted]"
_secrets: set[str] = set()
MIN_SECRET_LENGTH = 6  # shorter values would mask ordinary words

# Personal data and credentials recognisable by their shape.
_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    # credentials in URLs: scheme://user:password@host
    (re.compile(r"(?<=://)([^/\s:@]+):([^/\s@]+)@"), r"\1:" + MASK + "@"),
    # key=value / "key": "value" for sensitive keys
    (
        re.compile(
            r"(?i)\b((?:password|passwd|secret|token|access_token|api_key|authorization)"
            r"[\"']?\s*[:=]\s*[\"']?)(?:bearer\s+)?[^\s\"',;&]+"
        ),
        r"\1" + MASK,
    ),
    # Telegram bot tokens: 123456789:AA...
    (re.compile(r"\b\d{6,12}:[A-Za-z0-9_-]{30,}\b"), MASK),
    # e-mail addresses
    (re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}"), "[email]"),
    # Taiwan national ID and resident certificate numbers: a letter, 1/2 (or 8/9), 8 digits
    (re.compile(r"(?<![A-Za-z0-9])[A-Z][1289]\d{8}(?!\w)"), "[national-id]"),
    # phone numbers: +886 / 09xx mobiles, (0x) landlines, other international numbers
    (
        re.compile(
            r"(?<![\w+])(?:\+?886[\s-]?|0)9\d{2}[\s-]?\d{3}[\s-]?\d{3}(?!\w)"
            r"|(?<![\w+])\(?0\d{1,2}\)?[\s-]?\d{3,4}[\s-]?\d{4}(?!\w)"
            r"|(?<!\w)\+\d{1,3}[\s-]?\d{1,4}(?:[\s-]?\d{2,4}){2,4}(?!\w)"
        ),
        "[phone]",
    ),
]


def register_secret(*values: str | SecretStr | None) -> None:
    """Values that must never be written anywhere (tokens, keys, passwords)."""
    for value in values:
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        if value and len(value) >= MIN_SECRET_LENGTH:
            _secrets.add(value)


def register_settings_secrets(settings) -> None:
    """Every SecretStr setting in any group (bot tokens, channel secrets, the secret key...) and
    the password in the database URL."""
    for value in _setting_values(settings):
        if isinstance(value, SecretStr):
            register_secret(value)
    match = re.search(r"://[^/:@]+:([^@/]+)@", settings.database.url or "")
    if match:
        register_secret(match.group(1))


def _setting_values(model: BaseModel):
    for name in type(model).model_fields:
        value = getattr(model, name, None)
        if isinstance(value, BaseModel):
            yield from _setting_values(value)
        else:
            yield value


def redact(text: str) -> str:
    """`text` with registered secrets, credentials and personal data masked."""
    if not text:
        return text
    for secret in sorted(_secrets, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, MASK)
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


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
            "message": record.getMessage(),
        }
        if record.exc_info:
            item["exception"] = self.formatException(record.exc_info)
        return redact(json.dumps(item, ensure_ascii=False))


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
    """Route every logger (uvicorn's too) through one redacting handler on the root logger."""
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
