"""The web app: webhooks, web chat, console and health, with the pipeline worker alongside."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from functools import partial
from pathlib import Path
from typing import Annotated

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from bot.config import Settings, get_settings
from bot.crisis.wording import incident_title, signal_explanation, signal_kind
from bot.i18n import configure as configure_i18n
from bot.i18n.jinja import install as install_i18n
from bot.i18n.web import LocaleMiddleware
from bot.jobs import start_scheduler, stop_scheduler
from bot.logs import register_settings_secrets
from bot.pipeline.worker_process import WorkerProcess
from bot.reports.render import install as install_report_helpers
from bot.review.contact_names import contact_name, conversation_name
from bot.services import Services
from bot.web import error_pages
from bot.web.audit_notes import audit_note
from bot.web.bounds import integers_in_range
from bot.web.deps import LoginRequired, PasswordChangeRequired, require_role
from bot.web.errors import install as install_refusals
from bot.web.protect import install as install_protections
from bot.web.routes import admin, calendar, chat, console, followups, health, reports, webhooks
from bot.web.routes import crisis as crisis_routes
from bot.web.routes import metrics as metrics_routes
from bot.web.security import Sessions, shared_secret
from bot.web.visitors import RateLimit, Visitors
from db.enums import Role
from db.models import User
from handlers.redact import add_secrets

log = logging.getLogger(__name__)
HERE = Path(__file__).parent
# the report page includes the body the monthly report files are rendered from
REPORT_TEMPLATES = HERE.parent / "reports" / "templates"


def create_app(settings: Settings | None = None, services: Services | None = None) -> FastAPI:
    settings = settings or get_settings()
    services = services or Services.build(settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        for channel in services.channels.values():
            await channel.start()
        task = child = None
        if settings.pipeline.worker_enabled and settings.pipeline.worker_process:
            child = WorkerProcess(torch_threads=settings.nlp.torch_threads)
            await child.start()
            services.worker.forward = child.notify
        elif settings.pipeline.worker_enabled:
            task = asyncio.create_task(services.worker.run())
        await start_scheduler(services)
        following = asyncio.create_task(services.versions.follow(), name="state-versions")
        log.info("channels on: %s", ", ".join(sorted(services.channels)))
        try:
            yield
        finally:
            following.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await following
            await stop_scheduler(services)
            if task:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            if child:
                services.worker.forward = None
                await child.stop()
            for channel in services.channels.values():
                await channel.stop()

    # The schema maps every route for an attacker: only admins read it (below); no /docs.
    app = FastAPI(
        title="replyline",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        dependencies=[Depends(integers_in_range)],
    )
    app.state.services = services
    register_settings_secrets(settings)
    secret = shared_secret(
        services.engine,
        settings.web.secret_key.get_secret_value() if settings.web.secret_key else None,
    )
    add_secrets([secret])  # generated and kept in the database: never to be logged either
    app.state.sessions = Sessions(secret)
    app.state.visitors = Visitors(secret)
    window = settings.chat.window_seconds
    app.state.chat_per_visitor = RateLimit(settings.chat.max_posts_per_visitor, window)
    app.state.chat_per_address = RateLimit(settings.chat.max_posts_per_address, window)
    configure_i18n(settings.language, settings.timezone)
    app.state.templates = Jinja2Templates(directory=[HERE / "templates", REPORT_TEMPLATES])
    install_report_helpers(install_i18n(app.state.templates.env))
    app.state.templates.env.globals["active_incidents"] = partial(
        crisis_routes.banner_incidents, services.engine
    )
    app.state.templates.env.globals["contact_name"] = contact_name
    app.state.templates.env.globals["incident_title"] = incident_title  # reader's language
    app.state.templates.env.globals["signal_explanation"] = signal_explanation
    app.state.templates.env.globals["signal_kind"] = signal_kind
    app.state.templates.env.globals["audit_note"] = audit_note
    app.state.templates.env.globals["conversation_name"] = conversation_name
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    for module in (
        health,
        webhooks,
        chat,
        console,
        followups,
        admin,
        calendar,
        reports,
        crisis_routes,
    ):
        app.include_router(module.router)
    # Reliability (issue 8): /metrics, and the protections around every request.
    app.include_router(metrics_routes.router)
    install_protections(app, settings, services)
    install_refusals(app)
    app.add_middleware(LocaleMiddleware)  # outermost: even refusals speak the user's language
    error_pages.install(app)  # people get a page in their language, programs JSON as before

    @app.exception_handler(LoginRequired)
    async def to_login(request: Request, _exc: LoginRequired):
        return RedirectResponse("/console/login", status_code=303)

    @app.exception_handler(PasswordChangeRequired)
    async def to_password(request: Request, _exc: PasswordChangeRequired):
        return RedirectResponse("/console/password", status_code=303)

    @app.get("/openapi.json", include_in_schema=False)
    def openapi(_admin: Annotated[User, require_role(Role.ADMIN)]) -> JSONResponse:
        return JSONResponse(app.openapi())

    @app.get("/", include_in_schema=False)
    def index():
        return RedirectResponse("/chat")

    return app
