"""The one redaction module: secrets and personal data never reach a log line or an error text.

HTTP client libraries log request URLs, and the Telegram Bot API puts the bot token in every URL
(python-telegram-bot even names the token in some exception texts). So every log record is
redacted as it is created (a log record factory, so no handler can miss it), the log formatters
(bot/logs.py, plain and JSON) pass what they write through `redact()` once more, and adapters pass
error texts through `redact()` before they reach a draft or a response. One mask and one set of
patterns serve all of them. It sits in handlers/ (the lowest layer that needs it) so that the
adapters and bot/ share it without handlers importing bot."""

from __future__ import annotations

import logging
import re
import threading
import traceback
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote

MASK = "[redacted]"
MIN_SECRET_LENGTH = 6  # shorter values would mask ordinary words
NOISY_LOGGERS = ("httpx", "httpcore")  # log every request URL at INFO

# Credentials and personal data recognisable by their shape, whether or not configured.
PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
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
)

_secrets: set[str] = set()
_lock = threading.Lock()
_installed = False


def add_secrets(values: Iterable[Any]) -> None:
    """Remember secrets to mask: strings or pydantic `SecretStr`s (None and short values are
    skipped); their URL-encoded form too, and for a bot token "123:abc" the part after the
    colon."""
    found = set()
    for value in values:
        if hasattr(value, "get_secret_value"):
            value = value.get_secret_value()
        if not value or len(value) < MIN_SECRET_LENGTH:
            continue
        found |= {value, quote(value, safe="")}
        _, sep, tail = value.partition(":")
        if sep and len(tail) >= MIN_SECRET_LENGTH:
            found.add(tail)
    with _lock:
        _secrets.update(found)


def redact(text: str) -> str:
    """`text` with every known secret, credential and piece of personal data masked."""
    if not text:
        return text
    for secret in sorted(_secrets, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, MASK)
    for pattern, replacement in PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class RedactingFilter(logging.Filter):
    """Masks a record's message, arguments, traceback and stack."""

    def filter(self, record: logging.LogRecord) -> bool:
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


def install(secrets: Iterable[Any] = ()) -> None:
    """Redact these secrets (and the patterns) in every log record from now on, whoever logs
    and handles it."""
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
