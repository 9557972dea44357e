"""Recognise a customer asking for a person (真人, 客服, agent, human…).

Two kinds of evidence: a request phrase anywhere ("轉真人", "talk to a human"), or a short
message that is little more than a person word ("客服？", "agent pls"). A long message that
merely mentions customer service ("你們客服都不回") is not a request."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

PHRASES = (
    "真人",
    "人工客服",
    "轉人工",
    "转人工",
    "找客服",
    "轉客服",
    "转客服",
    "轉接客服",
    "转接客服",
    "客服人員",
    "客服人员",
    "專人",
    "专人",
    "找主管",
    "叫主管",
    "找經理",
    "找经理",
    "有人在嗎",
    "有人在吗",
    "工作人員",
    "工作人员",
)
EN_PATTERNS = (
    r"\b(real|live|actual) (person|human|agent|people)\b",
    r"\b(talk|speak|chat)( to| with)( a| an| some| the| your)? ?"
    r"(person|human|agent|someone|somebody|representative|rep|manager|staff|people)\b",
    r"\bhuman (please|pls|agent|being)\b",
    r"\b(customer service|support) (agent|representative|rep|person|team member)\b",
    r"\bagent (please|pls)\b",
    r"\b(transfer|connect) me\b",
)
SHORT_WORDS = (
    "客服",
    "人工",
    "真人",
    "agent",
    "human",
    "person",
    "operator",
    "representative",
    "staff",
    "someone",
)
SHORT_LIMIT = 14  # characters, once spaces and punctuation are gone


@dataclass(frozen=True)
class HandoffRules:
    phrases: tuple[str, ...] = PHRASES
    patterns: tuple[str, ...] = EN_PATTERNS
    short_words: tuple[str, ...] = SHORT_WORDS

    def extended(self, phrases: list[str], short_words: list[str]) -> HandoffRules:
        """These rules plus a brand's own words."""
        return HandoffRules(
            self.phrases + tuple(p.lower() for p in phrases),
            self.patterns,
            self.short_words + tuple(w.lower() for w in short_words),
        )

    def asks_for_human(self, text: str | None) -> bool:
        if not text:
            return False
        norm = unicodedata.normalize("NFKC", text).lower()
        if any(p in norm for p in self.phrases):
            return True
        if any(re.search(p, norm) for p in self.patterns):
            return True
        bare = re.sub(r"[\W_]+", "", norm)
        return len(bare) <= SHORT_LIMIT and any(w in bare for w in self.short_words)
