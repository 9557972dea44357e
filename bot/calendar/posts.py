"""The content calendar's rules: add a post, approve it (supervisors), cancel it, and list what
the calendar shows for a period. The console and the CLI both call these; every decision is
audited. Sending is bot/calendar/publish.py's job."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.date import DateTrigger
from sqlmodel import Session, col, or_, select

from bot.auth.roles import has_role
from bot.calendar.repeat import Repeat
from bot.errors import Conflict, Forbidden, Invalid, NotFound
from bot.i18n.catalog import N_
from db.enums import PostStatus, Role
from db.models import AuditLog, Post, PostRun, User
from db.types import utcnow
from nlp.types import STAGES

MAX_TEXT = 4000  # LINE's text message limit is 5000, a Telegram caption 1024 (adapters split)
MIN_INTERVAL = timedelta(hours=1)  # anti-spam: a recurring post goes out at most hourly
OPEN = (PostStatus.PLANNED, PostStatus.APPROVED)
# Where a post can go: the channel and the audience address Channel.publish understands.
TARGETS = {
    "telegram": re.compile(r"^(@[A-Za-z][A-Za-z0-9_]{3,31}|-?\d{1,20})$"),
    "line": re.compile(r"^(broadcast|audience:\d{1,20})$"),
}
TARGET_HELP = (
    "telegram:@channelname, telegram:<chat id>, line:broadcast or line:audience:<audience id>"
)
_WEEKDAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")


def check_image_url(url: str) -> str:
    """A linked image must be a public https URL (LINE fetches images only over https)."""
    url = url.strip()
    if not re.fullmatch(r"https://[^\s<>\"']{4,490}", url):
        raise Invalid(N_("an image link must be an https:// URL"))
    return url


def parse_target(spec: str) -> tuple[str, str]:
    """Split "telegram:@brand" into ("telegram", "@brand"), "line:audience:1" into ("line",
    "audience:1"), checking the address is one that channel can publish to."""
    channel, _, target = (spec or "").strip().partition(":")
    pattern = TARGETS.get(channel)
    if pattern is None or not pattern.match(target):
        raise Invalid(
            N_("target {spec!r} is not one of: {targets}"), spec=spec, targets=TARGET_HELP
        )
    return channel, target


def _weekday_names(field: str) -> str:
    """Standard crontab weekdays (0 or 7 = Sunday) as names, because APScheduler 3 counts
    0 = Monday; names mean the same to both."""
    if not re.fullmatch(r"[0-7*,/-]+", field) or field == "*":
        return field
    days: set[int] = set()
    for part in field.split(","):
        base, _, step = part.partition("/")
        if base == "*":
            low, high = 0, 6
        elif "-" in base:
            low, high = (int(x) for x in base.split("-", 1))
        else:
            low = high = int(base)
        if not (0 <= low <= 7 and 0 <= high <= 7 and low <= high):
            raise Invalid(N_("day of week {part!r} is out of range 0-7"), part=part)
        days.update(d % 7 for d in range(low, high + 1, int(step or 1)))
    return ",".join(_WEEKDAYS[d] for d in sorted(days))


def cron_trigger(expr: str, timezone: str, start: datetime | None = None) -> CronTrigger:
    """A five-field crontab expression (minute hour day month weekday) in `timezone`,
    refused when it would post more often than hourly."""
    fields = (expr or "").split()
    if len(fields) != 5:
        raise Invalid(N_("a repeat rule has five fields: minute hour day month weekday"))
    minute, hour, day, month, weekday = fields
    try:
        trigger = CronTrigger(
            minute=minute,
            hour=hour,
            day=day,
            month=month,
            day_of_week=_weekday_names(weekday),
            timezone=zone(timezone),
            start_date=start,
        )
    except ValueError as error:
        raise Invalid(N_("repeat rule {rule!r}: {reason}"), rule=expr, reason=str(error)) from error
    times = upcoming(trigger, start or utcnow(), limit=48)
    if not times:
        raise Invalid(N_("repeat rule {rule!r} never fires"), rule=expr)
    if any(b - a < MIN_INTERVAL for a, b in zip(times, times[1:], strict=False)):
        raise Invalid(N_("a recurring post may go out at most once an hour"))
    return trigger


def repeat_rule(user: User, every: Repeat | None = None, cron: str | None = None) -> str | None:
    """The cron rule a post repeats by: the one a repeat in words writes, or one typed in cron
    syntax, which only admins may write (everyone else picks a repeat in words)."""
    cron = (cron or "").strip()
    if cron and not has_role(user, Role.ADMIN):
        raise Forbidden(
            N_(
                "only an admin can type a repeat as a cron rule; "
                "choose how often it repeats instead"
            )
        )
    if cron and every is not None:
        raise Invalid(N_("choose how often the post repeats, or type a cron rule, not both"))
    return every.cron() if every is not None else cron or None


def parse_local(text: str, timezone: str) -> datetime:
    """ "2026-12-01 10:00" (in the calendar's time zone) or an ISO time with an offset."""
    try:
        when = datetime.fromisoformat((text or "").strip().replace("Z", "+00:00"))
    except ValueError as error:
        raise Invalid(
            N_("{text!r} is not a date and time like 2026-12-01 10:00"), text=text
        ) from error
    return when if when.tzinfo else when.replace(tzinfo=zone(timezone))


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise Invalid(N_("unknown time zone {name!r}"), name=name) from error


def upcoming(trigger: BaseTrigger, after: datetime, limit: int, until: datetime | None = None):
    """Fire times from `after` on (at most `limit`, none past `until`)."""
    times: list[datetime] = []
    previous = None
    when = trigger.get_next_fire_time(None, after)
    while when is not None and len(times) < limit and (until is None or when < until):
        times.append(when.astimezone(UTC))
        previous = when
        when = trigger.get_next_fire_time(previous, previous + timedelta(seconds=1))
    return times


def trigger_for(post: Post) -> BaseTrigger:
    if post.cron:
        return cron_trigger(post.cron, post.timezone, start=post.scheduled_at)
    return DateTrigger(post.scheduled_at, timezone=UTC)


def occurrence_due(post: Post, now: datetime, grace: timedelta) -> datetime | None:
    """The occurrence a publish job running at `now` is for: the latest time at or before now
    (within the grace period), or None when there is none."""
    if not post.cron:
        return post.scheduled_at if post.scheduled_at <= now else None
    times = upcoming(trigger_for(post), now - grace - timedelta(seconds=1), 1000, until=now)
    times = [t for t in times if t <= now]
    return times[-1] if times else None


def create_post(
    session: Session,
    user: User,
    *,
    text: str,
    target: str,
    when: datetime,
    stage_goal: str,
    cron: str | None = None,
    image: str | None = None,
    timezone: str = "Asia/Taipei",
    via: str = "console",
    now: datetime | None = None,
) -> Post:
    """A planned post; it goes out only after a supervisor approves it."""
    now = now or utcnow()
    text = (text or "").strip()
    if not text:
        raise Invalid(N_("a post needs text"))
    if len(text) > MAX_TEXT:
        raise Invalid(N_("a post can be at most {size} characters"), size=MAX_TEXT)
    if stage_goal not in STAGES:
        raise Invalid(N_("the stage goal must be one of {values}"), values=", ".join(STAGES))
    if when.tzinfo is None:
        raise Invalid(N_("the time needs a time zone"))
    channel, address = parse_target(target)
    cron = (cron or "").strip() or None
    if cron:
        cron_trigger(cron, timezone, start=when)
    elif when <= now:
        raise Invalid(N_("that time has passed; choose a time in the future"))
    post = Post(
        text=text,
        image=image or None,
        channel=channel,
        target=address,
        scheduled_at=when.astimezone(UTC),
        cron=cron,
        timezone=zone(timezone).key,
        stage_goal=stage_goal,
        created_by_id=user.id,
        created_at=now,
    )
    session.add(post)
    session.flush()
    _audit(session, user, via, "post_add", post, f"post {post.id} for {target}")
    return post


def approve_post(
    session: Session,
    post_id: int,
    user: User,
    *,
    grace: timedelta,
    via: str = "console",
    now: datetime | None = None,
) -> Post:
    """Supervisors approve planned posts; a one-off post whose time (and grace) has passed
    cannot be approved any more."""
    now = now or utcnow()
    if not has_role(user, Role.SUPERVISOR):
        raise Forbidden(N_("only a supervisor can approve posts"))
    post = _get(session, post_id)
    if post.status != PostStatus.PLANNED:
        raise Conflict(N_("post {post} is {status}, not waiting for approval"), post=post_id,
                       status=post.status)  # fmt: skip
    if not post.cron and post.scheduled_at + grace < now:
        raise Conflict(
            N_("post {post}'s time has passed; add it again with a new time"), post=post_id
        )
    post.status, post.approved_by_id, post.approved_at = PostStatus.APPROVED, user.id, now
    session.add(post)
    _audit(session, user, via, "post_approve", post, f"post {post.id}")
    return post


def cancel_post(
    session: Session, post_id: int, user: User, *, reason: str = "", via: str = "console"
) -> Post:
    """Whoever added a post may cancel it while it is planned; supervisors cancel any open
    post (a recurring one stops recurring)."""
    post = _get(session, post_id)
    if post.status not in OPEN:
        raise Conflict(N_("post {post} is already {status}"), post=post_id, status=post.status)
    own_plan = post.created_by_id == user.id and post.status == PostStatus.PLANNED
    if not (own_plan or has_role(user, Role.SUPERVISOR)):
        raise Forbidden(N_("only a supervisor can cancel this post"))
    post.status, post.cancelled_by_id, post.cancelled_at = PostStatus.CANCELLED, user.id, utcnow()
    session.add(post)
    why = f"post {post.id}" + (f": {reason.strip()}" if reason and reason.strip() else "")
    _audit(session, user, via, "post_cancel", post, why)
    return post


def _get(session: Session, post_id: int) -> Post:
    post = session.get(Post, post_id, with_for_update=True)
    if post is None:
        raise NotFound(N_("post {post} does not exist"), post=post_id)
    return post


def _audit(session: Session, user: User, via: str, action: str, post: Post, reason: str) -> None:
    session.add(
        AuditLog(
            user_id=user.id,
            username=user.username,
            via=via,
            action=action,
            after_text=post.text,
            reason=reason,
        )
    )


@dataclass(frozen=True)
class Occurrence:
    """One entry on the calendar: a post at a time, with what happened (or will)."""

    post: Post
    at: datetime
    status: str
    run: PostRun | None = None

    @property
    def recurring(self) -> bool:
        return self.post.cron is not None


def calendar(
    session: Session, start: datetime, end: datetime, now: datetime | None = None
) -> list[Occurrence]:
    """Everything the calendar shows in [start, end): one-off posts, past runs of recurring
    posts with their outcome, and the upcoming times of open recurring posts."""
    now = now or utcnow()
    posts = session.exec(
        select(Post).where(
            or_(
                col(Post.cron).is_not(None) & (col(Post.scheduled_at) < end),
                col(Post.cron).is_(None)
                & (col(Post.scheduled_at) >= start)
                & (col(Post.scheduled_at) < end),
            )
        )
    ).all()
    ids = [p.id for p in posts]
    runs = session.exec(
        select(PostRun).where(
            col(PostRun.post_id).in_(ids),
            col(PostRun.scheduled_for) >= start,
            col(PostRun.scheduled_for) < end,
        )
    ).all()
    by_post: dict[int, list[PostRun]] = {}
    for run in runs:
        by_post.setdefault(run.post_id, []).append(run)
    items: list[Occurrence] = []
    for post in posts:
        assert post.id is not None  # read from the table
        post_runs = by_post.get(post.id, [])
        if not post.cron:
            last = post_runs[-1] if post_runs else None
            items.append(Occurrence(post, post.scheduled_at, post.status, last))
            continue
        items += [Occurrence(post, r.scheduled_for, r.status, r) for r in post_runs]
        if post.status in OPEN:
            done = {r.scheduled_for for r in post_runs}
            for when in upcoming(trigger_for(post), max(start, now), 200, until=end):
                if when not in done:
                    items.append(Occurrence(post, when, post.status))
    return sorted(items, key=lambda o: (o.at, o.post.id))
