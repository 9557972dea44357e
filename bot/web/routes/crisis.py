"""Crisis incidents in the console: the banner on every page while one is active, the list, and
each incident with its explanation, messages, alerts and notes. Anyone on the team can look;
acknowledging, resolving and notes need a supervisor."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from bot.auth.roles import has_role
from bot.crisis import alerts, incidents
from bot.review.contact_names import contacts_by_id
from bot.web.deps import CurrentLogin, CurrentUser, ServicesDep, SessionDep, SessionsDep
from bot.web.routes.console import render
from db.engine import session_scope
from db.enums import IncidentStatus, Role
from db.models import Draft, Incident, IncidentAlert, IncidentMessage

router = APIRouter(prefix="/console/incidents")


def banner_incidents(engine: Engine) -> list[Incident]:
    """Active incidents, worst first: what the banner on every console page shows."""
    with Session(engine) as session:
        found = incidents.active(session)
    return sorted(found, key=lambda i: (i.status != IncidentStatus.OPEN, -i.severity, i.id))


@router.get("", response_class=HTMLResponse)
def list_page(
    request: Request,
    session: SessionDep,
    user: CurrentUser,
    login: CurrentLogin,
    sessions: SessionsDep,
) -> HTMLResponse:
    rows = session.exec(select(Incident).order_by(col(Incident.id).desc()).limit(200)).all()
    counts = dict(
        session.exec(
            select(IncidentMessage.incident_id, func.count())
            .where(col(IncidentMessage.incident_id).in_([i.id for i in rows]))
            .group_by(col(IncidentMessage.incident_id))
        ).all()
    )
    return render(
        request,
        "incidents.html",
        user=user,
        csrf=sessions.csrf_token(login),
        incidents=rows,
        counts=counts,
    )


@router.get("/banner", response_class=HTMLResponse)
def banner(request: Request, user: CurrentUser) -> HTMLResponse:
    """The banner alone, which every console page refetches to stay current."""
    return render(request, "_crisis_banner.html", user=user)


@router.get("/{incident_id}", response_class=HTMLResponse)
def detail_page(
    incident_id: int,
    request: Request,
    session: SessionDep,
    user: CurrentUser,
    login: CurrentLogin,
    sessions: SessionsDep,
) -> HTMLResponse:
    incident = incidents.get(session, incident_id)  # NotFound: 404 in the reader's words
    messages = incidents.messages_of(session, incident_id)
    drafts = session.exec(
        select(Draft)
        .where(col(Draft.message_id).in_([m.id for m in messages]))
        .order_by(col(Draft.rank))
    ).all()
    by_message: dict[int, list[Draft]] = {}
    for d in drafts:
        by_message.setdefault(d.message_id, []).append(d)
    sent = session.exec(
        select(IncidentAlert)
        .where(IncidentAlert.incident_id == incident_id)
        .order_by(col(IncidentAlert.id))
    ).all()
    return render(
        request,
        "incident.html",
        user=user,
        csrf=sessions.csrf_token(login),
        incident=incident,
        explanation=incidents.explain(session, incident),  # in the reader's language
        messages=messages,
        contacts=contacts_by_id(session, (m.contact_id for m in messages)),
        drafts=by_message,
        notes=incidents.notes_of(session, incident_id),
        alerts_sent=sent,
        can_act=has_role(user, Role.SUPERVISOR),
    )


async def _step(services, fn, *args, **kwargs) -> None:
    def run():
        with session_scope(services.engine) as session:
            fn(session, *args, **kwargs)

    await run_in_threadpool(run)  # a refusal answers by bot/web/errors.py


@router.post("/{incident_id}/acknowledge")
async def acknowledge(
    incident_id: int,
    services: ServicesDep,
    user: CurrentUser,
    note: Annotated[str, Form()] = "",
) -> Response:
    await _step(services, incidents.acknowledge, incident_id, user, via="console", note=note)
    alerts.cancel(incident_id, services.scheduler)
    return RedirectResponse(f"/console/incidents/{incident_id}", status_code=303)


@router.post("/{incident_id}/resolve")
async def resolve(
    incident_id: int,
    services: ServicesDep,
    user: CurrentUser,
    note: Annotated[str, Form()] = "",
) -> Response:
    await _step(services, incidents.resolve, incident_id, user, note, via="console")
    alerts.cancel(incident_id, services.scheduler)
    return RedirectResponse(f"/console/incidents/{incident_id}", status_code=303)


@router.post("/{incident_id}/notes")
async def add_note(
    incident_id: int,
    services: ServicesDep,
    user: CurrentUser,
    text: Annotated[str, Form()] = "",
) -> Response:
    await _step(services, incidents.add_note, incident_id, user, text, via="console")
    return RedirectResponse(f"/console/incidents/{incident_id}", status_code=303)
