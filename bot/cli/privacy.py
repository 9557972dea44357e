"""`replyline contact export|erase ID` and `replyline purge`: personal data on request and the
retention period (Taiwan PDPA). Export and erase are done as an admin named by --as, audited."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from bot.cli import CommandError
from bot.config import get_settings
from bot.i18n import gettext as _
from db.enums import Role


def register(subparsers) -> None:
    contact = subparsers.add_parser("contact", help="a contact's personal data (PDPA)")
    sub = contact.add_subparsers(dest="contact_command", required=True)
    for name, helptext in (
        ("export", "print everything stored about a contact as JSON"),
        ("erase", "erase a contact's personal data and message text, keeping counts"),
    ):
        p = sub.add_parser(name, help=helptext)
        p.add_argument("id", type=int, help="the contact id")
        p.add_argument(
            "--as",
            dest="as_user",
            default=None,
            help="admin doing this, for the audit log (default REPLYLINE_USER)",
        )
        if name == "export":
            p.add_argument("-o", "--output", type=Path, help="write to this file, not stdout")
            p.set_defaults(func=cmd_export)
        else:
            p.add_argument("--yes", action="store_true", help="do not ask for confirmation")
            p.set_defaults(func=cmd_erase)

    purge = subparsers.add_parser(
        "purge", help="remove message text older than the retention period"
    )
    purge.add_argument("--days", type=int, help="default REPLYLINE_RETENTION_DAYS")
    purge.set_defaults(func=cmd_purge)


def _engine():
    from db.engine import make_engine

    return make_engine(get_settings().database.url)


def _admin(engine, name: str | None):
    from sqlmodel import Session, select

    from bot.auth.roles import has_role
    from db.models import User

    if not name:
        raise CommandError(_("Say who does this: --as USERNAME (or set REPLYLINE_USER)."))
    with Session(engine) as session:
        user = session.exec(select(User).where(User.username == name)).first()
    if user is None or not user.active or not has_role(user, Role.ADMIN):
        raise CommandError(_("No active admin is named {name}.").format(name=name))
    return user


def cmd_export(args) -> int:
    from bot.privacy.contacts import export_contact

    engine = _engine()
    data = export_contact(engine, args.id, _admin(engine, args.as_user))  # NotFound: exit 2
    text = json.dumps(data, ensure_ascii=False, indent=2)
    if args.output:
        args.output.write_text(text + "\n", encoding="utf-8")
        print(_("Wrote {path}.").format(path=args.output), file=sys.stderr)
    else:
        print(text)
    return 0


def cmd_erase(args) -> int:
    from bot.privacy.contacts import erase_contact

    engine = _engine()
    user = _admin(engine, args.as_user)
    if not args.yes:
        if not sys.stdin.isatty():
            raise CommandError(_("Erasing cannot be undone: add --yes."))
        answer = input(_("Erase contact #{id}'s personal data for good? [y/N] ").format(id=args.id))
        if answer.strip().lower() not in {"y", "yes", "是"}:
            print(_("Nothing was erased."))
            return 1
    counts = erase_contact(engine, args.id, user)  # NotFound: exit 2
    print(json.dumps({"erased_contact": args.id, **counts}))
    return 0


def cmd_purge(args) -> int:
    from bot.privacy.contacts import purge_expired_text

    days = args.days or get_settings().privacy.retention_days
    if not days or days < 1:
        raise CommandError(_("Say how old: --days N (or set REPLYLINE_RETENTION_DAYS)."))
    print(json.dumps({"purged_messages": purge_expired_text(_engine(), days), "days": days}))
    return 0
