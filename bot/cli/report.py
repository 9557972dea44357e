"""`replyline report --from DATE --to DATE --out DIR [--lang zh_Hant_TW|en]`: the engagement
report as a self-contained report.html (in the chosen language, times in the brand's zone) and
the same numbers in report.json."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from bot.cli import CommandError, _language
from bot.config import get_settings
from bot.i18n import LOCALES, use_locale
from bot.i18n import gettext as _


def register(subparsers) -> None:
    report = subparsers.add_parser(
        "report", help="write the engagement report for a period (HTML and JSON)"
    )
    report.add_argument("--from", dest="first", required=True, help="first day, e.g. 2026-11-01")
    report.add_argument("--to", dest="last", required=True, help="last day (inclusive)")
    report.add_argument("--out", type=Path, required=True, help="directory to write into")
    report.add_argument(
        "--lang",
        type=_language,
        default=argparse.SUPPRESS,  # else it would undo `replyline --lang en report ...`
        help=f"the report's language: {' or '.join(LOCALES)} (default: REPLYLINE_LANGUAGE)",
    )
    report.set_defaults(func=cmd_report)


def cmd_report(args) -> int:
    settings = get_settings()
    with use_locale(getattr(args, "lang", None) or settings.language, settings.timezone):
        return _write(args, settings)


def _write(args, settings) -> int:
    from bot.calendar.posts import zone
    from bot.reports import Period, PeriodError, build_report
    from bot.reports.render import write_report
    from bot.reports.wording import recommendation
    from db.engine import make_engine
    from db.migrate import upgrade

    if settings.database.is_sqlite:
        upgrade(settings.database.url)
    try:
        period = Period.parse(args.first, args.last, zone(settings.timezone))
    except PeriodError as error:
        raise CommandError(str(error)) from error
    started = time.perf_counter()
    report = build_report(make_engine(settings.database.url), settings, period)
    html, data = write_report(report, args.out)
    took = time.perf_counter() - started
    print(
        _("wrote %(html)s and %(data)s in %(seconds).1fs")
        % {"html": html, "data": data, "seconds": took}
    )
    for rec in report.data["recommendations"]:
        words = recommendation(rec)
        print(f"- {words['title']}: {words['evidence']}")
    return 0
