"""`replyline playbooks check [DIR]` validates a playbook folder; `replyline faq check` reports
FAQ entries that are near-duplicates or that answer the same question differently."""

from __future__ import annotations

from pathlib import Path

from bot.cli import CommandError
from bot.config import get_settings
from bot.i18n import current_locale, ngettext
from bot.i18n import gettext as _


def register(subparsers) -> None:
    books = subparsers.add_parser("playbooks", help="check a playbook folder")
    sub = books.add_subparsers(dest="playbooks_command", required=True)
    check = sub.add_parser(
        "check", help="load and validate every file, render every template; print what is wrong"
    )
    check.add_argument("dir", nargs="?", type=Path, help="default REPLYLINE_PLAYBOOK_DIR")
    check.set_defaults(func=cmd_playbooks_check)

    faq = subparsers.add_parser("faq", help="the FAQ the playbooks answer from")
    faq_sub = faq.add_subparsers(dest="faq_command", required=True)
    faq_check = faq_sub.add_parser("check", help="report near-duplicate or conflicting entries")
    faq_check.add_argument(
        "--dir", type=Path, help="playbook folder (default REPLYLINE_PLAYBOOK_DIR)"
    )
    faq_check.set_defaults(func=cmd_faq_check)


def _load(directory: Path | None, with_encoder: bool):
    from playbooks.engine import Playbooks
    from playbooks.faq import encoder_embed
    from playbooks.yamlfile import PlaybookError

    settings = get_settings()
    try:
        return Playbooks.load(
            directory or settings.replies.playbook_dir,
            embed=encoder_embed(settings.nlp) if with_encoder else None,
            timezone=settings.timezone,
        )
    except PlaybookError as error:
        raise CommandError(str(error)) from error


def cmd_playbooks_check(args) -> int:
    books = _load(args.dir, with_encoder=False)
    brand = books.brand
    print(
        ngettext("{dir}: {count} playbook ({names})", "{dir}: {count} playbooks ({names})",
                 len(books.by_type)).format(
            dir=books.directory, count=len(books.by_type), names=", ".join(sorted(books.by_type))
        )
    )  # fmt: skip
    hours = brand.hours.describe("en" if current_locale() == "en" else "zh-Hant")
    print(
        _("Brand: voice {voice}, emoji {emoji}; hours {hours}").format(
            voice=brand.formality, emoji=brand.emoji, hours=hours
        )
    )
    print(ngettext("FAQ: {count} entry", "FAQ: {count} entries", len(books.faq)).format(
        count=len(books.faq)))  # fmt: skip
    problems = books.check_rendering()
    for problem in problems:
        print(problem)
    print(
        ngettext(
            "Rendering: {count} template with debris (rendered with every value, and without "
            "each optional one)",
            "Rendering: {count} templates with debris (rendered with every value, and without "
            "each optional one)",
            len(problems),
        ).format(count=len(problems))
    )
    return 1 if problems else 0


def cmd_faq_check(args) -> int:
    books = _load(args.dir, with_encoder=True)
    try:
        findings = books.faq.check()
    except Exception as error:  # the encoder could not be loaded
        raise CommandError(
            _("Cannot compare entries: {error}").format(error=f"{type(error).__name__}: {error}")
        ) from error
    for finding in findings:
        print(finding)
    print(
        _("{entries} entries, {findings} findings").format(
            entries=len(books.faq), findings=len(findings)
        )
    )
    return 1 if findings else 0
