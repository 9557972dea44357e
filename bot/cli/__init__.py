"""The `replyline` command. Each area registers its subcommands from its own module.

What it prints for people is in REPLYLINE_LANGUAGE (Traditional Chinese by default) or the
language `--lang` names, with times in the brand's zone (REPLYLINE_TIMEZONE); help texts are
English. JSON output keeps its keys and gives times with the brand zone's offset."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

# Modules exposing register(subparsers); a missing optional area is skipped, not fatal.
COMMAND_MODULES = (
    "bot.cli.serve",
    "bot.cli.users",
    "bot.cli.simulate",
    "bot.cli.drafts",
    "bot.cli.privacy",
    "bot.cli.playbooks",
    "bot.cli.crisis",
    "nlp.cli",
    "bot.cli.telegram",
    "bot.cli.posts",
    "bot.cli.report",
)


class CommandError(Exception):
    """A command that cannot do what was asked; printed without a traceback, exit code 2 (as
    is a refusal of the domain, bot/errors.py, in its English text)."""


def acting_user(session, name: str | None):
    """The active console user `--as` (or REPLYLINE_USER) names: whom a step from the command
    line is recorded as."""
    from sqlmodel import select

    from bot.i18n import gettext as _
    from db.models import User

    if not name:
        raise CommandError(_("Say who acts: --as USERNAME (or set REPLYLINE_USER)."))
    user = session.exec(select(User).where(User.username == name)).first()
    if user is None or not user.active:
        raise CommandError(_("No active console user is named {name}.").format(name=name))
    return user


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="replyline", description="Self-hosted community-response assistant."
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug details")
    parser.add_argument(
        "--lang",
        type=_language,
        help="language of what is printed: zh-TW or en (default REPLYLINE_LANGUAGE)",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as error:
            if error.name != name:
                raise
            continue
        module.register(subparsers)
    return parser


def _language(tag: str) -> str:
    """A --lang or --language value as a supported locale (zh-TW → zh_Hant_TW)."""
    from bot.i18n import supported

    found = supported(tag)
    if found is None:
        raise argparse.ArgumentTypeError(f"{tag!r}: zh-TW or en")
    return found


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from bot.config import SettingsError, get_settings
    from bot.errors import DomainError
    from bot.i18n import configure, use_locale
    from bot.logs import setup_logging_from_settings  # redacting, optionally JSON (bot/logs.py)

    setup_logging_from_settings(logging.DEBUG if args.verbose else logging.INFO)
    from playbooks.yamlfile import PlaybookError

    try:
        settings = get_settings()
        configure(settings.language, settings.timezone)
        if getattr(args, "as_user", "") is None:  # --as not given: REPLYLINE_USER
            args.as_user = settings.cli_user
        with use_locale(args.lang):  # over the brand's language, which services set again
            try:
                return int(args.func(args) or 0)
            except DomainError as error:  # a refusal (bot/errors.py), in this language
                raise CommandError(error.text()) from error
    except (CommandError, PlaybookError, SettingsError) as error:  # bad files or settings
        print(f"replyline: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
