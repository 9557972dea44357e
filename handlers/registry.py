"""Which channels are on: web chat always; a platform only when its credentials are set."""

from __future__ import annotations

import logging

from handlers import redact
from handlers.base import Channel
from handlers.web import WebChannel

log = logging.getLogger(__name__)


def _secret(value) -> str | None:
    return value.get_secret_value() if value is not None else None


def build_channels(settings) -> dict[str, Channel]:
    channels: dict[str, Channel] = {"web": WebChannel(settings.web.max_text_chars)}
    telegram_token = _secret(settings.telegram.bot_token)
    line_secret = _secret(settings.line.channel_secret)
    line_token = _secret(settings.line.channel_access_token)
    webhook_secret = _secret(settings.telegram.webhook_secret)
    redact.install([telegram_token, webhook_secret, line_secret, line_token])
    if telegram_token:
        from handlers.telegram import TelegramChannel
        from handlers.telegram_flood import FloodGate

        channels["telegram"] = TelegramChannel(
            telegram_token,
            webhook_secret=webhook_secret,
            api_base=settings.telegram.api_base,
            staff_chat_id=settings.telegram.staff_chat_id,
            gate=FloodGate(
                settings.telegram.chat_interval_seconds,
                settings.telegram.group_per_minute,
                settings.telegram.global_per_second,
            ),
            max_inline_wait=settings.telegram.max_inline_wait_seconds,
        )
    if line_secret and line_token:
        from handlers.line import LineChannel

        channels["line"] = LineChannel(
            line_secret,
            line_token,
            api_base=settings.line.api_base,
            content_api_base=settings.line.content_api_base,
            reply_token_max_age=settings.line.reply_token_max_age_seconds,
            show_loading=settings.replies.auto_send,
            loading_seconds=settings.line.loading_seconds,
            profile_cache_seconds=settings.line.profile_cache_seconds,
        )
    off = {
        "telegram": "no REPLYLINE_TELEGRAM_BOT_TOKEN",
        "line": "needs REPLYLINE_LINE_CHANNEL_SECRET and REPLYLINE_LINE_CHANNEL_ACCESS_TOKEN",
    }
    log.info("channels on: %s", ", ".join(sorted(channels)))
    for name, why in off.items():
        if name not in channels:
            log.info("channel %s off: %s", name, why)
    return channels
