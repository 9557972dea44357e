"""Which language and time zone apply right now: a context variable, negotiated per request."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from zoneinfo import ZoneInfo

LOCALES = ("zh_Hant_TW", "en")
DEFAULT_LOCALE = "zh_Hant_TW"
HTML_LANG = {"zh_Hant_TW": "zh-Hant-TW", "en": "en"}
# Each language's name in itself, for the language switcher.
NAMES = {"zh_Hant_TW": "繁體中文", "en": "English"}


@dataclass
class Slot:
    """Mutable on purpose: a request's slot is shared by every context copied from it (thread
    pool, tasks), so the user's setting, learnt in a dependency, reaches the whole request."""

    locale: str
    zone: ZoneInfo


@dataclass(frozen=True)
class Defaults:
    locale: str = DEFAULT_LOCALE
    zone: ZoneInfo = ZoneInfo("Asia/Taipei")


_defaults = Defaults()
_current: ContextVar[Slot | None] = ContextVar("replyline_locale", default=None)


def configure(language: str | None = None, timezone: str | None = None) -> None:
    """The brand's defaults (REPLYLINE_LANGUAGE, REPLYLINE_TIMEZONE), set once by the app or CLI."""
    global _defaults
    _defaults = Defaults(
        locale=supported(language) or DEFAULT_LOCALE,
        zone=ZoneInfo(timezone) if timezone else _defaults.zone,
    )


def default_locale() -> str:
    return _defaults.locale


def current_locale() -> str:
    slot = _current.get()
    return slot.locale if slot else _defaults.locale


def current_zone() -> ZoneInfo:
    slot = _current.get()
    return slot.zone if slot else _defaults.zone


@contextlib.contextmanager
def use_locale(locale: str | None = None, zone: str | ZoneInfo | None = None) -> Iterator[Slot]:
    """Texts and times inside the block are in `locale` (the brand default when unknown)."""
    if isinstance(zone, str):
        zone = ZoneInfo(zone)
    slot = Slot(supported(locale) or _defaults.locale, zone or current_zone())
    token = _current.set(slot)
    try:
        yield slot
    finally:
        _current.reset(token)


def choose(locale: str | None) -> bool:
    """Switches the current request's language (a user's own setting); False if unsupported."""
    found = supported(locale)
    slot = _current.get()
    if found is None or slot is None:
        return False
    slot.locale = found
    return True


def supported(tag: str | None) -> str | None:
    """The supported locale a language tag means: zh, zh-TW, zh-Hant, zh_Hant_TW → zh_Hant_TW;
    en-GB → en. Chinese readers of any script get Traditional Chinese rather than English."""
    if not tag:
        return None
    tag = tag.strip().replace("-", "_").lower()
    if tag in {"zh_hant_tw", "zh_tw", "zh_hant", "zh_hk", "zh_mo"} or tag.split("_")[0] == "zh":
        return "zh_Hant_TW"
    if tag.split("_")[0] == "en":
        return "en"
    return None


def parse_accept_language(header: str | None) -> list[str]:
    """Language tags of an Accept-Language header, most wanted first (q=0 left out)."""
    ranked = []
    for index, part in enumerate((header or "").split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if tag and tag != "*" and quality > 0:
            ranked.append((-quality, index, tag))
    return [tag for _q, _i, tag in sorted(ranked)]


def negotiate(user_setting: str | None = None, accept_language: str | None = None) -> str:
    """The user's own setting, then the browser's languages in order, then the brand default."""
    for tag in (user_setting, *parse_accept_language(accept_language)):
        found = supported(tag)
        if found:
            return found
    return _defaults.locale


def html_lang(locale: str | None = None) -> str:
    return HTML_LANG[supported(locale) or current_locale()]


def locale_name(locale: str) -> str:
    return NAMES.get(locale, locale)
