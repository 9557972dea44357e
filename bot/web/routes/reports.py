"""The console's report page for any period, with the same report as HTML and JSON downloads."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response

from bot.calendar.posts import zone
from bot.reports import Period, PeriodError, Report, build_report
from bot.reports.render import to_html, to_json
from bot.web.deps import CurrentLogin, CurrentUser, ServicesDep, SessionsDep
from bot.web.routes.console import render
from db.types import utcnow

router = APIRouter(prefix="/console")
From = Annotated[str | None, Query(alias="from")]
To = Annotated[str | None, Query(alias="to")]


def _period(services, first: str | None, last: str | None) -> Period:
    tz = zone(services.settings.timezone)
    if not first and not last:  # the last 30 days up to today
        today = utcnow().astimezone(tz).date()
        return Period(today - timedelta(days=29), today, tz)
    try:
        return Period.parse(first or "", last or "", tz)
    except PeriodError as error:
        raise HTTPException(422, str(error)) from error


async def _build(services, period: Period, charts: bool = True) -> Report:
    return await run_in_threadpool(build_report, services.engine, services.settings, period, charts)


@router.get("/reports", response_class=HTMLResponse)
async def report_page(
    request: Request,
    services: ServicesDep,
    user: CurrentUser,
    login: CurrentLogin,
    sessions: SessionsDep,
    first: From = None,
    last: To = None,
) -> HTMLResponse:
    context: dict[str, Any] = {
        "user": user,
        "csrf": sessions.csrf_token(login),
        "r": None,
        "charts": {},
    }
    try:
        period = _period(services, first, last)
    except HTTPException as error:
        return render(
            request,
            "report_page.html",
            status=422,
            error=error.detail,
            first=first,
            last=last,
            **context,
        )
    report = await _build(services, period)
    context |= {"r": report.data, "charts": report.charts, "error": None}
    return render(request, "report_page.html", first=period.first, last=period.last, **context)


@router.get("/reports/download")
async def report_download(
    services: ServicesDep, user: CurrentUser, first: From = None, last: To = None
) -> Response:
    period = _period(services, first, last)
    report = await _build(services, period)
    name = f"replyline-report-{period.first}-{period.last}.html"
    return HTMLResponse(
        to_html(report), headers={"Content-Disposition": f'attachment; filename="{name}"'}
    )


@router.get("/reports.json")
async def report_json(
    services: ServicesDep, user: CurrentUser, first: From = None, last: To = None
) -> Response:
    report = await _build(services, _period(services, first, last), charts=False)
    return Response(to_json(report), media_type="application/json")
