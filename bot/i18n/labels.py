"""Plain words for the codes the pipeline stores (stages, commenter types, roles, ...), in the
current language. An unknown code is shown as it is rather than hidden."""

from __future__ import annotations

from bot.i18n.catalog import pgettext


def stage_label(stage: str | None) -> str:
    labels = {
        "identification": pgettext("stage", "New contact"),
        "relationship": pgettext("stage", "Regular"),
        "collaboration": pgettext("stage", "Partner"),
    }
    return labels.get(stage or "", stage or "")


def stage_help(stage: str | None) -> str:
    helps = {
        "identification": pgettext("stage", "Just getting to know the brand"),
        "relationship": pgettext("stage", "Comes back and talks with us often"),
        "collaboration": pgettext("stage", "Helps, suggests and takes part with us"),
    }
    return helps.get(stage or "", "")


def type_label(kind: str | None) -> str:
    labels = {
        "troll": pgettext("commenter type", "Troll"),
        "complaint": pgettext("commenter type", "Complaint"),
        "advocate": pgettext("commenter type", "Fan"),
        "question": pgettext("commenter type", "Question"),
        "other": pgettext("commenter type", "Other"),
    }
    return labels.get(kind or "", kind or "")


def subtype_label(subtype: str | None) -> str:
    labels = {
        "angry": pgettext("complaint", "Angry"),
        "unhappy": pgettext("complaint", "Unhappy"),
        "misled": pgettext("complaint", "Felt misled"),
    }
    return labels.get(subtype or "", subtype or "")


def language_label(language: str | None) -> str:
    labels = {
        "zh-Hant": pgettext("language", "Traditional Chinese"),
        "zh-Hans": pgettext("language", "Simplified Chinese"),
        "en": pgettext("language", "English"),
        "other": pgettext("language", "Other"),
    }
    return labels.get(language or "", language or "")


def role_label(role: str | None) -> str:
    labels = {
        "agent": pgettext("role", "Agent"),
        "supervisor": pgettext("role", "Supervisor"),
        "admin": pgettext("role", "Admin"),
    }
    return labels.get(role or "", role or "")


def channel_label(channel: str | None) -> str:
    labels = {
        "telegram": "Telegram",
        "line": "LINE",
        "web": pgettext("channel", "Web chat"),
    }
    return labels.get(channel or "", channel or "")


def flag_label(flag: str | None) -> str:
    labels = {
        "crisis": pgettext("flag", "crisis"),
        "handoff": pgettext("flag", "wants a person"),
        "repeat_troll": pgettext("flag", "repeat troll"),
    }
    return labels.get(flag or "", (flag or "").replace("_", " "))
