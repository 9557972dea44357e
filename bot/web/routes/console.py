"""The console: log in, work the review queue (decide, claim, correct, release handoffs), read
and export the audit log."""

from __future__ import annotations

import asyncio
import csv
import io
import logging
import time
from datetime import timedelta
from typing import Annotated
from urllib.parse import urlencode, urlsplit

from anyio import from_thread
from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import (
    HTMLResponse,
    JSONResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from sqlmodel import col, select

from bot import i18n
from bot.errors import Invalid
from bot.i18n.catalog import N_
from bot.review import decisions as review
from bot.review.contact_names import contact_name
from bot.review.decisions import audit_action
from bot.review.queue import (
    PAGE_SIZE,
    QueueFilters,
    load_page,
    open_handoffs,
    queue_version,
    recent_notices,
    response_stats,
)
from bot.web.deps import (
    CurrentLogin,
    CurrentUser,
    ServicesDep,
    SessionDep,
    SessionsDep,
    current_user,
    logged_in_user,
)
from bot.web.queue_live import QueueWatch, stream
from bot.web.security import SESSION_COOKIE, SESSION_MAX_AGE, hash_password, verify_password
from db.engine import session_scope
from db.enums import DraftStatus, MessageState
from db.models import AuditLog, Conversation, Draft, Message, User
from db.types import utcnow
from nlp.types import COMMENTER_TYPES, COMPLAINT_SUBTYPES, LANGUAGES, STAGES

log = logging.getLogger(__name__)

router = APIRouter(prefix="/console")
AUDIT_COLUMNS = ("at", "username", "via", "action", "draft_id", "message_id", "before_text",
                 "after_text", "reason")  # fmt: skip


def render(request: Request, name: str, status: int = 200, **context) -> HTMLResponse:
    return request.app.state.templates.TemplateResponse(request, name, context, status_code=status)


def page(request: Request, name: str, user, login, sessions, **context) -> HTMLResponse:
    """A console page: the user and the CSRF token for its forms come with every one."""
    return render(request, name, user=user, csrf=sessions.csrf_token(login), **context)


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request) -> HTMLResponse:
    return render(request, "login.html", error=None)


@router.post("/login")
def login(
    request: Request,
    session: SessionDep,
    sessions: SessionsDep,
    username: Annotated[str, Form()],
    password: Annotated[str, Form()],
) -> Response:
    user = session.exec(select(User).where(User.username == username)).first()
    if user is None or not user.active or not verify_password(user.password_hash, password):
        error = i18n.gettext("Wrong username or password.")
        return render(request, "login.html", status=401, error=error)
    cookie = sessions.issue(session, user)
    session.commit()
    target = "/console/password" if user.must_change_password else "/console"
    return _with_cookie(request, RedirectResponse(target, status_code=303), cookie)


