"""Secrets never reach a log line, whoever logs them: message, arguments, tracebacks, the
URL-encoded form, and the libraries that log request URLs."""

import logging

from handlers import redact

TOKEN = "7123456789:AAHsecretPartOfTheBotToken_0123456789"


def test_a_configured_secret_is_masked_in_messages_arguments_and_tracebacks(caplog):
    redact.install([TOKEN, "short"])
    log = logging.getLogger("tests.redact")
    with caplog.at_level(logging.DEBUG):
        log.info("calling https://api.telegram.org/bot%s/getMe", TOKEN)
        log.warning(f"token in the message itself: {TOKEN}")
        try:
            raise RuntimeError(f"The token `{TOKEN}` was rejected by the server.")
        except RuntimeError:
            log.exception("failed")
    text = caplog.text
    assert TOKEN not in text and "secretPartOfTheBotToken" not in text
    assert "bot[redacted]/getMe" in text and "The token `[redacted]`" in text


def test_the_part_after_the_colon_and_the_url_encoded_form_are_masked_too():
    redact.install([TOKEN])
    encoded = TOKEN.replace(":", "%3A")
    assert redact.redact(f"a {encoded} b") == "a [redacted] b"
    assert "AAHsecret" not in redact.redact("AAHsecretPartOfTheBotToken_0123456789")


def test_short_values_are_not_treated_as_secrets():
    redact.install(["abc"])
    assert redact.redact("abc abc") == "abc abc"


def test_http_client_request_logs_are_silenced():
    redact.install([TOKEN])
    assert logging.getLogger("httpx").getEffectiveLevel() >= logging.WARNING
