"""`replyline drafts list|approve|reject|reply|no-reply`: the review queue from the shell,
audited like the console. Decisions are made as the console user named by --as (or
REPLYLINE_USER)."""

from __future__ import annotations

import json

from bot.cli import acting_user
from bot.config import get_settings
from bot.i18n import draft_status_label, type_label
from bot.i18n import gettext as _


def register(subparsers) -> None:
    drafts = subparsers.add_parser("drafts", help="review drafts from the shell")
    sub = drafts.add_subparsers(dest="drafts_command", required=True)

    ls = sub.add_parser("list", help="list drafts")
    ls.add_argument("--status", default=None, help="pending, approved, edited, rejected, sent...")
    ls.add_argument("--json", action="store_true", help="print JSON lines")
    ls.add_argument("--limit", type=int, default=100)
    ls.set_defaults(func=cmd_list)

    for name, helptext in (("approve", "approve a draft"), ("reject", "reject a draft")):
        p = sub.add_parser(name, help=helptext)
        p.add_argument("id", type=int)
        p.add_argument(
            "--as",
            dest="as_user",
            default=None,
            help="console user making the decision (default REPLYLINE_USER)",
        )
        if name == "approve":
            p.add_argument("--text", help="send this text instead (an edit)")
            p.set_defaults(func=cmd_approve)
        else:
            p.add_argument("--reason", required=True)
            p.set_defaults(func=cmd_reject)

    for name, helptext in (
        ("reply", "answer a message with a reply written from scratch"),
        ("no-reply", "mark a message as needing no reply (with a reason)"),
    ):
        p = sub.add_parser(name, help=helptext)
        p.add_argument("message_id", type=int)
        p.add_argument(
            "--as",
            dest="as_user",
            default=None,
            help="console user making the decision (default REPLYLINE_USER)",
        )
        if name == "reply":
            p.add_argument("--text", required=True)
            p.set_defaults(func=cmd_reply)
        else:
            p.add_argument("--reason", required=True)
            p.set_defaults(func=cmd_no_reply)


def _engine():
    from db.engine import make_engine

    return make_engine(get_settings().database.url)


def cmd_list(args) -> int:
    from sqlmodel import Session, col, select

    from bot.review.contact_names import contact_name
    from db.models import Contact, Draft, Message

    with Session(_engine()) as session:
        query = (
            select(Draft, Message, Contact)
            .join(Message, col(Message.id) == col(Draft.message_id))
            .outerjoin(Contact, col(Contact.id) == col(Message.contact_id))
        )
        if args.status:
            query = query.where(Draft.status == args.status)
        rows = session.exec(query.order_by(col(Draft.id)).limit(args.limit)).all()
    for draft, message, contact in rows:
        item = {
            "id": draft.id,
            "status": draft.status,
            "message_id": message.id,
            "channel": message.channel,
            "from": contact_name(contact),
            "type": message.type,
            "confidence": message.confidence,
            "stage": message.stage,
            "message": message.text,
            "text": draft.text,
            "playbook": draft.playbook,
        }
        if args.json:
            print(json.dumps(item, ensure_ascii=False))
        else:
            print(
                f"#{draft.id} [{draft_status_label(draft.status)}] {item['from']} "
                f"({type_label(message.type) or '?'}): {message.text!r} → {draft.text!r}"
            )
    if not rows and not args.json:
        print(_("No drafts."))
    return 0


def _decide(args, fn, **kwargs) -> int:
    return _as_user(args, lambda session, user: _said(fn(session, args.id, user, via="cli",
                                                          **kwargs)))  # fmt: skip


def _said(draft) -> None:
    print(_("Draft #{id}: {status}.").format(id=draft.id, status=draft_status_label(draft.status)))


def _as_user(args, act) -> int:
    from db.engine import session_scope

    with session_scope(_engine()) as session:
        act(session, acting_user(session, args.as_user))
    return 0


def cmd_approve(args) -> int:
    from bot.review.decisions import approve

    return _decide(args, approve, text=args.text)


def cmd_reject(args) -> int:
    from bot.review.decisions import reject

    return _decide(args, reject, reason=args.reason)


def cmd_reply(args) -> int:
    from bot.review.decisions import reply

    def act(session, user):
        draft = reply(session, args.message_id, user, args.text, via="cli")
        print(
            _("Message #{message}: reply #{id} is {status} and goes out next.").format(
                message=args.message_id, id=draft.id, status=draft_status_label(draft.status)
            )
        )

    return _as_user(args, act)


def cmd_no_reply(args) -> int:
    from bot.review.decisions import dismiss

    def act(session, user):
        count = dismiss(session, args.message_id, user, args.reason, via="cli")
        print(
            _("Message #{message}: no reply ({count} drafts closed).").format(
                message=args.message_id, count=count
            )
        )

    return _as_user(args, act)
