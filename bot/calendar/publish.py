"""Sending scheduled posts: one scheduler job per approved post ("post:<id>"), a missed-run
handler, and a sweep that keeps jobs and posts in step.

Each occurrence is claimed by inserting its PostRun (unique per post and time) before the
channel is called, so an occurrence goes out at most once even if two processes both believe
they lead for a moment. A post whose time passed while no replyline process ran goes out on
recovery if still within `post_grace_minutes`; otherwise it is marked missed."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta

from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from bot import scheduler as jobs
from bot.calendar.posts import occurrence_due, trigger_for
from bot.scheduler import Scheduler
from db.engine import session_scope
from db.enums import MessageState, PostRunStatus, PostStatus
from db.models import Conversation, Message, Post, PostRun
from db.types import utcnow
from handlers.base import SendResult

log = logging.getLogger(__name__)
PUBLISH = "bot.calendar.publish:publish_post"
SWEEP = "bot.calendar.publish:sweep"
ATTEMPTS = 3
STUCK = timedelta(hours=1)  # a run still "sending" this long ago: its process died mid-send


def job_id(post_id: int) -> str:
    return f"post:{post_id}"


def grace_of(settings) -> timedelta:
    return timedelta(minutes=settings.calendar.post_grace_minutes)


def schedule(scheduler: Scheduler, post: Post, grace: timedelta) -> None:
    """Store (or replace) the job that publishes an approved post."""
    assert post.id is not None  # only stored posts are approved
    scheduler.add_job(
        PUBLISH,
        trigger_for(post),
        id=job_id(post.id),
        args=[post.id],
        misfire_grace_time=int(grace.total_seconds()),
        coalesce=True,
    )


def sync_job(scheduler: Scheduler, post: Post, grace: timedelta) -> None:
    """After a decision: an approved post has its job, any other has none. A process whose
    scheduler is off leaves it to the leader's sweep."""
    if not scheduler.aps.running:
        return
    assert post.id is not None  # decided in the database
    if post.status == PostStatus.APPROVED:
        schedule(scheduler, post, grace)
    else:
        scheduler.remove_job(job_id(post.id))


def public_image_url(settings, image: str | None) -> str | None:
    """Platforms fetch images themselves: an uploaded file is served at /media/<name>."""
    if not image:
        return None
    if image.startswith(("https://", "http://")):
        return image
    return f"{settings.web.base_url}/media/{image}"


# -- the job --------------------------------------------------------------------------------


async def publish_post(post_id: int) -> None:
    """The scheduler job: publish the occurrence of the post that is due now."""
    await publish(jobs.context(), post_id)


async def publish(services, post_id: int, now: datetime | None = None) -> PostRun | None:
    """Claim and send the due occurrence of an approved post; None if there is nothing to do
    (not approved any more, or another process already claimed it)."""
    now = now or utcnow()
    grace = grace_of(services.settings)
    claimed = await asyncio.to_thread(_claim, services.engine, post_id, now, grace)
    if claimed is None:
        return None
    post, run = claimed
    channel = services.channels.get(post.channel)
    image_url = public_image_url(services.settings, post.image)
    key = f"post:{post.id}@{run.scheduled_for.isoformat()}"  # the same on every attempt
    result = SendResult(False, error=f"channel {post.channel} is not configured", permanent=True)
    attempts = 0
    while channel is not None and attempts < ATTEMPTS:
        attempts += 1
        try:
            result = await channel.publish(post.target, post.text, image_url, key=key)
        except Exception as error:  # a bug or network error must not lose the outcome
            log.exception("publishing post %s failed", post_id)
            result = SendResult(False, error=f"{type(error).__name__}: {error}")
        if result.ok or result.permanent or attempts == ATTEMPTS:
            break
        await asyncio.sleep(min(result.retry_after or 2**attempts, 30))
    assert run.id is not None  # committed by _claim
    return await asyncio.to_thread(_record, services.engine, post_id, run.id, result, attempts)


def _claim(engine, post_id: int, now: datetime, grace: timedelta) -> tuple[Post, PostRun] | None:
    with Session(engine, expire_on_commit=False) as session:
        post = session.get(Post, post_id)
        if post is None or post.status != PostStatus.APPROVED:
            log.info("post %s is not approved (any more); nothing to publish", post_id)
            return None
        when = occurrence_due(post, now, grace)
        if when is None:
            return None
        run = PostRun(
            post_id=post_id, scheduled_for=when, status=PostRunStatus.SENDING, started_at=now
        )
        session.add(run)
        try:
            session.commit()
        except IntegrityError:
            log.info("post %s at %s was already claimed", post_id, when)
            return None
        return post, run


def _record(engine, post_id: int, run_id: int, result: SendResult, attempts: int) -> PostRun:
    now = utcnow()
    with session_scope(engine) as session:
        post = session.get(Post, post_id, with_for_update=True)
        run = session.get(PostRun, run_id)
        assert post is not None and run is not None  # claimed by _claim; posts are never deleted
        run.attempts, run.finished_at = attempts, now
        run.platform_message_id = result.platform_message_id
        if result.ok:
            run.status, run.error = PostRunStatus.SENT, None
            run.message_id = _store_sent(session, post, result, now)
            post.sent_at, post.error = now, None
        else:
            run.status, run.error = PostRunStatus.FAILED, result.error or "failed"
            post.error = run.error
            log.warning("post %s failed: %s", post_id, run.error)
        if not post.cron and post.status == PostStatus.APPROVED:
            post.status = PostStatus(run.status)  # a one-off post ends as its run did
        session.add_all([post, run])
    return run


