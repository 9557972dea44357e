"""Engagement and reach reports for any period: numbers, charts and recommendations.

The numbers (JSON), charts, and recommendations derived from them, as one self-contained HTML
page.

    report = build_report(engine, settings, Period.parse("2026-11-01", "2026-11-30", tz))
    write_report(report, Path("out"))  # out/report.html and out/report.json
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy.engine import Engine

from bot.reports import sections
from bot.reports.collect import load
from bot.reports.period import Period, PeriodError
from bot.reports.recommend import recommend
from bot.reports.tracked import incidents, proposals
from db.types import utcnow

__all__ = ["Period", "PeriodError", "Report", "build_report"]


@dataclass
class Report:
    data: dict  # every number, as written to report.json
    charts: dict[str, str] = field(default_factory=dict)  # name → PNG data URI


def build_report(engine: Engine, settings, period: Period, charts: bool = True) -> Report:
    window = timedelta(hours=settings.reports.engagement_window_hours)
    data = load(engine, period, window)
    posts = sections.posts(data, window)
    report: dict[str, object] = {
        "period": {
            "from": period.first.isoformat(),
            "to": period.last.isoformat(),
            "days": period.days,
            "timezone": period.tz.key,
            "generated_at": utcnow().isoformat(timespec="seconds"),
        },
        "messages": sections.volume(data),
        "sentiment": sections.sentiment(data),
        "responses": sections.responses(data, settings.reports.first_response_target_minutes),
        "drafts": sections.drafts(data),
        "draft_quality": sections.draft_quality(data),
        "stages": sections.stages(data),
        "contacts": sections.contacts(data),
        "complaints": sections.complaints(data),
        "incidents": incidents(engine, period),
        "proposals": proposals(engine, period),
        "posts": posts,
    }
    report["reach"] = sections.reach(data, posts)
    report["recommendations"] = recommend(report)
    if not charts:
        return Report(report)
    from bot.reports.charts import render_all

    return Report(report, render_all(report))
