"""Charts for a report as PNG data URIs (matplotlib, Agg, imported on first use).

A chart carries no words: only numbers, dates (12-05), hours and post numbers, so it reads the
same in every language and needs no CJK font (the machines that run replyline do not promise
one). Its title, what its colours mean and its units are HTML around it in the reader's
language; `swatch` gives the legend the same colour the chart drew."""

from __future__ import annotations

import base64
import io
from functools import cache
from urllib.parse import quote

FALLBACK = "#9aa0a6"
COLORS = {
    # commenter types
    "question": "#1769e0",
    "complaint": "#d93025",
    "advocate": "#188038",
    "troll": "#8e24aa",
    "other": "#9aa0a6",
    "unclassified": "#dadce0",
    # sentiment
    "positive": "#188038",
    "neutral": "#9aa0a6",
    "negative": "#d93025",
    # channels
    "telegram": "#229ed9",
    "line": "#06c755",
    "web": "#f29900",
    # draft decisions
    "approved_as_is": "#188038",
    "edited": "#1769e0",
    "rejected": "#d93025",
    "sent_automatically": "#8e24aa",
    # relationship stages (as the calendar's goal colours, darker)
    "identification": "#f29900",
    "relationship": "#188038",
    "collaboration": "#1769e0",
    # the first-response chart
    "median": "#1769e0",
    "target": "#d93025",
    "engagement": "#188038",
}
DECISIONS = ("approved_as_is", "edited", "rejected", "sent_automatically")
START_ALPHA = 0.35  # the funnel's start-of-period bars: the stage's colour, pale


def color(name: str) -> str:
    return COLORS.get(name, FALLBACK)


def swatch(name: str) -> str:
    """A small square of the colour a chart uses for `name`, as an SVG data URI (allowed by the
    console's content security policy, unlike inline styles)."""
    svg = (
        "<svg xmlns='http://www.w3.org/2000/svg' width='12' height='12'>"
        f"<rect width='12' height='12' rx='2' fill='{color(name)}'/></svg>"
    )
    return "data:image/svg+xml," + quote(svg)


@cache
def _matplotlib():
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    matplotlib.rcParams["font.family"] = "DejaVu Sans"  # matplotlib's own: always there
    matplotlib.rcParams["font.size"] = 11  # still readable when a phone shows the chart at 60%
    return Figure


def _figure(height: float = 2.4, left: float = 0.45, bottom: float = 0.55):
    """A figure 6.4 in (640 px) wide; margins in inches so short and tall charts look alike.
    Counts are whole numbers on every axis."""
    from matplotlib.ticker import MaxNLocator

    width = 6.4
    figure = _matplotlib()(figsize=(width, height), dpi=100)
    figure.subplots_adjust(
        left=left / width, right=0.97, top=1 - 0.12 / height, bottom=min(bottom / height, 0.5)
    )
    ax = figure.add_subplot()
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    return figure, ax


