"""Start and stop the scheduler together with the jobs replyline always keeps scheduled.

`serve` (in the app's lifespan) and `worker` both call these; each feature with a standing
job (a periodic sweep, the monthly report) lists its installer in STANDING."""

from __future__ import annotations

from collections.abc import Callable

from bot.calendar import publish
from bot.crisis import monitor as crisis
from bot.reports import monthly
from bot.services import Services

# install(services) functions; each adds or refreshes its jobs with Scheduler.ensure_job.
STANDING: tuple[Callable[[Services], None], ...] = (
    publish.install,
    monthly.install,
    crisis.install,
)


async def start_scheduler(services: Services) -> bool:
    """Start competing to run jobs; False when the scheduler is switched off."""
    if not services.settings.calendar.scheduler_enabled:
        return False
    await services.scheduler.start()
    for install in STANDING:
        install(services)
    return True


async def open_job_table(services: Services) -> bool:
    """For a process that leaves running jobs to others (serve's pipeline child): open the
    shared job table so what happens here can still be timed there, e.g. the alert timer of
    an incident this process opens. False when the scheduler is switched off."""
    if not services.settings.calendar.scheduler_enabled:
        return False
    await services.scheduler.start(lead=False)
    crisis.install(services)
    return True


async def stop_scheduler(services: Services) -> None:
    await services.scheduler.stop()
