"""`replyline user add NAME --role ROLE`: create a console user with a hashed password."""

from __future__ import annotations

import getpass
import sys

from bot.cli import CommandError, _language
from bot.config import get_settings
from bot.i18n import gettext as _
from bot.i18n import role_label
from db.enums import Role


def register(subparsers) -> None:
    user = subparsers.add_parser("user", help="console users")
    sub = user.add_subparsers(dest="user_command", required=True)
    add = sub.add_parser("add", help="create a console user (password prompted or from stdin)")
    add.add_argument("name")
    add.add_argument("--role", choices=list(Role), default=Role.AGENT)
    add.add_argument("--telegram-id", help="Telegram user id, to review from Telegram")
    add.add_argument("--line-id", help="LINE user id")
    add.add_argument(
        "--language",
        type=_language,
        help="zh-TW or en: the console's and their alerts' language (default: the brand's)",
    )
    add.set_defaults(func=cmd_user_add)


def read_password() -> str:
    if sys.stdin.isatty():
        first = getpass.getpass(_("Password: "))
        if first != getpass.getpass(_("Repeat password: ")):
            raise CommandError(_("The passwords do not match."))
        return first
    return sys.stdin.readline().rstrip("\n")


def cmd_user_add(args) -> int:
    from sqlalchemy.exc import IntegrityError

    from bot.web.security import hash_password
    from db.engine import make_engine, session_scope
    from db.migrate import upgrade
    from db.models import User

    password = read_password()
    if len(password) < 8:
        raise CommandError(_("The password needs at least 8 characters."))
    settings = get_settings()
    if settings.database.is_sqlite:
        upgrade(settings.database.url)
    try:
        with session_scope(make_engine(settings.database.url)) as session:
            session.add(
                User(
                    username=args.name,
                    password_hash=hash_password(password),
                    role=args.role,
                    telegram_user_id=args.telegram_id,
                    line_user_id=args.line_id,
                    locale=args.language,
                )
            )
    except IntegrityError as error:
        raise CommandError(
            _("A user named {name} (or with that chat id) exists already.").format(name=args.name)
        ) from error
    print(_("Created {role} {name}.").format(role=role_label(args.role), name=args.name))
    return 0
