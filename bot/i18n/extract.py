"""`python -m bot.i18n.extract`: collects every marked text of bot/ (Python and templates) and
adds the new ones, untranslated, to each locale's messages.po; `--check` only lists the texts
Traditional Chinese lacks (exit 1), as the catalogue test does."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.pofile import read_po, write_po

from bot.i18n.catalog import catalogue_files, translations
from bot.i18n.locale import LOCALES

SOURCE_LOCALE = "en"
ROOT = Path(__file__).resolve().parents[1]  # bot/
KEYWORDS = {**DEFAULT_KEYWORDS, "lazy_gettext": None, "lazy_pgettext": ((1, "c"), 2)}
METHODS = [
    ("**.py", "python"),
    ("**/templates/**.html", "jinja2.ext:babel_extract"),
]
OPTIONS = {"**/templates/**.html": {"trimmed": "true"}}


def extract(root: Path = ROOT) -> Catalog:
    """Every marked text under root, with where it is used."""
    found = Catalog(project="replyline", fuzzy=False)
    for filename, lineno, message, comments, context in extract_from_dir(
        root, METHODS, OPTIONS, keywords=KEYWORDS, strip_comment_tags=True
    ):
        found.add(message, None, [(filename, lineno)], auto_comments=comments, context=context)
    return found


def missing(locale: str, template: Catalog | None = None) -> list[str]:
    """Texts used in the code that `locale`'s catalogues do not translate."""
    template = template or extract()
    known = translations(locale)
    gaps = []
    for message in template:
        if not message.id:
            continue
        got: object  # babel types pgettext's result str | object
        if isinstance(message.id, (tuple, list)):  # a plural, as babel's `pluralizable` tells
            singular, plural = message.id[:2]
            if message.context:
                got = known.npgettext(message.context, singular, plural, 1)
            else:
                got = known.ngettext(singular, plural, 1)
            text = singular
        else:
            text = message.id
            got = known.pgettext(message.context, text) if message.context else known.gettext(text)
        if got == text:
            gaps.append(f"{message.context}|{text}" if message.context else text)
    return gaps


def _known_elsewhere(locale: str, main: Path) -> set:
    known = set()
    for path in catalogue_files(locale):
        if path != main:
            with path.open("rb") as source:
                known |= {(m.id, m.context) for m in read_po(source) if m.id}
    return known


def update(template: Catalog) -> dict[str, int]:
    """Adds texts no catalogue of the locale has yet to its messages.po and drops those no
    longer used from it (other .po files are their owners' to tend); returns counts added."""
    added = {}
    for locale in LOCALES:
        if locale == SOURCE_LOCALE:  # the texts are written in it
            continue
        path = Path(__file__).parent / "locales" / locale / "LC_MESSAGES" / "messages.po"
        with path.open("rb") as source:
            catalog = read_po(source, locale=locale)
        elsewhere = _known_elsewhere(locale, path)
        count = 0
        for message in list(catalog):  # messages.po holds only texts still in use
            if message.id and template.get(message.id, message.context) is None:
                catalog.delete(message.id, message.context)
        for message in template:
            key = (message.id, message.context)
            if message.id and key not in elsewhere and catalog.get(*key) is None:
                catalog.add(message.id, None, message.locations, context=message.context)
                count += 1
        with path.open("wb") as out:
            write_po(out, catalog, width=100, sort_output=True, no_location=True)
        added[locale] = count
    return added


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot.i18n.extract", description=__doc__)
    parser.add_argument("--check", action="store_true", help="list untranslated texts, exit 1")
    args = parser.parse_args(argv)
    template = extract()
    if args.check:
        gaps = missing("zh_Hant_TW", template)
        for text in gaps:
            print(text)
        return 1 if gaps else 0
    for locale, count in update(template).items():
        print(f"{locale}: {count} new texts")
    return 0


if __name__ == "__main__":
    sys.exit(main())
