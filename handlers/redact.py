"""Keep platform secrets out of logs and error messages.

HTTP client libraries log request URLs, and the Telegram Bot API puts the bot token in every URL
(python-telegram-bot even names the token in some exception texts). Every log record is
redacted as it is created (a log record factory, so no handler can miss it), and adapters pass
error texts through `redact()` before they reach a draft or a response."""

from __future__ import annotations

import logging
import threading
import traceback
from collections.abc import Iterable
from urllib.parse import quote

MASK = "[REDACTED]"
MIN_SECRET_LENGTH = 6  # shorter values would mask ordinary words
NOISY_LOGGERS = ("httpx", "httpcore")  # log every request URL at INFO

_secrets: set[str] = set()
_lock = threading.Lock()
_installed = False


def add_secrets(values: Iterable[str | None]) -> None:
    """Remember secrets to mask; for a bot token "123:abc" the part after the colon too."""
    found = set()
    for value in values:
        if not value or len(value) < MIN_SECRET_LENGTH:
            continue
        found |= {value, quote(value, safe="")}
        _, sep, tail = value.partition(":")
        if sep and len(tail) >= MIN_SECRET_LENGTH:
            found.add(tail)
    with _lock:
        _secrets.update(found)


def redact(text: str) -> str:
    """`text` with every known secret replaced by [REDACTED]."""
    if not text:
        return text
    for secret in sorted(_secrets, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, MASK)
    return text


class RedactingFilter(logging.Filter):
    """Masks secrets in a record's message, arguments, traceback and stack."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not _secrets:
            return True
        try:
            message = record.getMessage()
        except Exception:  # a malformed log call: keep what we can read
            message = f"{record.msg} {record.args}"
        record.msg, record.args = redact(message), None
        if record.exc_info and record.exc_info[0] is not None and not record.exc_text:
            record.exc_text = "".join(traceback.format_exception(*record.exc_info)).rstrip()
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


def install(secrets: Iterable[str | None]) -> None:
    """Redact these secrets in every log record from now on, whoever logs and handles it."""
    global _installed
    add_secrets(secrets)
    for name in NOISY_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    with _lock:
        if _installed:
            return
        _installed = True
    previous = logging.getLogRecordFactory()
    redactor = RedactingFilter()

    def factory(*args, **kwargs) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        redactor.filter(record)
        return record

    logging.setLogRecordFactory(factory)
