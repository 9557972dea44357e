"""The console's content calendar: a week or month of posts with their stage goals, forms to
add, approve and cancel posts, and the public /media/ images posts carry."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Annotated

from babel.dates import format_interval, format_skeleton, get_day_names
from fastapi import APIRouter, File, Form, HTTPException, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response

from bot import i18n
from bot.auth.roles import has_role
from bot.calendar import posts
from bot.calendar.media import MAX_BYTES, image_path, save_image
from bot.calendar.publish import grace_of, sync_job
from bot.calendar.repeat import LAST_MONTH_DAY, RepeatError, describe, from_form, words
from bot.errors import DomainError
from bot.web.deps import CurrentLogin, CurrentUser, ServicesDep, SessionDep, SessionsDep
from bot.web.errors import http_status
from bot.web.routes.console import render
from db.engine import session_scope
from db.enums import PostStatus, Role
from nlp.types import STAGES

router = APIRouter()
VIEWS = ("week", "month")
# What the page says beside a post just added, approved or cancelled (?post=ID&done=...).
DONE = {
    "added": lambda: i18n.gettext("Added. A supervisor approves it before it goes out."),
    PostStatus.APPROVED: lambda: i18n.gettext("Approved: it goes out at its time."),
    PostStatus.CANCELLED: lambda: i18n.gettext("Cancelled: it will not go out."),
}


def _period(view: str, day: date) -> tuple[date, date]:
    """The first and last day shown: a Monday-to-Sunday week, or the weeks covering a month."""
    if view == "week":
        first = day - timedelta(days=day.weekday())
        return first, first + timedelta(days=6)
    first_of_month = day.replace(day=1)
    next_month = (first_of_month + timedelta(days=32)).replace(day=1)
    first = first_of_month - timedelta(days=first_of_month.weekday())
    last = next_month - timedelta(days=1)
    return first, last + timedelta(days=6 - last.weekday())


def _shift(view: str, day: date, step: int) -> date:
    if view == "week":
        return day + timedelta(days=7 * step)
    month = day.month - 1 + step
    return date(day.year + month // 12, month % 12 + 1, 1)


def _names(first: date, last: date, view: str, day: date) -> dict:
    """Dates as the reader's language writes them: the period's title, each day's heading,
    the weekday names (Monday first, as the calendar runs)."""
    locale = i18n.current_locale()
    if view == "week":
        title = format_interval(first, last, "yMMMd", locale=locale)
    else:
        title = format_skeleton("yMMMM", day, locale=locale)
    return {
        "period_title": title,
        "day_heading": lambda d: format_skeleton("MMMd", d, locale=locale),
        "weekday_short": [get_day_names("abbreviated", locale=locale)[i] for i in range(7)],
        "weekdays": [get_day_names("wide", locale=locale)[i] for i in range(7)],
    }


def _today(services) -> date:
    return datetime.now(posts.zone(services.settings.timezone)).date()


def _calendar_context(session, services, user, login, sessions, view, day, **extra) -> dict:
    tz = posts.zone(services.settings.timezone)
    first, last = _period(view, day)
    start = datetime.combine(first, time(), tz)
    end = datetime.combine(last + timedelta(days=1), time(), tz)
    by_day: dict[date, list] = {}
    for item in posts.calendar(session, start, end):
        by_day.setdefault(item.at.astimezone(tz).date(), []).append(item)
    days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    return {
        "user": user,
        "csrf": sessions.csrf_token(login),
        "view": view,
        "day": day,
        "weeks": [days[i : i + 7] for i in range(0, len(days), 7)],
        "by_day": by_day,
        "tz": tz,
        "today": _today(services),
        "prev": _shift(view, day, -1),
        "next": _shift(view, day, 1),
        "stages": STAGES,
        "can_approve": has_role(user, Role.SUPERVISOR),
        "can_write_cron": has_role(user, Role.ADMIN),
        "repeat_words": describe,
        **_names(first, last, view, day),
        "last_month_day": LAST_MONTH_DAY,
        "error": None,
        "form": {},
        **extra,
    }


def _shown_day(text: str) -> date | None:
    """The day a calendar view is built around, or None: a month around year 1 or 9999
    overflows when its edges are converted to UTC."""
    try:
        day = date.fromisoformat(text)
    except ValueError:
        return None
    return day if 1970 <= day.year <= 9000 else None


@router.get("/console/calendar", response_class=HTMLResponse)
def calendar_page(
    request: Request,
    session: SessionDep,
    services: ServicesDep,
    user: CurrentUser,
    login: CurrentLogin,
    sessions: SessionsDep,
    view: str = "week",
    day: str | None = None,
    post: int | None = None,
    done: str | None = None,
) -> HTMLResponse:
    if view not in VIEWS:
        raise HTTPException(422, i18n.gettext("The calendar shows a week or a month."))
    shown = _shown_day(day) if day else _today(services)
    if shown is None:
        raise HTTPException(
            422, i18n.gettext("The day must look like 2026-12-01, between 1970 and 9000.")
        )
    context = _calendar_context(session, services, user, login, sessions, view, shown)
    if post is not None and done in DONE:  # said beside the post, which is shown open
        context |= {"done_post": post, "done_text": DONE[done]()}
    return render(request, "calendar.html", **context)


@router.post("/console/posts")
async def add_post(
    request: Request,
    session: SessionDep,
    services: ServicesDep,
    user: CurrentUser,
    login: CurrentLogin,
    sessions: SessionsDep,
    text: Annotated[str, Form()] = "",
    target: Annotated[str, Form()] = "",
    day: Annotated[str, Form()] = "",
    at: Annotated[str, Form()] = "",
    every: Annotated[str, Form(max_length=16)] = "",
    every_weekday: Annotated[str, Form(max_length=8)] = "",
    every_day: Annotated[str, Form(max_length=8)] = "",
    repeat: Annotated[str, Form(max_length=200)] = "",
    stage_goal: Annotated[str, Form()] = "",
    image_url: Annotated[str, Form()] = "",
    image: Annotated[UploadFile | None, File()] = None,
) -> Response:
    settings = services.settings
    form = {"text": text, "target": target, "day": day, "at": at, "repeat": repeat}
    form |= {"every": every, "every_weekday": every_weekday, "every_day": every_day}
    form |= {"stage_goal": stage_goal, "image_url": image_url}
    upload = await image.read(MAX_BYTES + 1) if image is not None and image.filename else b""

    def create():
        stored = None
        if upload:
            stored = save_image(settings.calendar.media_dir, upload)
        elif image_url.strip():
            stored = posts.check_image_url(image_url)
        when = posts.parse_local(f"{day} {at}", settings.timezone)
        chosen = from_form(
            every,
            at,
            every_weekday,
            every_day,
            start=when.astimezone(posts.zone(settings.timezone)).date(),
        )
        cron = posts.repeat_rule(user, chosen, repeat)
        with session_scope(services.engine) as db:
            return posts.create_post(
                db,
                user,
                text=text,
                target=target,
                when=when,
                cron=cron,
                stage_goal=stage_goal,
                image=stored,
                timezone=settings.timezone,
            )

    try:
        post = await run_in_threadpool(create)
    except DomainError as error:
        shown = _shown_day(day) or _today(services)
        form["chosen_repeat"] = _chosen_words(every, at, every_weekday, every_day, shown)
        context = _calendar_context(
            session, services, user, login, sessions, "week", shown, error=error.text(), form=form
        )
        return render(request, "calendar.html", status=http_status(error), **context)
    return RedirectResponse(_shown_at(post, settings, "added"), status_code=303)


def _chosen_words(every, at, weekday, day, start: date) -> str:
    """The repeat picked in a form that came back with an error, in words ("" if none)."""
    try:
        chosen = from_form(every, at, weekday, day, start=start)
    except RepeatError:
        return ""
    return words(chosen) if chosen else ""


def _shown_at(post, settings, done: str) -> str:
    """The week of the post, opened at the post with what was just done to it."""
    local_day = post.scheduled_at.astimezone(posts.zone(settings.timezone)).date()
    return f"/console/calendar?view=week&day={local_day}&post={post.id}&done={done}#post-{post.id}"


async def _decide(services, fn, post_id: int, user, done: str, **kwargs) -> str:
    def run():
        with session_scope(services.engine) as db:
            post = fn(db, post_id, user, **kwargs)
        sync_job(services.scheduler, post, grace_of(services.settings))
        return post

    post = await run_in_threadpool(run)  # a refusal answers by bot/web/errors.py
    return _shown_at(post, services.settings, done)


@router.post("/console/posts/{post_id}/approve")
async def approve_post(
    post_id: int,
    services: ServicesDep,
    user: CurrentUser,
) -> Response:
    grace = grace_of(services.settings)
    to = await _decide(
        services, posts.approve_post, post_id, user, PostStatus.APPROVED, grace=grace
    )
    return RedirectResponse(to, status_code=303)


@router.post("/console/posts/{post_id}/cancel")
async def cancel_post(
    post_id: int,
    services: ServicesDep,
    user: CurrentUser,
    reason: Annotated[str, Form()] = "",
) -> Response:
    to = await _decide(
        services, posts.cancel_post, post_id, user, PostStatus.CANCELLED, reason=reason
    )
    return RedirectResponse(to, status_code=303)


@router.get("/media/{name}", include_in_schema=False)
def media(name: str, services: ServicesDep) -> FileResponse:
    path = image_path(services.settings.calendar.media_dir, name)
    if path is None:
        raise HTTPException(404, i18n.gettext("There is no such image."))
    return FileResponse(path, headers={"Cache-Control": "public, max-age=86400"})