def _store_sent(session: Session, post: Post, result: SendResult, now: datetime) -> int | None:
    """A post to a chat is kept as an outbound message of that chat, so replies that quote it
    thread to it and the report can count them. Broadcasts have no chat to keep it in. The
    chat is the one the platform says it went to ("@brand" is a numeric chat id in updates)."""
    if post.channel != "telegram":
        return None
    chat_id = result.chat_id or post.target
    conversation = session.exec(
        select(Conversation).where(
            Conversation.channel == post.channel, Conversation.chat_id == chat_id
        )
    ).first()
    if conversation is None:
        conversation = Conversation(
            channel=post.channel, chat_id=chat_id, kind="group", created_at=now
        )
        session.add(conversation)
        session.flush()
    assert conversation.id is not None  # stored (or just flushed)
    message = Message(
        channel=post.channel,
        conversation_id=conversation.id,
        direction="out",
        kind="post",
        text=post.text,
        platform_message_id=result.platform_message_id,
        state=MessageState.IGNORED,
        sent_at=now,
        received_at=now,
    )
    session.add(message)
    session.flush()
    return message.id


# -- missed runs and the sweep --------------------------------------------------------------


def post_missed(job: str, scheduled_for: datetime) -> None:
    """The leader was down past the grace period: record the occurrence as missed."""
    record_missed(jobs.context().engine, int(job.split(":", 1)[1]), scheduled_for)


def record_missed(engine, post_id: int, scheduled_for: datetime, why: str | None = None) -> None:
    now = utcnow()
    why = why or "replyline was not running at the post's time or within its grace period"
    try:
        with session_scope(engine) as session:
            post = session.get(Post, post_id, with_for_update=True)
            if post is None:
                return
            session.add(
                PostRun(
                    post_id=post_id,
                    scheduled_for=scheduled_for.astimezone(UTC),
                    status=PostRunStatus.MISSED,
                    started_at=now,
                    finished_at=now,
                    error=why,
                )
            )
            if not post.cron and post.status in (PostStatus.PLANNED, PostStatus.APPROVED):
                post.status, post.error = PostStatus.MISSED, why
                session.add(post)
    except IntegrityError:
        log.info("post %s at %s already has an outcome", post_id, scheduled_for)


jobs.on_missed("post:", post_missed)


async def sweep() -> None:
    """The standing job: keep the calendar and the job table in step."""
    services = jobs.context()
    await asyncio.to_thread(sweep_once, services.engine, services.scheduler, services.settings)


def sweep_once(engine, scheduler: Scheduler, settings, now: datetime | None = None) -> dict:
    """Approved posts without a job get one (approved from the shell while no server ran, or
    a job lost); jobs of posts no longer approved go; one-off posts never approved in time
    are missed; runs left "sending" by a process that died mid-send fail with that reason."""
    now = now or utcnow()
    grace = grace_of(settings)
    done = {"scheduled": 0, "unscheduled": 0, "expired": 0, "stuck": 0}
    with Session(engine) as session:
        approved = session.exec(select(Post).where(col(Post.status) == PostStatus.APPROVED)).all()
        open_ids = {p.id for p in approved}
        expired = session.exec(
            select(Post.id, Post.scheduled_at).where(
                col(Post.status) == PostStatus.PLANNED,
                col(Post.cron).is_(None),
                col(Post.scheduled_at) < now - grace,
            )
        ).all()
    for post in approved:
        assert post.id is not None  # read from the table
        if scheduler.get_job(job_id(post.id)) is None and not _finished(engine, post):
            schedule(scheduler, post, grace)
            done["scheduled"] += 1
    for job in scheduler.aps.get_jobs():
        if job.id.startswith("post:") and int(job.id.split(":", 1)[1]) not in open_ids:
            scheduler.remove_job(job.id)
            done["unscheduled"] += 1
    for post_id, at in expired:
        assert post_id is not None  # a primary key
        record_missed(engine, post_id, at, "not approved before its time")
        done["expired"] += 1
    with session_scope(engine) as session:
        for run in session.exec(
            select(PostRun).where(
                col(PostRun.status) == PostRunStatus.SENDING,
                col(PostRun.started_at) < now - STUCK,
            )
        ):
            run.status, run.finished_at = PostRunStatus.FAILED, now
            run.error = "outcome unknown: the process stopped while sending"
            session.add(run)
            done["stuck"] += 1
    return done


def _finished(engine, post: Post) -> bool:
    """A one-off post that already has its run needs no job."""
    if post.cron:
        return False
    with Session(engine) as session:
        return (
            session.exec(select(PostRun.id).where(PostRun.post_id == post.id)).first() is not None
        )


def install(services) -> None:
    """Standing job: the sweep, every ten minutes."""
    services.scheduler.ensure_job(
        SWEEP,
        IntervalTrigger(minutes=10, timezone=UTC),
        id="calendar:sweep",
        misfire_grace_time=None,
    )
