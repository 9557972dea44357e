"""How staff see who wrote: the contact's name, or else a stable nickname for that person.

"Visitor #12" for a web-chat visitor, "LINE user #34". Never a platform id or a
web-chat cookie token: those identify a person to anyone who sees them and mean nothing to
staff. Every page, staff message and report names people through `contact_name`."""

from __future__ import annotations

from collections.abc import Iterable

from sqlmodel import Session, col, select

from bot.i18n import N_
from bot.i18n import gettext as _
from db.models import Contact, Conversation

_NICKNAMES = {
    "web": N_("Visitor #{number}"),
    "line": N_("LINE user #{number}"),
    "telegram": N_("Telegram user #{number}"),
}


def contact_name(contact: Contact | None) -> str:
    """The name a person gave the platform, or their stable nickname (by the contact's number)."""
    if contact is None:
        return _("someone")
    if contact.erased:
        return _("Erased contact #{number}").format(number=contact.id)
    name = " ".join((contact.display_name or "").split())
    if name:
        return name
    nickname = _NICKNAMES.get(contact.channel, N_("Customer #{number}"))
    return _(nickname).format(number=contact.id)


def conversation_name(conversation: Conversation, contact: Contact | None) -> str:
    """A group chat by its title (or number); a one-to-one chat by the person in it."""
    if conversation.kind == "group":
        if conversation.title:
            return _("group “{title}”").format(title=conversation.title)
        return _("group chat #{number}").format(number=conversation.id)
    return contact_name(contact)


def contacts_by_id(session: Session, ids: Iterable[int | None]) -> dict[int | None, Contact]:
    """The contacts of a page's messages in one query (looked up by a message's contact_id,
    which may be None: no contact)."""
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    return {c.id: c for c in session.exec(select(Contact).where(col(Contact.id).in_(wanted)))}
