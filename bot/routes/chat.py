"""The web chat: a page where anyone can write to the bot as a customer and read replies."""

from __future__ import annotations

import secrets

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse
from sqlmodel import select

from bot.deps import ServicesDep, SessionDep
from bot.routes.webhooks import receive
from db.models import Conversation, Message
from handlers.web import VISITOR_HEADER

router = APIRouter()
VISITOR_COOKIE = "replyline_visitor"


@router.get("/chat", response_class=HTMLResponse)
def chat_page(request: Request) -> HTMLResponse:
    response = request.app.state.templates.TemplateResponse(request, "chat.html", {})
    if not request.cookies.get(VISITOR_COOKIE):
        response.set_cookie(
            VISITOR_COOKIE,
            secrets.token_urlsafe(24),
            max_age=365 * 24 * 3600,
            httponly=True,
            samesite="lax",
            secure=request.url.scheme == "https",
        )
    return response


@router.post("/chat/api/messages")
async def post_message(request: Request, services: ServicesDep) -> JSONResponse:
    if not request.headers.get("content-type", "").startswith("application/json"):
        return JSONResponse({"error": "send JSON"}, status_code=415)
    visitor = request.cookies.get(VISITOR_COOKIE, "")
    return await receive(services, "web", request, headers={VISITOR_HEADER: visitor})


@router.get("/chat/api/messages")
def list_messages(
    request: Request, session: SessionDep, after: int = Query(0, ge=0)
) -> JSONResponse:
    visitor = request.cookies.get(VISITOR_COOKIE)
    if not visitor:
        return JSONResponse({"messages": []})
    conversation = session.exec(
        select(Conversation).where(Conversation.channel == "web", Conversation.chat_id == visitor)
    ).first()
    if conversation is None:
        return JSONResponse({"messages": []})
    rows = session.exec(
        select(Message)
        .where(Message.conversation_id == conversation.id, Message.id > after)
        .order_by(Message.id)
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
