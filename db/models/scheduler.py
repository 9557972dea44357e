"""The table APScheduler keeps its jobs in, declared here so migrations create and check it.

Its columns are exactly those APScheduler's SQLAlchemyJobStore defines (3.x); the store finds
the table already there and uses it."""

from __future__ import annotations

from sqlalchemy import Column, Float, LargeBinary, Table, Unicode
from sqlmodel import SQLModel

JOBS_TABLE = "apscheduler_jobs"

apscheduler_jobs = Table(
    JOBS_TABLE,
    SQLModel.metadata,
    Column("id", Unicode(191), primary_key=True),
    Column("next_run_time", Float(25), index=True),
    Column("job_state", LargeBinary, nullable=False),
)
