"""`replyline posts add|list|approve|cancel`: the content calendar from the shell, audited like
the console. Decisions are made as the console user named by --as (or REPLYLINE_USER)."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

from bot.cli import CommandError, acting_user
from bot.cli.shown import iso, when, zone_note
from bot.config import get_settings
from bot.i18n import gettext as _
from bot.i18n import post_status_label, stage_label

WEEKDAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
EVERY_CHOICES = ("day", "weekday", *WEEKDAY_NAMES, "month")


def register(subparsers) -> None:
    posts = subparsers.add_parser("posts", help="the content calendar: scheduled posts")
    sub = posts.add_subparsers(dest="posts_command", required=True)

    add = sub.add_parser("add", help="plan a post (a supervisor approves it before it goes out)")
    add.add_argument("--text", required=True, help="the post; '-' reads it from stdin")
    add.add_argument(
        "--target",
        required=True,
        help="telegram:@channel, telegram:<chat id>, line:broadcast or line:audience:<id>",
    )
    add.add_argument(
        "--at", required=True, help="when, e.g. '2026-12-01 10:00' (REPLYLINE_TIMEZONE)"
    )
    add.add_argument(
        "--every",
        choices=EVERY_CHOICES,
        help="repeat at --at's time: every day, every weekday (Monday to Friday), every monday"
        " (…sunday), or every month on --at's day of the month",
    )
    add.add_argument(
        "--repeat",
        help="admins: a cron rule 'minute hour day month weekday', e.g. '0 10 * * mon'",
    )
    add.add_argument(
        "--stage",
        required=True,
        choices=("identification", "relationship", "collaboration"),
        help="the stage goal the post serves",
    )
    add.add_argument("--image", help="an https:// image URL or a local JPEG/PNG file")
    _as_user(add)
    add.set_defaults(func=cmd_add)

    ls = sub.add_parser("list", help="list posts")
    ls.add_argument("--status", help="planned, approved, sent, failed, missed or cancelled")
    ls.add_argument("--json", action="store_true", help="print JSON lines")
    ls.add_argument("--limit", type=int, default=200)
    ls.set_defaults(func=cmd_list)

    approve = sub.add_parser("approve", help="approve a planned post (supervisors)")
    approve.add_argument("id", type=int)
    _as_user(approve)
    approve.set_defaults(func=cmd_approve)

    cancel = sub.add_parser("cancel", help="cancel a planned or approved post")
    cancel.add_argument("id", type=int)
    cancel.add_argument("--reason", default="")
    _as_user(cancel)
    cancel.set_defaults(func=cmd_cancel)


def _as_user(parser) -> None:
    parser.add_argument(
        "--as",
        dest="as_user",
        default=None,
        help="console user acting (default REPLYLINE_USER)",
    )


def _run(args, action):
    """Run `action(session, user, settings)` as the --as user in one transaction, then bring
    the post's scheduler job in line with its new status."""
    from bot.calendar.publish import grace_of, sync_job
    from bot.scheduler import job_table
    from db.engine import make_engine, session_scope
    from db.migrate import upgrade

    settings = get_settings()
    if settings.database.is_sqlite:
        upgrade(settings.database.url)
    with session_scope(make_engine(settings.database.url)) as session:
        post = action(session, acting_user(session, args.as_user), settings)

    async def sync() -> None:
        async with job_table(settings.database.url) as table:
            sync_job(table, post, grace_of(settings))

    asyncio.run(sync())
    return post


def cmd_add(args) -> int:
    from bot.calendar.media import save_image
    from bot.calendar.posts import (
        check_image_url,
        create_post,
        parse_local,
        repeat_rule,
        zone,
    )

    text = sys.stdin.read() if args.text == "-" else args.text

    def action(session, user, settings):
        image = None
        if args.image and args.image.startswith(("https://", "http://")):
            image = check_image_url(args.image)
        elif args.image:
            path = Path(args.image)
            if not path.is_file():
                raise CommandError(_("{path} is not a file.").format(path=path))
            image = save_image(settings.calendar.media_dir, path.read_bytes())
        when = parse_local(args.at, settings.timezone)
        cron = repeat_rule(
            user, _every(args.every, when.astimezone(zone(settings.timezone))), args.repeat
        )
        return create_post(
            session,
            user,
            text=text,
            target=args.target,
            when=when,
            cron=cron,
            stage_goal=args.stage,
            image=image,
            timezone=settings.timezone,
            via="cli",
        )

    post = _run(args, action)
    print(
        _("Post #{id} is planned; a supervisor approves it: replyline posts approve {id}").format(
            id=post.id
        )
    )
    return 0


def _every(choice: str | None, start):
    """--every as a repeat at the first post's local time (`start`)."""
    from bot.calendar.repeat import Repeat

    if not choice:
        return None
    at = start.time().replace(second=0, microsecond=0, tzinfo=None)
    if choice in WEEKDAY_NAMES:
        return Repeat("week", at, weekday=WEEKDAY_NAMES.index(choice))
    if choice == "month":
        from bot.calendar.repeat import LAST_MONTH_DAY

        if start.day > LAST_MONTH_DAY:
            raise CommandError(
                _("A monthly post starts on day 1 to {last} of the month.").format(
                    last=LAST_MONTH_DAY
                )
            )
        return Repeat("month", at, day=start.day)
    return Repeat(choice, at)


def cmd_approve(args) -> int:
    from bot.calendar.posts import approve_post
    from bot.calendar.publish import grace_of

    post = _run(
        args,
        lambda session, user, settings: approve_post(
            session, args.id, user, grace=grace_of(settings), via="cli"
        ),
    )
    print(_("Post #{id}: {status}.").format(id=post.id, status=post_status_label(post.status)))
    return 0


def cmd_cancel(args) -> int:
    from bot.calendar.posts import cancel_post

    post = _run(
        args,
        lambda session, user, settings: cancel_post(
            session, args.id, user, reason=args.reason, via="cli"
        ),
    )
    print(_("Post #{id}: {status}.").format(id=post.id, status=post_status_label(post.status)))
    return 0


def cmd_list(args) -> int:
    from sqlmodel import Session, col, select

    from bot.calendar.posts import OPEN, trigger_for, upcoming
    from bot.calendar.repeat import describe
    from db.engine import make_engine
    from db.models import Post
    from db.types import utcnow

    settings = get_settings()
    with Session(make_engine(settings.database.url)) as session:
        query = select(Post).order_by(col(Post.scheduled_at), col(Post.id)).limit(args.limit)
        if args.status:
            query = query.where(Post.status == args.status)
        posts = session.exec(query).all()
    now = utcnow()
    for post in posts:
        upcoming_times = [
            t
            for t in (upcoming(trigger_for(post), now, 1) if post.status in OPEN else [])
            if t >= now
        ]
        item = {
            "id": post.id,
            "status": post.status,
            "target": f"{post.channel}:{post.target}",
            "at": iso(post.scheduled_at),
            "repeat": post.cron,
            "next": iso(upcoming_times[0]) if upcoming_times else None,
            "stage_goal": post.stage_goal,
            "image": post.image,
            "text": post.text,
            "error": post.error,
        }
        if args.json:
            print(json.dumps(item, ensure_ascii=False))
        else:
            shown = (
                _("repeats {rule}").format(rule=describe(post.cron))
                if post.cron
                else when(post.scheduled_at)
            )
            print(
                f"#{post.id} [{post_status_label(post.status)}] {item['target']} {shown} "
                f"({stage_label(post.stage_goal)}): {post.text[:60]!r}"
            )
    if posts and not args.json:
        print(zone_note())
    elif not args.json:
        print(_("No posts."))
    return 0
