"""`replyline serve`, `replyline worker` and `replyline db upgrade`."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import secrets
import sys

from bot import heap
from bot.config import get_settings
from bot.i18n import gettext as _


def register(subparsers) -> None:
    serve = subparsers.add_parser("serve", help="run the web app and the pipeline worker")
    serve.add_argument("--host", help="address to listen on (default REPLYLINE_HOST)")
    serve.add_argument("--port", type=int, help="port (default REPLYLINE_PORT)")
    serve.set_defaults(func=cmd_serve)

    worker = subparsers.add_parser(
        "worker", help="run the pipeline worker and scheduled jobs, no web app"
    )
    worker.add_argument(
        "--no-scheduler", action="store_true", help="leave scheduled jobs to other processes"
    )
    # `serve` with REPLYLINE_WORKER_PROCESS: the pipe that wakes this child
    # (bot/pipeline/worker_process.py)
    worker.add_argument("--wake-fd", type=int, help=argparse.SUPPRESS)
    worker.set_defaults(func=cmd_worker)

    db = subparsers.add_parser("db", help="database maintenance")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    upgrade = db_sub.add_parser("upgrade", help="apply migrations")
    upgrade.set_defaults(func=cmd_db_upgrade)


def cmd_db_upgrade(args) -> int:
    from db.migrate import upgrade

    upgrade(get_settings().database.url)
    print(_("The database is up to date."))
    return 0


def cmd_serve(args) -> int:
    import uvicorn

    from bot.web.app import create_app
    from db.migrate import upgrade

    settings = get_settings()
    if args.host:
        settings.web.host = args.host
    if args.port:
        settings.web.port = args.port
    if settings.pipeline.worker_process is None:  # a busy inbox must not wait for the model
        settings.pipeline.worker_process = True
    if settings.database.is_sqlite:
        upgrade(settings.database.url)
    app = create_app(settings)
    _print_welcome(app.state.services, settings)
    heap.enable()
    heap.settle()  # what the app loaded lives as long as the process (bot/heap.py)
    uvicorn.run(
        app,
        host=settings.web.host,
        port=settings.web.port,
        log_level="info",
        log_config=None,  # keep bot/logs.py's redacting handler for uvicorn's records too
        access_log=False,
        proxy_headers=False,  # the app applies X-Forwarded-* from REPLYLINE_TRUSTED_PROXIES
    )
    return 0


def _print_welcome(services, settings) -> None:
    """First start: create an admin with a one-time password, shown only on this terminal."""
    from sqlalchemy.exc import IntegrityError
    from sqlmodel import Session, select

    from bot.web.security import hash_password
    from db.engine import session_scope
    from db.enums import Role
    from db.models import User

    with Session(services.engine) as session:
        has_users = session.exec(select(User.id).limit(1)).first() is not None
    lines = [
        _("replyline console: {url}").format(url=settings.web.console_url),
        _("web chat: {url}").format(url=f"{settings.web.base_url}/chat"),
    ]
    created = False
    if not has_users:
        password = secrets.token_urlsafe(12)
        try:
            with session_scope(services.engine) as session:
                admin = User(
                    username="admin",
                    password_hash=hash_password(password),
                    role=Role.ADMIN,
                    must_change_password=True,  # printed on a terminal: good for one login
                )
                session.add(admin)
        except IntegrityError:
            pass  # several processes started on a new database at once: another one made it
        else:
            created = True
    if created:
        lines += [
            _("First start: created console user 'admin' with password: {password}").format(
                password=password
            ),
            _(
                "(shown once, and the console asks for a new one at the first login; add your "
                "team with: replyline user add NAME --role agent)"
            ),
        ]
    else:
        lines.append(
            _("Log in with a console user (create one: replyline user add NAME --role admin)")
        )
    print("\n".join(lines), file=sys.stderr, flush=True)


def cmd_worker(args) -> int:
    from bot.services import Services

    settings = get_settings()
    if args.wake_fd is not None and settings.pipeline.worker_nice:
        # serve's child: the whole pipeline yields to the web process, which answers webhooks
        # (holding SQLite's write lock at a low priority while starved is what a thread's
        # priority alone would risk)
        os.nice(settings.pipeline.worker_nice)
    heap.enable()  # the worker settles after its first round (bot/pipeline/worker.py)
    services = Services.build(settings)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_work(services, scheduler=not args.no_scheduler, wake_fd=args.wake_fd))
    return 0


async def _work(services, scheduler: bool = True, wake_fd: int | None = None) -> None:
    """The pipeline worker with the scheduler alongside (without `scheduler`, only the shared
    job table, to add jobs others run), both stopped together, also on SIGTERM (so another
    process takes over scheduled jobs at once)."""
    import signal

    from bot.jobs import open_job_table, start_scheduler, stop_scheduler
    from bot.pipeline.warm_up import warm_up_in_background
    from bot.pipeline.worker_process import watch_wake_pipe

    if services.settings.pipeline.worker_warm_up:
        warm_up_in_background(services.pipeline, services.settings.nlp)
    opened = await (start_scheduler(services) if scheduler else open_job_table(services))
    work = asyncio.create_task(services.worker.run())
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, work.cancel)
    if wake_fd is not None:
        loop.add_signal_handler(signal.SIGINT, lambda: None)  # Ctrl-C: the web process decides
        watch_wake_pipe(wake_fd, services.worker.notify, work.cancel)
    try:
        with contextlib.suppress(asyncio.CancelledError):
            await work
    finally:
        if opened:
            await stop_scheduler(services)
