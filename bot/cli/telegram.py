"""`replyline telegram set-webhook|delete-webhook|poll`: how Telegram delivers updates.

A webhook (`set-webhook URL`) is the production way: Telegram posts each update to replyline,
signed with REPLYLINE_TELEGRAM_WEBHOOK_SECRET. Long polling (`poll`) is for development without
a public URL. Telegram allows only one of the two at a time, so `poll` refuses to start while a
webhook is set, unless told to delete it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from urllib.parse import urlsplit

from bot.cli import CommandError
from bot.config import get_settings
from bot.i18n import gettext as _

log = logging.getLogger(__name__)
WEBHOOK_PATH = "/webhooks/telegram"


def register(subparsers) -> None:
    telegram = subparsers.add_parser("telegram", help="Telegram webhook or long polling")
    sub = telegram.add_subparsers(dest="telegram_command", required=True)

    hook = sub.add_parser("set-webhook", help="have Telegram post updates to this URL")
    hook.add_argument("url", help=f"public https URL of replyline (…{WEBHOOK_PATH} is added)")
    hook.add_argument("--drop-pending", action="store_true", help="discard waiting updates")
    hook.set_defaults(func=cmd_set_webhook)

    delete = sub.add_parser("delete-webhook", help="stop webhook delivery (to poll instead)")
    delete.set_defaults(func=cmd_delete_webhook)

    poll = sub.add_parser("poll", help="receive updates by long polling (development)")
    poll.add_argument(
        "--delete-webhook", action="store_true", help="delete a webhook that is set, then poll"
    )
    poll.add_argument("--timeout", type=int, default=30, help="seconds per long poll")
    poll.add_argument("--rounds", type=int, default=0, help="stop after N polls (0: run on)")
    poll.set_defaults(func=cmd_poll)


def webhook_url(url: str) -> str:
    """The full webhook URL: a bare site URL gets replyline's Telegram webhook path."""
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.netloc:
        raise CommandError(_("{url} is not an http(s) URL.").format(url=url))
    if parts.path.rstrip("/") == "":
        return url.rstrip("/") + WEBHOOK_PATH
    return url


def _services():
    from bot.services import Services

    services = Services.build(get_settings())
    channel = services.channels.get("telegram")
    if channel is None:
        raise CommandError(_("Telegram is off: set REPLYLINE_TELEGRAM_BOT_TOKEN."))
    return services, channel


def _run(coroutine) -> None:
    from handlers.telegram import describe_api_error

    try:
        asyncio.run(coroutine)
    except Exception as error:
        text = describe_api_error(error)
        if text is None:
            raise
        raise CommandError(text) from None


def cmd_set_webhook(args) -> int:
    url = webhook_url(args.url)
    channel = _services()[1]
    if not channel.webhook_secret:
        raise CommandError(_("Set REPLYLINE_TELEGRAM_WEBHOOK_SECRET first; the webhook needs it."))

    async def run() -> None:
        try:
            await channel.set_webhook(url, drop_pending=args.drop_pending)
        finally:
            await channel.stop()

    _run(run())
    print(_("Telegram now posts updates to {url}").format(url=url))
    return 0


def cmd_delete_webhook(args) -> int:
    channel = _services()[1]

    async def run() -> None:
        try:
            await channel.delete_webhook()
        finally:
            await channel.stop()

    _run(run())
    print(_("Webhook deleted; `replyline telegram poll` can receive updates now."))
    return 0


def cmd_poll(args) -> int:
    services, channel = _services()

    async def run() -> None:
        try:
            current = await channel.webhook_url()
            if current and not args.delete_webhook:
                raise CommandError(
                    _(
                        "A webhook is set ({url}); Telegram delivers to one or the other. "
                        "Run `replyline telegram poll --delete-webhook` to switch to polling."
                    ).format(url=current)
                )
            if current:
                await channel.delete_webhook()
                print(_("Deleted the webhook {url}").format(url=current))
            await poll(services, channel, args.timeout, args.rounds)
        finally:
            await channel.stop()

    print(_("Polling Telegram (Ctrl-C to stop); `replyline serve` processes and answers them."))
    with contextlib.suppress(KeyboardInterrupt):
        _run(run())
    return 0


async def poll(services, channel, timeout: int, rounds: int = 0) -> int:
    """Store updates as the webhook would, confirming each batch only after it is stored."""
    from bot.pipeline.ingest import store_events
    from bot.pipeline.presses import run_presses
    from handlers.base import RequestRejected

    offset, received, round_number = None, 0, 0
    while not rounds or round_number < rounds:
        round_number += 1
        updates = await channel.get_updates(offset, timeout)
        events = []
        for update in updates:
            try:
                events += channel.events(update)
            except RequestRejected as rejected:
                log.warning("update %s skipped: %s", update.get("update_id"), rejected.reason)
        stored = await asyncio.to_thread(store_events, services.engine, events) if events else []
        await run_presses(services.engine, channel, events, stored, services.actions)
        received += sum(not s.duplicate for s in stored)
        if updates:
            offset = max(u["update_id"] for u in updates) + 1
    return received
