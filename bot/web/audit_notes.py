"""The audit log's machine-written notes ("conversation 12", "everyone: 3", "mei: agent,
active") in the reader's language. They are stored in English (the CSV export keeps them so);
the page reads the few shapes the code writes, per action, and shows anything else as stored:
drafts, replies and reasons people typed are never touched."""

from __future__ import annotations

import re

from bot.i18n import N_, gettext, role_label

ROLE = r"(?P<role>agent|supervisor|admin)"
STATE = r"(?P<state>active|inactive)"
# action → field → (what the code writes, how it reads); the first match wins
NOTES: dict[str, dict[str, list[tuple[str, str]]]] = {
    "auto_ack": {
        "reason": [
            (r"(?P<playbook>\S+): acknowledgements are sent on their own",
             N_("%(playbook)s: acknowledgements are sent on their own")),
        ],
    },
    "auto_approve": {
        "reason": [
            (r"playbook policy allows automatic sending above the confidence threshold",
             N_("the playbook lets it send on its own above the confidence threshold")),
        ],
    },
    "message_unsend": {
        "reason": [
            (r"the sender took the message back; (?P<count>\d+) draft\(s\) withdrawn",
             N_("the sender took the message back; drafts withdrawn: %(count)s")),
        ],
    },
    "contact_export": {
        "reason": [(r"contact (?P<id>\d+), on the person's request",
                    N_("contact %(id)s, at the person's request"))],
    },
    "contact_erase": {
        "reason": [(r"contact (?P<id>\d+), on the person's request",
                    N_("contact %(id)s, at the person's request"))],
    },
    "release_handoff": {"reason": [(r"conversation (?P<id>\d+)", N_("conversation %(id)s"))]},
    "sessions_end": {
        "after": [
            (r"everyone: (?P<count>\d+)", N_("everyone: %(count)s logins ended")),
            (r"(?P<name>.+): (?P<count>\d+) session\(s\)", N_("%(name)s: %(count)s logins ended")),
        ],
    },
    "user_add": {"after": [(rf"(?P<name>.+) \({ROLE}\)", N_("%(name)s (%(role)s)"))]},
    "user_change": {
        "before": [(rf"(?P<name>.+): {ROLE}, {STATE}", N_("%(name)s: %(role)s, %(state)s"))],
        "after": [
            (rf"{ROLE}, {STATE}, new password", N_("%(role)s, %(state)s, new password")),
            (rf"{ROLE}, {STATE}", N_("%(role)s, %(state)s")),
        ],
    },
    "post_add": {"reason": [(r"post (?P<id>\d+) for (?P<target>\S+)",
                             N_("post %(id)s for %(target)s"))]},
    "post_approve": {"reason": [(r"post (?P<id>\d+)", N_("post %(id)s"))]},
    "post_cancel": {
        "reason": [
            (r"post (?P<id>\d+)", N_("post %(id)s")),
            (r"post (?P<id>\d+): (?P<why>.*)", N_("post %(id)s: %(why)s")),
        ],
    },
}  # fmt: skip
_COMPILED = {
    action: {field: [(re.compile(shape, re.S), words) for shape, words in shapes]
             for field, shapes in fields.items()}
    for action, fields in NOTES.items()
}  # fmt: skip


def _word(name: str, value: str) -> str:
    if name == "role":
        return role_label(value)
    if name == "state":
        return gettext("active") if value == "active" else gettext("inactive")
    return value


def audit_note(action: str | None, field: str, text: str | None) -> str:
    """`text` of the entry's `field` (before, after, reason) as the reader reads it."""
    if not text:
        return ""
    for shape, words in _COMPILED.get(action or "", {}).get(field, []):
        found = shape.fullmatch(text)
        if found:
            values = {name: _word(name, value) for name, value in found.groupdict().items()}
            return gettext(words) % values
    return text
