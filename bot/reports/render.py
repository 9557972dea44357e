"""A report as a self-contained HTML page (styles inline, charts as data URIs) and as JSON.
The page is in the language and time zone of the moment (`bot.i18n.use_locale`)."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape

from bot.crisis.wording import signal_title
from bot.i18n import current_locale
from bot.i18n.jinja import install as install_i18n
from bot.reports import Report, charts, wording

TEMPLATES = Path(__file__).resolve().parent / "templates"


def gap() -> str:
    """What goes between two sentences: a space in English, nothing after a Chinese 。."""
    return "" if current_locale().startswith("zh") else " "


def install(env: Environment) -> Environment:
    """What the report's templates use besides the i18n helpers (the console's environment
    renders the same report body)."""
    env.globals.update(
        swatch=charts.swatch,
        chart_series=charts.series,
        chart_moods=charts.MOODS,
        chart_decisions=charts.DECISIONS,
        pct=wording.pct,
        number=wording.number,
        minutes=wording.minutes,
        kind_label=wording.kind_label,
        mood_label=wording.mood_label,
        decision_label=wording.decision_label,
        status_label=wording.status_label,
        timeline_step=wording.timeline_step,
        signal_title=signal_title,
        recommendation_text=wording.recommendation,
        gap=gap,
    )
    return env


@cache
def _environment() -> Environment:
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape())
    return install(install_i18n(env))


def to_json(report: Report) -> str:
    return json.dumps(report.data, ensure_ascii=False, indent=2)


def to_html(report: Report) -> str:
    return _environment().get_template("report.html").render(r=report.data, charts=report.charts)


def write_report(report: Report, out_dir: Path) -> tuple[Path, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    html, data = out_dir / "report.html", out_dir / "report.json"
    html.write_text(to_html(report), encoding="utf-8")
    data.write_text(to_json(report) + "\n", encoding="utf-8")
    return html, data
