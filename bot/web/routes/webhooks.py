"""Platform webhooks: verify, store, then acknowledge; what can wait (LINE display names) is
looked up after the acknowledgement.

A 2xx goes back only after the events are committed; if the database is away the platform gets
a 503 and redelivers, so nothing acknowledged is ever lost. Button presses among the events run
once each after they are stored (bot/pipeline/presses.py)."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import DataError
from starlette.background import BackgroundTask

from bot.metrics import observe_webhook
from bot.pipeline.ingest import MAX_DEPTH, store_events, too_deep
from bot.pipeline.names import enrich
from bot.pipeline.presses import run_presses
from bot.privacy.lifecycle import apply_lifecycle
from bot.web.deps import ServicesDep
from db.engine import DATABASE_AWAY
from handlers.base import MAX_EVENTS_PER_REQUEST as MAX_EVENTS
from handlers.base import RequestRejected

log = logging.getLogger(__name__)
router = APIRouter()


async def read_body(request: Request, limit: int) -> bytes:
    """The raw body, refused with 413 past `limit` bytes without reading it all."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise RequestRejected(413, f"body larger than {limit} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise RequestRejected(413, f"body larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


# What a parser raises on input it did not expect (a list where it wanted an object, a
# missing key, nesting deeper than the JSON decoder goes): the request's fault, so a 400.
MALFORMED = (
    ValueError,
    TypeError,
    KeyError,
    IndexError,
    AttributeError,
    RecursionError,
    UnicodeError,
)


@observe_webhook
async def receive(services, channel_name: str, request: Request, headers=None) -> JSONResponse:
    """Shared by every inbound endpoint: parse with the channel, store, wake the worker."""
    channel = services.channels.get(channel_name)
    if channel is None:
        return JSONResponse({"error": f"channel {channel_name} is off"}, status_code=404)
    try:
        body = await read_body(request, services.settings.web.max_body_bytes)
        events = await channel.parse_request(body, headers or request.headers)
    except RequestRejected as rejected:
        log.info("%s request rejected: %s", channel_name, rejected.reason)
        return JSONResponse({"error": rejected.reason}, status_code=rejected.status)
    except MALFORMED as error:
        log.info("%s request malformed: %s", channel_name, type(error).__name__)
        return JSONResponse({"error": "malformed request"}, status_code=400)
    if len(events) > MAX_EVENTS:
        log.info("%s request refused: %d events, at most %d", channel_name, len(events),
                 MAX_EVENTS)  # fmt: skip
        return JSONResponse({"error": f"more than {MAX_EVENTS} events"}, status_code=413)
    if any(too_deep(event.raw) for event in events):
        log.info("%s request refused: nested deeper than %d levels", channel_name, MAX_DEPTH)
        return JSONResponse({"error": "nested too deeply"}, status_code=400)
    try:
        stored = await run_in_threadpool(store_events, services.engine, events) if events else []
    except DataError:
        # The database refused a value (ingest cleans what it can): retrying cannot help.
        log.error("%s events could not be stored: the database refused a value", channel_name)
        return JSONResponse({"error": "a value in the request cannot be stored"}, status_code=422)
    except DATABASE_AWAY as error:
        # Expected while the database is away, at the rate webhooks arrive: one line each and
        # no traceback (one for each request flooded the log and cost CPU in an outage).
        log.warning(
            "%s events not stored: database unavailable (%s); asking the platform to retry",
            channel_name,
            type(getattr(error, "orig", None) or error).__name__,
        )
        return unavailable()
    except Exception:
        log.exception("%s events could not be stored; asking the platform to retry", channel_name)
        return unavailable()
    try:  # an unsend must not leave the text behind: failing it asks for a redelivery
        await run_in_threadpool(apply_lifecycle, services.engine, events)
    except Exception:
        log.exception("%s events stored but not applied; asking the platform to retry",
                      channel_name)  # fmt: skip
        return unavailable()
    wanted = channel.unnamed(events)  # looked up once the platform has its answer
    if any(not s.duplicate for s in stored) and not wanted:
        services.worker.notify()
    if any(e.action is not None for e in events) and await run_presses(
        services.engine, channel, events, stored, services.actions
    ):
        services.worker.notify()  # a decision may have made a draft ready to send
    return JSONResponse(
        {
            "stored": sum(not s.duplicate for s in stored),
            "duplicates": sum(s.duplicate for s in stored),
            "message_ids": [s.message_id for s in stored],
        },
        background=BackgroundTask(enrich, services, channel, wanted) if wanted else None,
    )


def unavailable() -> JSONResponse:
    """503: the platform redelivers the events later."""
    return JSONResponse(
        {"error": "temporarily unavailable"}, status_code=503, headers={"Retry-After": "5"}
    )


@router.post("/webhooks/{channel_name}")
async def webhook(channel_name: str, request: Request, services: ServicesDep) -> Response:
    if channel_name == "web":  # the web chat has its own endpoint, tied to the visitor cookie
        return JSONResponse({"error": "not found"}, status_code=404)
    return await receive(services, channel_name, request)
