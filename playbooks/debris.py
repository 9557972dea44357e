"""Placeholder debris: what a reply looks like when a value it needed was empty. Used by
`replyline playbooks check` and the tests, so a template that breaks without a name, a
ticket or a brand is found before a customer sees it."""

from __future__ import annotations

import re

# (what it is, how it looks)
PATTERNS: tuple[tuple[str, re.Pattern], ...] = (
    ("leftover variable", re.compile(r"\{[a-z_]*\}|\[\[|\]\]")),
    ("starts with punctuation", re.compile(r"^\s*[,，、.。!！?？:：;；)）]")),
    ("double punctuation", re.compile(r"[,，、:：;；]\s*[,，、.。!！?？:：;；]")),
    ("space before punctuation", re.compile(r"[A-Za-z0-9] +[,.!?;:](?!\d)")),
    ("empty brackets or quotes", re.compile(r"\(\s*\)|（\s*）|「\s*」|『\s*』|\"\s*\"|“\s*”")),
    (
        "a word with its object missing",
        re.compile(
            r"(?:謝謝|谢谢|感謝|感谢|收到|看到|告訴|告诉|邀請|邀请|歡迎|欢迎)的"
            r"|(?:編號|编号)\s*[,，。.!！)）]|(?:case|number)\s*[)）]"
            r"|(?:追蹤|关注|讓|让)\s*(?:或|的|變|变)"
            r"|(?:預計|预计|會在|会在|within|in)\s+(?:小時|小时|hours)"
        ),
    ),  # fmt: skip
    ("possessive of nothing", re.compile(r"(?:^|\s)'s\b")),
    ("doubled space", re.compile(r"\S  +\S")),
    (
        "dangling name slot",
        re.compile(
            r"(?:Hi|Hello|Dear|Thanks|Thank you|much|us)\s*,\s*[,!.?]|\b(?:Hi|Hello|Dear)\s+[,!.?]"
        ),
    ),
)


PRIVATE = re.compile(r"私訊|私信|私下|privately|private message|message us|DM us", re.I)


def asks_to_go_private(text: str) -> bool:
    """Whether a reply asks the customer to move to a private chat (wrong inside one)."""
    return bool(PRIVATE.search(text))


def find_debris(text: str) -> list[str]:
    """What looks broken in `text` (empty when nothing does)."""
    return [f"{what}: …{_around(text, m)}…" for what, pattern in PATTERNS
            for m in [pattern.search(text)] if m]  # fmt: skip


def _around(text: str, match: re.Match) -> str:
    return text[max(0, match.start() - 8) : match.end() + 8]
