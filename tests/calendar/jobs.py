"""Job functions for scheduler tests: module-level, so the job table can refer to them."""

from __future__ import annotations

import os
from datetime import datetime

from bot import scheduler

MISSED: list[tuple[str, datetime]] = []


async def record(path: str) -> None:
    """Append which process and which scheduler context ran this job."""
    who = scheduler.context()
    who = who if isinstance(who, str) else type(who).__name__
    with open(path, "a", encoding="utf-8") as out:
        out.write(f"{os.getpid()} {who}\n")


def note_missed(job_id: str, run_time: datetime) -> None:
    MISSED.append((job_id, run_time))


scheduler.on_missed("test-missed:", note_missed)
