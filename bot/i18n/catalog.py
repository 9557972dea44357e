"""The message catalogues: every `*.po` of a locale is read at first use and merged, so each area
can keep its own file (messages.po, staff.po, ...) without the others' merge conflicts."""

from __future__ import annotations

import io
from functools import cache
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import LazyProxy, NullTranslations, Translations

from bot.i18n.locale import LOCALES, current_locale

LOCALE_DIR = Path(__file__).parent / "locales"


def catalogue_files(locale: str) -> list[Path]:
    return sorted((LOCALE_DIR / locale / "LC_MESSAGES").glob("*.po"))


@cache
def translations(locale: str) -> NullTranslations:
    """One locale's translations from its .po files (compiled in memory; fuzzy ones left out)."""
    merged: Translations | None = None
    for path in catalogue_files(locale) if locale in LOCALES else []:
        with path.open("rb") as source:
            catalog = read_po(source, locale=locale, domain=path.stem)
        compiled = io.BytesIO()
        write_mo(compiled, catalog)
        compiled.seek(0)
        found = Translations(compiled, domain="messages")
        if merged is None:
            merged = found
        else:
            merged.merge(found)
    return merged or NullTranslations()


def gettext(message: str) -> str:
    return translations(current_locale()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return translations(current_locale()).ngettext(singular, plural, n)


def pgettext(context: str, message: str) -> str:
    # babel annotates pgettext `str | object`; it returns the catalogue's string or `message`
    return translations(current_locale()).pgettext(context, message)  # type: ignore[return-value]


def npgettext(context: str, singular: str, plural: str, n: int) -> str:
    return translations(current_locale()).npgettext(context, singular, plural, n)


def lazy_gettext(message: str) -> LazyProxy:
    """Translated when shown, in the language of that moment (module-level texts)."""
    return LazyProxy(gettext, message, enable_cache=False)


def lazy_pgettext(context: str, message: str) -> LazyProxy:
    return LazyProxy(pgettext, context, message, enable_cache=False)


def N_(message: str) -> str:  # noqa: N802 (the gettext convention)
    """Marks a text for the catalogue without translating it here (translated where shown)."""
    return message
