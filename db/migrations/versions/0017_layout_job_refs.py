"""layout: stored scheduler jobs name the calendar's publishing functions at their new module

bot/publish.py moved to bot/calendar/publish.py. APScheduler keeps each job's function as text
("module:function") inside the pickled job state; a job whose function cannot be imported is
dropped when it is loaded, so a post scheduled before the move would never be published.

Revision ID: 0017_layout_job_refs
Revises: 0016_user_locale
Create Date: 2026-12-06 17:50:00.000000
"""

import pickle
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017_layout_job_refs"
down_revision: str | Sequence[str] | None = "0016_user_locale"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MOVED = {
    "bot.publish:publish_post": "bot.calendar.publish:publish_post",
    "bot.publish:sweep": "bot.calendar.publish:sweep",
}


def _rewrite(refs: dict[str, str]) -> None:
    jobs = sa.table("apscheduler_jobs", sa.column("id"), sa.column("job_state", sa.LargeBinary))
    bind = op.get_bind()
    for job_id, blob in bind.execute(sa.select(jobs.c.id, jobs.c.job_state)).all():
        state = pickle.loads(blob)  # written by APScheduler into our own database
        if state.get("func") in refs:
            state["func"] = refs[state["func"]]
            blob = pickle.dumps(state, pickle.HIGHEST_PROTOCOL)
            bind.execute(jobs.update().where(jobs.c.id == job_id).values(job_state=blob))


def upgrade() -> None:
    _rewrite(MOVED)


def downgrade() -> None:
    _rewrite({new: old for old, new in MOVED.items()})
