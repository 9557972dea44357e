"""`replyline report --from DATE --to DATE --out DIR`: the engagement report as a
self-contained report.html and the same numbers in report.json."""

from __future__ import annotations

import time
from pathlib import Path

from bot.cli import CommandError
from bot.config import get_settings


def register(subparsers) -> None:
    report = subparsers.add_parser(
        "report", help="write the engagement report for a period (HTML and JSON)"
    )
    report.add_argument("--from", dest="first", required=True, help="first day, e.g. 2026-11-01")
    report.add_argument("--to", dest="last", required=True, help="last day (inclusive)")
    report.add_argument("--out", type=Path, required=True, help="directory to write into")
    report.set_defaults(func=cmd_report)


def cmd_report(args) -> int:
    from bot.calendar.posts import zone
    from bot.reports import Period, PeriodError, build_report
    from bot.reports.render import write_report
    from db.engine import make_engine
    from db.migrate import upgrade

    settings = get_settings()
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
    print(f"wrote {html} and {data} in {took:.1f}s")
    for rec in report.data["recommendations"]:
        print(f"- {rec['title']}: {rec['evidence']}")
    return 0