def _with_cookie(request: Request, response: Response, cookie: str) -> Response:
    response.set_cookie(
        SESSION_COOKIE,
        cookie,
        max_age=SESSION_MAX_AGE,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return response


@router.post("/logout")
def logout(request: Request, session: SessionDep, sessions: SessionsDep) -> Response:
    """Ends the session on the server too: the same cookie opens nothing afterwards."""
    login = sessions.read(request.cookies.get(SESSION_COOKIE))
    if login is not None:
        sessions.end(session, login)
        session.commit()
    response = RedirectResponse("/console/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


MIN_PASSWORD = 8
LoggedInUser = Annotated[User, Depends(logged_in_user)]


@router.post("/language")
def change_language(
    session: SessionDep,
    user: LoggedInUser,
    locale: Annotated[str, Form(max_length=32)],
    back: Annotated[str, Form(max_length=2048)] = "/console",
) -> Response:
    """The user's own console language (kept on their account, so every device follows it);
    "auto" goes back to the browser's. Returns to the page the switcher was on."""
    chosen = None if locale == "auto" else i18n.supported(locale)
    if chosen is None and locale != "auto":
        raise HTTPException(422, i18n.gettext("unknown language"))
    user.locale = chosen
    session.add(user)
    session.commit()
    target = urlsplit(back)
    same_site = not target.scheme and not target.netloc and target.path.startswith("/console")
    return RedirectResponse(back if same_site else "/console", status_code=303)


@router.get("/password", response_class=HTMLResponse)
def password_page(
    request: Request, user: LoggedInUser, login: CurrentLogin, sessions: SessionsDep
) -> HTMLResponse:
    return page(request, "password.html", user, login, sessions, error=None)


@router.post("/password")
def change_password(
    request: Request,
    session: SessionDep,
    sessions: SessionsDep,
    user: LoggedInUser,
    login: CurrentLogin,
    current: Annotated[str, Form(max_length=1024)],
    new: Annotated[str, Form(max_length=1024)],
    repeat: Annotated[str, Form(max_length=1024)],
) -> Response:
    """A new password ends every session of the user, this one included; a fresh one opens."""
    error = None
    if not verify_password(user.password_hash, current):
        error = i18n.gettext("The current password is wrong.")
    elif len(new) < MIN_PASSWORD or new != repeat:
        error = i18n.gettext(
            "The new password needs at least %(count)d characters, typed the same twice."
        ) % {"count": MIN_PASSWORD}
    elif new == current:
        error = i18n.gettext("The new password must differ from the old one.")
    if error:
        return page(request, "password.html", user, login, sessions, status=422, error=error)
    user.password_hash = hash_password(new)
    user.must_change_password = False
    session.add(user)
    sessions.end_all(session, user.id)
    audit_action(session, user, "console", "password_change", after=user.username)
    cookie = sessions.issue(session, user)
    session.commit()
    return _with_cookie(request, RedirectResponse("/console", status_code=303), cookie)


# ---------------------------------------------------------------------- the queue


PageNumber = Annotated[int, Query(alias="page", ge=1, le=100_000, description="page of the queue")]


def _queue_page(request, session, services, user, number: int) -> dict:
    """One page of the queue and what the page needs to show where it is."""
    settings = services.settings
    hours = services.pipeline.playbooks.brand.hours
    filters = QueueFilters.from_query(request.query_params)
    now = utcnow()
    found = load_page(session, hours, filters, user, settings.replies.sla_warning_minutes, now,
                       limit=PAGE_SIZE, offset=(number - 1) * PAGE_SIZE)  # fmt: skip
    items, total = found.items, found.total
    pages = max(1, -(-total // PAGE_SIZE))
    return {"items": items, "total": total, "page": number, "pages": pages, "filters": filters,
            "now": now, "warn": settings.replies.sla_warning_minutes,
            "line_token_seconds": settings.line.reply_token_max_age_seconds,
            "line_quota": line_push_quota(services)}  # fmt: skip


# id(channel) → (fetched at, (limit, used) or None when LINE could not say)
_QUOTA: dict[int, tuple[float, tuple[int | None, int] | None]] = {}
QUOTA_SECONDS = 60.0
QUOTA_WAIT = 2.0  # seconds a page waits for LINE's answer


async def _ask_quota(channel) -> tuple[int | None, int]:
    async with asyncio.timeout(QUOTA_WAIT):
        return await channel.push_quota()


def line_push_quota(services) -> str | None:
    """ "N of M pushes left this month" from LINE (cached a minute); None without LINE or
    when LINE cannot say within QUOTA_WAIT (the page must not wait long on it or fail
    because of it). Asked on the app's event loop, where the channel's HTTP client lives."""
    channel = services.channels.get("line")
    if channel is None or not hasattr(channel, "push_quota"):
        return None
    cached = _QUOTA.get(id(channel))
    if not cached or time.monotonic() - cached[0] >= QUOTA_SECONDS:
        try:
            quota = from_thread.run(_ask_quota, channel)
        except Exception as error:  # LINE down or refusing: say nothing rather than fail the page
            log.warning("LINE push quota unavailable: %s", type(error).__name__)
            quota = None
        cached = _QUOTA[id(channel)] = (time.monotonic(), quota)
    if cached[1] is None:
        return None
    limit, used = cached[1]  # cached as numbers: the words are the reader's language
    if limit is None:
        return i18n.gettext("%(used)d pushes this month, no limit") % {"used": used}
    left = max(limit - used, 0)
    return i18n.gettext("%(left)d of %(limit)d pushes left this month") % {
        "left": left,
        "limit": limit,
    }


def _page_link(filters: QueueFilters, number: int) -> str:
    return "?" + urlencode({**filters.active, "page": number})


def _queue_context(request, session, services, user, number: int = 1) -> dict:
    # read before the queue: a change made while the page renders still reaches the tab
    version = queue_version(session.connection())
    queue = _queue_page(request, session, services, user, number)
    hours = services.pipeline.playbooks.brand.hours
    filters = queue["filters"]
    return {
        **queue,
        "version": version,
        "newer": _page_link(filters, number - 1) if number > 1 else None,
        "older": _page_link(filters, number + 1) if number < queue["pages"] else None,
        "stats": _response_stats(request, session, hours),
        "handoffs": open_handoffs(session),
        "notices": recent_notices(session),
        "failed": _failed_drafts(session),
        "unprocessable": _failed_messages(session),
        "users": session.exec(select(User).where(User.active).order_by(User.username)).all(),
        "options": {
            "channel": sorted(session.exec(select(Conversation.channel).distinct()).all()),
            "type": COMMENTER_TYPES,
            "subtype": COMPLAINT_SUBTYPES,
            "stage": STAGES,
            "language": LANGUAGES,
        },
    }


STATS_SECONDS = 60  # the week's response figures shown with the queue are this fresh


def _response_stats(request, session, hours):
    """The last 7 days' first-response figures, read once a minute per process rather than on
    every refresh of every tab (they read every reply of the week)."""
    cached = getattr(request.app.state, "response_stats", None)
    now = time.monotonic()
    if cached is None or cached[0] <= now:
        cached = (now + STATS_SECONDS, response_stats(session, hours))
        request.app.state.response_stats = cached
    return cached[1]


def _failed_drafts(session, days: int = 7, limit: int = 20) -> list[tuple]:
    """Approved replies that could not be sent (e.g. an exhausted LINE push quota), newest first."""
    since = utcnow() - timedelta(days=days)
    return session.exec(
        select(Draft, Message)
        .join(Message, col(Message.id) == Draft.message_id)
        .where(Draft.status == DraftStatus.FAILED, col(Draft.decided_at) >= since)
        .order_by(col(Draft.id).desc())
        .limit(limit)
    ).all()


def _failed_messages(session, days: int = 7, limit: int = 20) -> list[Message]:
    """Messages the pipeline gave up on after several attempts (bot/pipeline/process.py),
    newest first."""
    since = utcnow() - timedelta(days=days)
    return session.exec(
        select(Message)
        .where(Message.state == MessageState.FAILED, col(Message.processed_at) >= since)
        .order_by(col(Message.id).desc())
        .limit(limit)
    ).all()


@router.get("", response_class=HTMLResponse)
def queue_page(
    request: Request,
    session: SessionDep,
    services: ServicesDep,
    user: CurrentUser,
    login: CurrentLogin,
    sessions: SessionsDep,
    number: PageNumber = 1,
) -> HTMLResponse:
    context = _queue_context(request, session, services, user, number)
    return page(request, "queue.html", user, login, sessions, **context)


@router.get("/queue", response_class=HTMLResponse)
def queue_fragment(
    request: Request,
    session: SessionDep,
    services: ServicesDep,
    user: CurrentUser,
    login: CurrentLogin,
    sessions: SessionsDep,
    number: PageNumber = 1,
) -> HTMLResponse:
    """The queue alone, which the page fetches when it changes (or every few seconds)."""
    context = _queue_context(request, session, services, user, number)
    return page(request, "_queue.html", user, login, sessions, **context)


@router.get("/queue.json")
def queue_json(
    request: Request,
    session: SessionDep,
    services: ServicesDep,
    user: CurrentUser,
    number: PageNumber = 1,
) -> dict:
    """One page of the queue as data, for scripts and other front ends."""
    queue = _queue_page(request, session, services, user, number)
    now, warn = queue["now"], queue["warn"]
    return {
        "total": queue["total"],
        "page": queue["page"],
        "pages": queue["pages"],
        "per_page": PAGE_SIZE,
        "filters": queue["filters"].active,
        "items": [queue_item_json(item, now, warn) for item in queue["items"]],
    }


def queue_item_json(item, now, warn: int) -> dict:
    m = item.message
    return {
        "message_id": m.id,
        "version": item.version,
        "channel": m.channel,
        "conversation_id": m.conversation_id,
        "public": item.conversation.kind == "group",
        "from": contact_name(item.contact),
        "text": m.text,
        "content_type": m.content_type,
        "received_at": m.received_at.isoformat(),
        "type": m.type,
        "subtype": m.subtype,
        "stage": m.stage,
        "language": m.language,
        "confidence": m.confidence,
        "crisis": item.crisis,
        "incident_id": m.incident_id,
        "handoff": item.handoff,
        "flags": item.flags,
        "role": item.role,
        "assignee": item.assignee.username if item.assignee else None,
        "due_at": item.due_at.isoformat(),
        "target_minutes": item.target_minutes,
        "sla": item.sla(now, warn),
        "drafts": [
            {
                "id": d.id,
                "rank": d.rank,
                "text": d.text,
                "playbook": d.playbook,
                "required_role": d.required_role,
            }  # fmt: skip
            for d in item.drafts
        ],
        "context": [
            {
                "id": c.id,
                "direction": c.direction,
                "text": c.text,
                "sent_at": c.sent_at.isoformat(),
            }  # fmt: skip
            for c in item.context
        ],
    }


@router.get("/queue/events")
async def queue_events(
    request: Request, services: ServicesDep, sessions: SessionsDep, login: CurrentLogin
):
    """Server-sent events: the queue's version each time it changes, for console.js to refetch
    the queue (it polls instead when these cannot reach it)."""
    await run_in_threadpool(_listener, services, sessions, login)
    watch = getattr(request.app.state, "queue_watch", None)
    if watch is None:
        watch = request.app.state.queue_watch = QueueWatch(services.engine)
    return StreamingResponse(
        stream(watch),
        media_type="text/event-stream",
        headers={"cache-control": "no-store", "x-accel-buffering": "no"},
    )


def _listener(services, sessions, login) -> None:
    """Who may listen, checked in a session of its own: a stream must not hold one open."""
    with session_scope(services.engine) as session:
        current_user(logged_in_user(session, sessions, login))


async def decide(services, fn, *args, **kwargs):
    """Run a decision in its own transaction (a refusal answers by bot/web/errors.py)."""

    def run():
        with session_scope(services.engine) as session:
            return fn(session, *args, **kwargs)

    result = await run_in_threadpool(run)
    services.worker.notify()
    return result


def done(request: Request, **payload) -> Response:
    """JSON for the console's script, a redirect back to the page for a plain form."""
    if request.headers.get("x-requested-with") == "fetch":
        return JSONResponse({"ok": True, **payload})
    referer = urlsplit(request.headers.get("referer", ""))
    back = "/console"
    if referer.path.startswith("/console") and referer.netloc in ("", request.url.netloc):
        back = referer.path + (f"?{referer.query}" if referer.query else "")
    return RedirectResponse(back, status_code=303)


@router.post("/drafts/{draft_id}/approve")
async def approve(
    request: Request,
    draft_id: int,
    services: ServicesDep,
    user: CurrentUser,
    text: Annotated[str | None, Form()] = None,
) -> Response:
    draft = await decide(services, review.approve, draft_id, user, text=text, via="console")
    return done(request, status=draft.status)


@router.get("/drafts/{draft_id}/delivery")
def delivery(draft_id: int, session: SessionDep, user: CurrentUser) -> JSONResponse:
    """Where an approved reply is: the queue shows it next to the message it answers."""
    draft = session.get(Draft, draft_id)
    if draft is None:
        raise HTTPException(404, "no such reply")
    retrying = (
        draft.status in (DraftStatus.APPROVED, DraftStatus.EDITED) and draft.send_attempts > 0
    )
    return JSONResponse({"status": draft.status, "retrying": retrying})


@router.post("/drafts/{draft_id}/reject")
async def reject(
    request: Request,
    draft_id: int,
    services: ServicesDep,
    user: CurrentUser,
    reason: Annotated[str, Form()] = "",
) -> Response:
    await decide(services, review.reject, draft_id, user, reason=reason, via="console")
    return done(request)


@router.post("/messages/{message_id}/dismiss")
async def dismiss(
    request: Request,
    message_id: int,
    services: ServicesDep,
    user: CurrentUser,
    reason: Annotated[str, Form()] = "",
) -> Response:
    """Answer nothing: the default for trolls."""
    await decide(services, review.dismiss, message_id, user, reason=reason, via="console")
    return done(request)


@router.post("/messages/{message_id}/reply")
async def reply(
    request: Request,
    message_id: int,
    services: ServicesDep,
    user: CurrentUser,
    text: Annotated[str, Form(max_length=5000)] = "",
) -> Response:
    """Send a reply written from scratch instead of any candidate."""
    draft = await decide(services, review.reply, message_id, user, text=text, via="console")
    return done(request, status=draft.status, draft_id=draft.id)


@router.post("/messages/{message_id}/assign")
async def assign(
    request: Request,
    message_id: int,
    services: ServicesDep,
    user: CurrentUser,
    to: Annotated[str, Form()] = "",
) -> Response:
    """`to` empty or "me": claim; a username: hand it over; "none": release."""

    def run(session):
        target = None
        if to in ("", "me"):
            target = session.get(User, user.id)
        elif to != "none":
            target = session.exec(select(User).where(User.username == to)).first()
            if target is None:
                raise Invalid(N_("no user named {name!r}"), name=to)
        review.assign(session, message_id, user, target, via="console")
        return target.username if target else None

    assignee = await decide(services, run)
    return done(request, assignee=assignee)


@router.post("/messages/{message_id}/correct")
async def correct(
    request: Request,
    message_id: int,
    services: ServicesDep,
    user: CurrentUser,
    field: Annotated[str, Form()],
    value: Annotated[str, Form()],
) -> Response:
    """One-click correction of type, subtype or stage, kept as training feedback; the worker
    drafts the message again for the corrected label."""
    await decide(services, review.correct, message_id, user, field, value)
    return done(request, redrafting=True)


@router.post("/conversations/{conversation_id}/release")
async def release(
    request: Request,
    conversation_id: int,
    services: ServicesDep,
    user: CurrentUser,
) -> Response:
    """End a human handoff: the bot may act on its own in the conversation again."""
    await decide(services, review.release_handoff, conversation_id, user, via="console")
    return done(request)


# ---------------------------------------------------------------------- audit


def _audit_query(action: str, username: str):
    query = select(AuditLog).order_by(col(AuditLog.id).desc())
    if action:
        query = query.where(AuditLog.action == action)
    if username:
        query = query.where(AuditLog.username == username)
    return query


@router.get("/audit", response_class=HTMLResponse)
def audit_page(
    request: Request,
    session: SessionDep,
    user: CurrentUser,
    login: CurrentLogin,
    sessions: SessionsDep,
    action: Annotated[str, Query(max_length=32)] = "",
    username: Annotated[str, Query(max_length=64)] = "",
) -> HTMLResponse:
    entries = session.exec(_audit_query(action, username).limit(500)).all()
    actions = sorted(set(session.exec(select(AuditLog.action).distinct()).all()))
    return page(request, "audit.html", user, login, sessions, entries=entries, actions=actions,
                action=action, username=username)  # fmt: skip


@router.get("/audit.csv")
def audit_csv(
    session: SessionDep,
    user: CurrentUser,
    action: Annotated[str, Query(max_length=32)] = "",
    username: Annotated[str, Query(max_length=64)] = "",
) -> Response:
    """Every decision as CSV: who, when, before and after, why. Audit rows hold no secrets;
    cells that a spreadsheet would run as a formula are quoted."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(AUDIT_COLUMNS)
    for entry in session.exec(_audit_query(action, username)).all():
        writer.writerow([_cell(getattr(entry, column)) for column in AUDIT_COLUMNS])
    stamp = utcnow().strftime("%Y%m%d-%H%M")
    return Response(
        "\ufeff" + buffer.getvalue(),  # a BOM so spreadsheets read the Chinese text right
        media_type="text/csv; charset=utf-8",
        headers={"content-disposition": f'attachment; filename="replyline-audit-{stamp}.csv"'},
    )


def _cell(value) -> str:
    if value is None:
        return ""
    text = value.isoformat() if hasattr(value, "isoformat") else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
