"""Filling templates: optional segments drop out whole when a value is unknown, so a contact
without a name, a reply without a ticket or a brand without a name never leaves a hole.

`[[, {name}]]` is kept only when every variable in it has a value; `[[{name}|您]]` falls back
to the next choice (`|`) whose variables all have values, or to nothing."""

from __future__ import annotations

import re
from string import Formatter

SEGMENT = re.compile(r"\[\[(.*?)\]\]", re.S)


def fields(text: str) -> list[str]:
    """The variables a piece of template names ({name} → name)."""
    return [f for _, f, _, _ in Formatter().parse(text) if f is not None]


def pieces(template: str) -> list[list[str]]:
    """The template as parts: a plain part is a one-choice list, an optional segment lists its
    choices (an empty last choice is implied)."""
    out: list[list[str]] = []
    at = 0
    for match in SEGMENT.finditer(template):
        if match.start() > at:
            out.append([template[at : match.start()]])
        out.append([*match.group(1).split("|"), ""])
        at = match.end()
    if at < len(template):
        out.append([template[at:]])
    return out


def check_segments(template: str) -> str | None:
    """What is wrong with the template's optional segments, if anything."""
    rest = SEGMENT.sub("", template)
    if "[[" in rest or "]]" in rest:
        return "an optional segment opens with [[ and closes with ]] on the same template"
    for part in pieces(template):
        if len(part) > 1 and not fields(part[0]):
            return f"optional segment [[{'|'.join(part[:-1])}]] names no variable"
    return None


def fill(template: str, values: dict[str, str]) -> str:
    """The template with its values; each optional segment becomes its first choice whose
    variables all have values. Values are inserted once, so braces in them stay text."""
    out = []
    for choices in pieces(template):
        if len(choices) == 1:
            out.append(choices[0].format_map(values))
            continue
        for choice in choices:
            if all(values.get(name) for name in fields(choice)):
                out.append(choice.format_map(values))
                break
    return "".join(out)
