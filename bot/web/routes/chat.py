"""The web chat: a page where anyone can write to the bot as a customer and read replies."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from sqlmodel import col, select

from bot.web.deps import ServicesDep, SessionDep
from bot.web.middleware import client_ip
from bot.web.routes.webhooks import receive
from db.models import Conversation, Message
from handlers.web import PERSON_HEADER, VISITOR_HEADER

router = APIRouter()
VISITOR_COOKIE = "replyline_visitor"


@router.get("/chat", response_class=HTMLResponse)
def chat_page(request: Request) -> HTMLResponse:
    zone = request.app.state.services.settings.timezone  # times shown in the brand's zone
    response = request.app.state.templates.TemplateResponse(
        request, "chat.html", {"timezone": zone}
    )
    visitors = request.app.state.visitors
    if not visitors.verified(request.cookies.get(VISITOR_COOKIE)):  # made up, or none: a new one
        response.set_cookie(
            VISITOR_COOKIE,
            visitors.issue(),
            max_age=365 * 24 * 3600,
            httponly=True,
            samesite="lax",
            secure=request.url.scheme == "https",
        )
    return response


@router.post("/chat/api/messages")
async def post_message(request: Request, services: ServicesDep) -> Response:
    if not request.headers.get("content-type", "").startswith("application/json"):
        return JSONResponse({"error": "send JSON"}, status_code=415)
    state = request.app.state
    visitor = state.visitors.verified(request.cookies.get(VISITOR_COOKIE))
    if visitor is None:  # only ids this server issued (GET /chat gives one)
        return JSONResponse({"error": "no chat session; reload the chat page"}, status_code=401)
    address = client_ip(request.scope)
    for limit, key in ((state.chat_per_visitor, visitor), (state.chat_per_address, address)):
        wait = limit.retry_after(key)
        if wait:
            return JSONResponse(
                {"error": "too many messages; please wait a moment"},
                status_code=429,
                headers={"Retry-After": str(wait)},
            )
    headers = {VISITOR_HEADER: visitor, PERSON_HEADER: state.visitors.person(address)}
    return await receive(services, "web", request, headers=headers)


@router.get("/chat/api/messages")
def list_messages(
    request: Request, session: SessionDep, after: int = Query(0, ge=0)
) -> JSONResponse:
    visitor = request.app.state.visitors.verified(request.cookies.get(VISITOR_COOKIE))
    if not visitor:
        return JSONResponse({"messages": []})
    conversation = session.exec(
        select(Conversation).where(Conversation.channel == "web", Conversation.chat_id == visitor)
    ).first()
    if conversation is None:
        return JSONResponse({"messages": []})
    rows = session.exec(
        select(Message)
        .where(Message.conversation_id == conversation.id, col(Message.id) > after)
        .order_by(col(Message.id))
        .limit(200)
    ).all()
    return JSONResponse(
        {
            "messages": [
                {
                    "id": m.id,
                    "direction": m.direction,
                    "text": m.text or "",
                    "at": m.received_at.isoformat(),
                }
                for m in rows
            ]
        }
    )
