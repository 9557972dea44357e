"""Console pages for what replies promise: proposals from suggestions (statuses, contributor
notified) and complaint tickets."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlmodel import col, select

from bot.i18n import gettext
from bot.review import proposals
from bot.web.deps import CurrentLogin, CurrentUser, ServicesDep, SessionDep, SessionsDep
from bot.web.routes.console import decide, done, page
from db.models import Contact, Message, Proposal, Ticket
from db.models.playbooks import PROPOSAL_STATUSES, TICKET_STATUSES

router = APIRouter(prefix="/console")


def known_status(status: str, known: tuple[str, ...]) -> None:
    """A filter by a status that does not exist is the asker's mistake (422), not the database's."""
    if status and status not in known:
        values = ", ".join(known)
        raise HTTPException(422, gettext("status must be one of %(values)s") % {"values": values})


@router.get("/proposals", response_class=HTMLResponse)
def proposals_page(
    request: Request,
    session: SessionDep,
    services: ServicesDep,
    user: CurrentUser,
    login: CurrentLogin,
    sessions: SessionsDep,
    status: Annotated[str, Query(max_length=16)] = "",
) -> HTMLResponse:
    known_status(status, PROPOSAL_STATUSES)
    query = select(Proposal).order_by(col(Proposal.id).desc()).limit(300)
    if status:
        query = query.where(Proposal.status == status)
    rows = []
    playbooks = services.pipeline.playbooks
    brand = services.settings.brand_name
    for proposal in session.exec(query).all():
        contact = session.get(Contact, proposal.contact_id) if proposal.contact_id else None
        rows.append(
            {
                "proposal": proposal,
                "contact": contact,
                "message": session.get(Message, proposal.message_id),
                "next": {
                    s: proposals.notification(session, playbooks, proposal, s, brand)
                    for s in proposals.NEXT[proposal.status]
                },
            }
        )
    counts: dict[str, int] = {s: 0 for s in PROPOSAL_STATUSES}
    for value in session.exec(select(Proposal.status)).all():
        counts[value] = counts.get(value, 0) + 1
    return page(request, "proposals.html", user, login, sessions, rows=rows, counts=counts,
                shown=status, statuses=PROPOSAL_STATUSES)  # fmt: skip


@router.post("/proposals/{proposal_id}/status")
async def proposal_status(
    request: Request,
    proposal_id: int,
    services: ServicesDep,
    user: CurrentUser,
    status: Annotated[str, Form()],
    note: Annotated[str, Form()] = "",
    notify: Annotated[str, Form()] = "",
    message: Annotated[str, Form()] = "",
) -> Response:
    """Move a proposal on; unless unticked, the contributor is told (the text can be edited)."""
    text = message if notify else None
    await decide(services, proposals.set_status, proposal_id, user, status, note=note,
                 notify_text=text)  # fmt: skip
    return done(request)


@router.get("/tickets", response_class=HTMLResponse)
def tickets_page(
    request: Request,
    session: SessionDep,
    user: CurrentUser,
    login: CurrentLogin,
    sessions: SessionsDep,
    status: Annotated[str, Query(max_length=16)] = "open",
) -> HTMLResponse:
    known_status(status, TICKET_STATUSES)
    query = (
        select(Ticket, Message, Contact)
        .join(Message, col(Message.id) == Ticket.message_id)
        .outerjoin(Contact, col(Contact.id) == Message.contact_id)
    )
    if status:
        query = query.where(Ticket.status == status)
    rows = session.exec(query.order_by(col(Ticket.id).desc()).limit(300)).all()
    return page(request, "tickets.html", user, login, sessions, rows=rows, shown=status)


@router.post("/tickets/{ticket_id}/close")
async def close_ticket(
    request: Request,
    ticket_id: int,
    services: ServicesDep,
    user: CurrentUser,
) -> Response:
    await decide(services, proposals.close_ticket, ticket_id, user)
    return done(request)
