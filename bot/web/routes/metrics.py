"""`/metrics` for Prometheus (see bot/metrics.py). Protect it with REPLYLINE_METRICS_TOKEN or
keep it off the public proxy."""

from __future__ import annotations

import hmac

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST

from bot.metrics import database_registry, exposition
from bot.web.deps import ServicesDep

router = APIRouter()


@router.get("/metrics", include_in_schema=False)
def metrics(request: Request, services: ServicesDep) -> Response:
    token = services.settings.web.metrics_token
    if token is not None:
        given = request.headers.get("authorization", "")
        if not hmac.compare_digest(given.encode(), f"Bearer {token.get_secret_value()}".encode()):
            return JSONResponse({"error": "metrics need the bearer token"}, status_code=401)
    state = request.app.state
    if getattr(state, "metrics_registry", None) is None:
        state.metrics_registry = database_registry(services.engine)
    return Response(exposition(state.metrics_registry), media_type=CONTENT_TYPE_LATEST)
