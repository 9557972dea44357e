"""Display names that arrive after a webhook was acknowledged (LINE's profile API): stored on
the contacts, so drafts greet people by name without the webhook waiting for the lookup."""

from __future__ import annotations

import logging

from sqlalchemy import or_, update
from sqlalchemy.engine import Engine
from sqlmodel import col

from bot.pipeline.ingest import clean
from db.engine import session_scope
from db.models import Contact

log = logging.getLogger(__name__)
NAME_LENGTH = 200  # Contact.display_name


def store_names(engine: Engine, channel: str, names: dict[str, str]) -> int:
    """Set the display names of the channel's contacts (never of an erased one); how many
    changed."""
    changed = 0
    with session_scope(engine) as session:
        for user_id, given in names.items():
            name = clean(given)[:NAME_LENGTH] if given else None
            if not name:
                continue
            done = session.exec(
                update(Contact)
                .where(
                    col(Contact.channel) == channel,
                    col(Contact.platform_user_id) == user_id,
                    col(Contact.erased).is_(False),
                    or_(col(Contact.display_name).is_(None), col(Contact.display_name) != name),
                )
                .values(display_name=name)
            )
            changed += done.rowcount
    return changed


async def enrich(services, channel, wanted: list[tuple[str, str, str]]) -> None:
    """After the acknowledgement: look the names up, store them, then wake the worker (it
    drafts with the name when the lookup was quick; its poll finds the messages anyway)."""
    from fastapi.concurrency import run_in_threadpool

    try:
        names = await channel.look_up_names(wanted)
        if names:
            await run_in_threadpool(store_names, services.engine, channel.name, names)
    except Exception:  # a name is a nicety: the messages are stored and will be answered
        log.exception("%s display names could not be stored", channel.name)
    finally:
        services.worker.notify()