def _uri(figure) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _day_labels(ax, dates: list[str]) -> None:
    step = max(1, len(dates) // 15)
    ax.set_xticks(range(0, len(dates), step), [d[5:] for d in dates[::step]], rotation=45)


def series(names) -> list[str]:
    """The order a stacked chart draws its series in (and its legend lists them)."""
    return sorted(names)


def _stacked_days(days: list[dict], key: str, shares: bool = False) -> str | None:
    names = series({name for d in days for name in d[key]})
    if not names:
        return None
    figure, ax = _figure(left=0.6 if shares else 0.45)  # room for "100%"
    bottom = [0.0] * len(days)
    for name in names:
        values = [d[key].get(name, 0) for d in days]
        if shares:
            values = [
                v / (sum(d[key].values()) or 1) * 100 for v, d in zip(values, days, strict=True)
            ]
        ax.bar(range(len(days)), values, bottom=bottom, color=color(name))
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    _day_labels(ax, [d["date"] for d in days])
    if shares:
        from matplotlib.ticker import PercentFormatter

        ax.set_ylim(0, 100)
        ax.set_yticks([0, 25, 50, 75, 100])
        ax.yaxis.set_major_formatter(PercentFormatter(decimals=0))
    return _uri(figure)


def messages_by_type(report: dict) -> str | None:
    return _stacked_days(report["messages"]["by_day"], "by_type")


def messages_by_channel(report: dict) -> str | None:
    return _stacked_days(report["messages"]["by_day"], "by_channel")


MOODS = ("positive", "neutral", "negative")


def sentiment(report: dict) -> str | None:
    days = [
        {"date": d["date"], "moods": {k: d[k] for k in MOODS if d[k]}}
        for d in report["sentiment"]["by_day"]
    ]
    return _stacked_days(days, "moods", shares=True)


def response_by_hour(report: dict) -> str | None:
    r = report["responses"]
    if not r["answered"]:
        return None
    figure, ax = _figure(bottom=0.35)
    ax.tick_params(axis="x", labelsize=8)
    hours = [h["hour"] for h in r["by_hour"]]
    medians = [h["median_minutes"] or 0 for h in r["by_hour"]]
    ax.bar(hours, medians, color=color("median"))
    ax.axhline(r["target_minutes"], color=color("target"), linestyle="--")
    ax.set_xticks(hours)
    return _uri(figure)


def _bars(labels: list[str], values: list[float], colors: list[str], left: float = 0.2) -> str:
    figure, ax = _figure(0.6 + 0.3 * len(labels), left=left, bottom=0.35)
    ax.barh(range(len(values)), values, color=colors)
    ax.set_yticks(range(len(values)), labels)
    ax.tick_params(axis="y", length=0)
    ax.invert_yaxis()
    for y, v in enumerate(values):
        ax.text(v, y, f" {v:g}", va="center", fontsize=10)
    return _uri(figure)


def drafts(report: dict) -> str | None:
    d = report["drafts"]
    if not any(d[n] for n in DECISIONS):
        return None
    return _bars([""] * len(DECISIONS), [d[n] for n in DECISIONS], [color(n) for n in DECISIONS])


def funnel(report: dict) -> str | None:
    s = report["stages"]
    stages = list(s["funnel_end"])
    if not any(s["funnel_end"].values()):
        return None
    figure, ax = _figure(0.5 + 0.6 * len(stages), left=0.2, bottom=0.35)
    y = range(len(stages))
    colors = [color(k) for k in stages]
    start = [s["funnel_start"][k] for k in stages]
    end = [s["funnel_end"][k] for k in stages]
    ax.barh([i - 0.2 for i in y], start, 0.4, color=colors, alpha=START_ALPHA)
    ax.barh([i + 0.2 for i in y], end, 0.4, color=colors)
    for i, (a, b) in enumerate(zip(start, end, strict=True)):
        ax.text(a, i - 0.2, f" {a}", va="center", fontsize=10)
        ax.text(b, i + 0.2, f" {b}", va="center", fontsize=10)
    ax.set_yticks([])
    ax.invert_yaxis()
    return _uri(figure)


def complaints(report: dict) -> str | None:
    days = report["complaints"]["by_day"]
    if not report["complaints"]["total"]:
        return None
    figure, ax = _figure(2.0)
    ax.bar(range(len(days)), [d["count"] for d in days], color=color("complaint"))
    _day_labels(ax, [d["date"] for d in days])
    return _uri(figure)


MAX_POSTS = 40


def posts(report: dict) -> str | None:
    items = report["posts"]["items"][:MAX_POSTS]
    if not items:
        return None
    labels = [f"#{i['post_id']} {i['local_time'][5:10]}" for i in items]
    values = [i["engagement"] for i in items]
    return _bars(labels, values, [color(i["stage_goal"]) for i in items], left=1.1)


CHARTS = {
    "messages_by_type": messages_by_type,
    "messages_by_channel": messages_by_channel,
    "sentiment": sentiment,
    "response_by_hour": response_by_hour,
    "drafts": drafts,
    "funnel": funnel,
    "complaints": complaints,
    "posts": posts,
}


def render_all(report: dict) -> dict[str, str]:
    """Every chart the data supports, by name."""
    found = {name: chart(report) for name, chart in CHARTS.items()}
    return {name: uri for name, uri in found.items() if uri}
