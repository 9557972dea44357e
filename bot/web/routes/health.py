"""Liveness and readiness: `/healthz` answers 200 only when the database answers too."""

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text

from bot.web.deps import ServicesDep

router = APIRouter()


@router.get("/healthz")
def healthz(services: ServicesDep) -> JSONResponse:
    try:
        with services.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception:
        return JSONResponse({"status": "unavailable", "database": "down"}, status_code=503)
    return JSONResponse({"status": "ok", "database": "ok", "channels": sorted(services.channels)})
