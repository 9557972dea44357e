"""Crisis signals and incidents in words, in the current language: each signal keeps its
figures (bot/crisis/signals.py), so a supervisor reading Chinese and one reading English both
get the why of an alert in their own words. A signal stored before it kept every figure it
needs is shown as it was written (English)."""

from __future__ import annotations

from bot.i18n import N_, channel_label, ngettext, pgettext
from bot.i18n import gettext as _

METRICS = {
    "complaint": N_("complaints"),
    "negative": N_("negative messages"),
    "troll": N_("troll messages"),
    "all": N_("messages"),
}
NEEDS = {  # the figures each kind's words are written from
    "volume": ("metric", "channel", "minutes", "count", "expected", "p_value"),
    "share": ("channel", "minutes", "negative", "total", "normal_share", "p_value"),
    "severity": ("category", "channel"),
    "story": ("authors", "expected", "p_value", "channels", "minutes", "example"),
}


def category_label(category: str, written: str = "") -> str:
    """The default lexicon's categories in words; a brand's own category by its label."""
    labels = {
        "legal": pgettext("crisis category", "legal threat"),
        "safety": pgettext("crisis category", "health or safety"),
        "media": pgettext("crisis category", "media attention"),
        "regulator": pgettext("crisis category", "regulator or authorities"),
        "data_leak": pgettext("crisis category", "personal data or security"),
        "discrimination": pgettext("crisis category", "discrimination or harassment"),
    }
    return labels.get(category) or written or category


def signal_kind(kind: str) -> str:
    labels = {
        "volume": pgettext("crisis signal", "Volume spike"),
        "share": pgettext("crisis signal", "Negative share"),
        "severity": pgettext("crisis signal", "Severe message"),
        "story": pgettext("crisis signal", "Same story"),
    }
    return labels.get(kind, kind)


def where(channel: str) -> str:
    if channel == "*":
        return _("on all channels")
    return _("on {channel}").format(channel=channel_label(channel))


def chance(p: float) -> str:
    if p < 1e-6:
        return _("less than one in a million")
    return _("about 1 in {odds}").format(odds=f"{round(1 / p):,}")


def how(phrase: str | None, prototype: str | None) -> str:
    """How a severe message was recognised: by its words, its meaning, or both."""
    parts = []
    if phrase:
        parts.append(_("the words “{phrase}”").format(phrase=phrase))
    if prototype:
        parts.append(_("its meaning (close to “{prototype}”)").format(prototype=prototype))
    return _(" and ").join(parts)


def _complete(summary: dict) -> dict | None:
    figures = summary.get("figures") or {}
    needed = NEEDS.get(summary.get("kind", ""))
    if needed is None or any(name not in figures for name in needed):
        return None
    return figures


def signal_title(summary: dict) -> str:
    f = _complete(summary)
    if f is None:
        return summary.get("title", "")
    kind = summary["kind"]
    if kind == "volume":
        return _("Spike in {what} {where}").format(what=_(METRICS[f["metric"]]),
                                                   where=where(f["channel"]))  # fmt: skip
    if kind == "share":
        return _("Negative share jumped {where}").format(where=where(f["channel"]))
    if kind == "severity":
        return _("Possible {label} on {channel}").format(
            label=category_label(f["category"], f.get("label", "")),
            channel=channel_label(f["channel"]),
        )
    return ngettext(
        "{count} person raising the same issue", "{count} people raising the same issue",
        f["authors"],
    ).format(count=f["authors"])  # fmt: skip


def signal_explanation(summary: dict) -> str:
    f = _complete(summary)
    if f is None:
        return summary.get("explanation", "")
    kind = summary["kind"]
    if kind == "volume":
        return _(
            "{count} {what} from different people {where} in the last {minutes} minutes, where "
            "about {expected} is normal at this hour and weekday ({ratio}×). Chance of this "
            "many on a normal day: {chance}."
        ).format(
            count=f["count"],
            what=_(METRICS[f["metric"]]),
            where=where(f["channel"]),
            minutes=f["minutes"],
            expected=f"{f['expected']:.1f}",
            ratio=f"{f['count'] / max(f['expected'], 0.01):.1f}",
            chance=chance(f["p_value"]),
        )
    if kind == "share":
        return _(
            "{negative} of {total} messages {where} in the last {minutes} minutes are negative "
            "({share}), where {normal} is normal at this hour. Chance of a share this high on a "
            "normal day: {chance}."
        ).format(
            negative=f["negative"],
            total=f["total"],
            where=where(f["channel"]),
            minutes=f["minutes"],
            share=f"{f['negative'] / max(f['total'], 1):.0%}",
            normal=f"{f['normal_share']:.0%}",
            chance=chance(f["p_value"]),
        )
    if kind == "severity":
        return _("One message on {channel} reads as a {label}, recognised by {how}.").format(
            channel=channel_label(f["channel"]),
            label=category_label(f["category"], f.get("label", "")),
            how=how(f.get("phrase"), f.get("prototype")),
        )
    return _(
        "{authors} different people on {channels} wrote about the same thing in the last "
        "{minutes} minutes (e.g. “{example}”), where about {expected} messages like these "
        "would be normal. Chance on a normal day: {chance}."
    ).format(
        authors=f["authors"],
        channels=", ".join(channel_label(c) for c in f["channels"]),
        minutes=f["minutes"],
        example=f["example"],
        expected=f"{f['expected']:.1f}",
        chance=chance(f["p_value"]),
    )


def incident_title(incident) -> str:
    """The incident's title (its first signal's) in the current language."""
    first = next((s for s in incident.signals if s.get("title") == incident.title), None)
    return signal_title(first) if first else incident.title
