"""Charts for a report as PNG data URIs (matplotlib, Agg, imported on first use).

Charts are labelled in English with ids (types, channels, stages), so they render without
missing glyphs whether or not a CJK font is installed; when one is (fonts-noto-cjk), it is
used as a fallback for any Chinese that does appear."""

from __future__ import annotations

import base64
import io
from functools import cache

COLORS = {
    "question": "#1769e0",
    "complaint": "#d93025",
    "advocate": "#188038",
    "troll": "#8e24aa",
    "other": "#9aa0a6",
    "unclassified": "#dadce0",
    "positive": "#188038",
    "neutral": "#9aa0a6",
    "negative": "#d93025",
}
CJK_FONTS = ("Noto Sans CJK TC", "Noto Sans TC", "Noto Sans CJK JP", "Source Han Sans TW")


@cache
def _matplotlib():
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import font_manager
    from matplotlib.figure import Figure

    installed = {f.name for f in font_manager.fontManager.ttflist}
    cjk = [name for name in CJK_FONTS if name in installed]
    matplotlib.rcParams["font.sans-serif"] = ["DejaVu Sans", *cjk]
    matplotlib.rcParams["font.size"] = 9
    return Figure


def _figure(height: float = 2.8, left: float = 0.08, bottom: float = 0.6):
    """A figure 8 in wide; margins in inches so short and tall charts look alike."""
    figure = _matplotlib()(figsize=(8, height), dpi=80)
    figure.subplots_adjust(
        left=left, right=0.97, top=1 - 0.3 / height, bottom=min(bottom / height, 0.5)
    )
    return figure, figure.add_subplot()


def _uri(figure) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _day_labels(ax, dates: list[str]) -> None:
    step = max(1, len(dates) // 15)
    ax.set_xticks(range(0, len(dates), step), [d[5:] for d in dates[::step]], rotation=45)


def _stacked_days(days: list[dict], key: str, title: str, shares: bool = False) -> str | None:
    names = sorted({name for d in days for name in d[key]})
    if not names:
        return None
    figure, ax = _figure()
    bottom = [0.0] * len(days)
    for name in names:
        values = [d[key].get(name, 0) for d in days]
        if shares:
            values = [
                v / (sum(d[key].values()) or 1) * 100 for v, d in zip(values, days, strict=True)
            ]
        ax.bar(range(len(days)), values, bottom=bottom, label=name, color=COLORS.get(name))
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    _day_labels(ax, [d["date"] for d in days])
    ax.set_title(title)
    ax.set_ylabel("% of messages" if shares else "messages")
    ax.legend(loc="upper left", fontsize=7, ncols=min(len(names), 6))
    return _uri(figure)


def messages_by_type(report: dict) -> str | None:
    return _stacked_days(report["messages"]["by_day"], "by_type", "Messages per day by type")


def messages_by_channel(report: dict) -> str | None:
    return _stacked_days(report["messages"]["by_day"], "by_channel", "Messages per day by channel")


def sentiment(report: dict) -> str | None:
    days = [
        {"date": d["date"], "moods": {k: d[k] for k in ("positive", "neutral", "negative") if d[k]}}
        for d in report["sentiment"]["by_day"]
    ]
    return _stacked_days(days, "moods", "Sentiment share per day", shares=True)


def response_by_hour(report: dict) -> str | None:
    r = report["responses"]
    if not r["answered"]:
        return None
    figure, ax = _figure(bottom=0.5)
    hours = [h["hour"] for h in r["by_hour"]]
    medians = [h["median_minutes"] or 0 for h in r["by_hour"]]
    ax.bar(hours, medians, color="#1769e0", label="median first response")
    ax.axhline(r["target_minutes"], color="#d93025", linestyle="--", label="target")
    ax.set_xticks(hours)
    ax.set_xlabel("hour of day the customer wrote (local time)")
    ax.set_ylabel("minutes")
    ax.set_title(
        f"First response by hour (median {r['median_minutes']} min, p90 {r['p90_minutes']} min)"
    )
    ax.legend(fontsize=7)
    return _uri(figure)


def _bars(labels: list[str], values: list[float], title: str, color: str = "#1769e0") -> str:
    figure, ax = _figure(0.6 + 0.25 * len(labels), left=0.22, bottom=0.3)
    ax.barh(labels, values, color=color)
    ax.invert_yaxis()
    for y, v in enumerate(values):
        ax.text(v, y, f" {v:g}", va="center", fontsize=8)
    ax.set_title(title)
    return _uri(figure)


def drafts(report: dict) -> str | None:
    d = report["drafts"]
    names = ("approved_as_is", "edited", "rejected", "sent_automatically")
    if not any(d[n] for n in names):
        return None
    return _bars([n.replace("_", " ") for n in names], [d[n] for n in names], "Draft decisions")


def funnel(report: dict) -> str | None:
    s = report["stages"]
    stages = list(s["funnel_end"])
    if not any(s["funnel_end"].values()):
        return None
    figure, ax = _figure(1.8, left=0.16, bottom=0.3)
    y = range(len(stages))
    ax.barh(
        [i - 0.2 for i in y],
        [s["funnel_start"][k] for k in stages],
        0.4,
        label="start",
        color="#9aa0a6",
    )
    ax.barh(
        [i + 0.2 for i in y],
        [s["funnel_end"][k] for k in stages],
        0.4,
        label="end",
        color="#1769e0",
    )
    ax.set_yticks(list(y), stages)
    ax.invert_yaxis()
    ax.set_title("Contacts by relationship stage, start and end of period")
    ax.legend(fontsize=7)
    return _uri(figure)


def complaints(report: dict) -> str | None:
    days = report["complaints"]["by_day"]
    if not report["complaints"]["total"]:
        return None
    figure, ax = _figure(2.4)
    ax.bar(range(len(days)), [d["count"] for d in days], color=COLORS["complaint"])
    _day_labels(ax, [d["date"] for d in days])
    ax.set_title("Complaints per day")
    return _uri(figure)


def posts(report: dict) -> str | None:
    items = report["posts"]["items"]
    if not items:
        return None
    labels = [f"#{i['post_id']} {i['local_time'][5:10]} {i['stage_goal'][:5]}" for i in items][:40]
    values = [i["engagement"] for i in items][:40]
    return _bars(
        labels, values, "Engagement after each post (reactions + extra replies)", "#188038"
    )


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
