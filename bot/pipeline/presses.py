"""Button presses and staff replies that arrived with inbound events: each one is dispatched
once (after its event is stored, so a redelivery is recognised and not run again) and the
channel shows the answer to whoever pressed. Shared by webhooks and `replyline telegram poll`."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from fastapi.concurrency import run_in_threadpool
from sqlalchemy.engine import Engine

from bot.i18n import N_
from bot.i18n import gettext as _
from bot.pipeline.ingest import Stored
from bot.review.actions import Handler, Press, dispatch
from db.engine import session_scope
from handlers.base import Channel, InboundEvent

log = logging.getLogger(__name__)
FAILED = N_("Sorry, that did not work. Please try again.")


async def run_presses(
    engine: Engine,
    channel: Channel,
    events: list[InboundEvent],
    stored: list[Stored],
    handlers: Mapping[str, Handler],
) -> int:
    """Dispatch every newly stored event that carries an action to its handler (by prefix,
    bot/services.py ACTIONS); returns how many ran."""
    ran = 0
    for event, record in zip(events, stored, strict=True):
        if event.action is None or record.duplicate or not event.user_id:
            continue
        press = Press(event.channel, event.user_id, event.action, text=event.text)
        try:
            text = await run_in_threadpool(_dispatch, engine, press, handlers)
        except Exception:  # a bug must not leave the presser's spinner running
            log.exception("action %r from %s failed", event.action, event.channel)
            text = _(FAILED)  # in the brand's language: who pressed is not known here
        # nothing to say (a button not ours): only what stops a spinner, never a message
        await channel.answer(event, text or "")
        ran += 1
    return ran


def _dispatch(engine: Engine, press: Press, handlers: Mapping[str, Handler]) -> str | None:
    with session_scope(engine) as session:
        return dispatch(session, press, handlers)
