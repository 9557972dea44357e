"""Why the domain refuses a step, by kind, with no transport (HTTP, chat) in it.

bot/web/errors.py maps each kind to an HTTP status, the command line prints the text and exits
2, the staff chat shows it.

A refusal's text is an English msgid with {named} fields, marked with `N_` so the catalogue
(locales/*/errors.po) holds it: `text()` translates it in the language of the moment, `str()`
keeps the English for logs and the command line."""

from __future__ import annotations

from enum import StrEnum

from bot.i18n.catalog import gettext, pgettext


class DomainError(Exception):
    """A step that cannot be taken; raise one of the kinds below, never this base."""

    def __init__(self, message: str, /, **params: object) -> None:
        self.message = message
        self.params = params
        super().__init__(_fill(message, params))

    def text(self) -> str:
        """The refusal in the current language; a status or role (a StrEnum) is put in words."""
        shown = {name: _shown(value) for name, value in self.params.items()}
        return _fill(gettext(self.message), shown)


class NotFound(DomainError):
    """What the step is about does not exist."""


class Conflict(DomainError):
    """The step clashes with the current state (already decided, claimed by someone else)."""


class Forbidden(DomainError):
    """The user's role does not allow the step."""


class Invalid(DomainError):
    """What was given is not acceptable (empty, out of range, malformed)."""


def _fill(text: str, params: dict[str, object]) -> str:
    return text.format(**params) if params else text


def _shown(value: object) -> object:
    """The words for a db/enums.py code (msgctxt "code" in errors.po; English keeps the code)."""
    return pgettext("code", value.value) if isinstance(value, StrEnum) else value
