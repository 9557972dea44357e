"""Conversation context for short follow-ups.

「那超商取貨付款呢？」 or "and for Japan?" mean nothing alone: they continue the previous
turn, so they are classified together with it. Only messages that read as follow-ups get
context; a full message is judged on its own, so an earlier complaint does not colour a later
thank-you.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Sequence

from nlp.language import strip_noise
from nlp.types import Classifier

MAX_FOLLOW_UP_CHARS = 24  # Chinese characters (or Latin letters / 4) a follow-up can have
MAX_FOLLOW_UP_WORDS = 7
CONTEXT_TURNS = 2  # previous turns that are kept
MAX_CONTEXT_CHARS = 200

_ZH_START = re.compile(
    r"^(那|那麼|那么|還有|还有|另外|然後|然后|如果是|如果|換成|换成|改成|至於|至于)"
)
_ZH_END = re.compile(r"(呢|咧|勒|嘞)\s*[?？!！~～。.]*$")
_EN_START = re.compile(
    r"^(and|also|plus|what about|how about|what if|same for|and for|and if|or|but what about)\b",
    re.IGNORECASE,
)


def is_follow_up(text: str) -> bool:
    """True for a short message that leans on the previous turn (那…呢？, "and for Japan?")."""
    t = strip_noise(text or "").strip()
    if not t:
        return False
    han = sum(1 for ch in t if "\u4e00" <= ch <= "\u9fff")
    if han:
        if han > MAX_FOLLOW_UP_CHARS:
            return False
        return bool(_ZH_START.search(t) or _ZH_END.search(t))
    words = t.split()
    return len(words) <= MAX_FOLLOW_UP_WORDS and bool(_EN_START.search(t))


def with_context(text: str, context: Sequence[str] | None) -> str:
    """The text to classify: the previous turns and the follow-up, or the text alone."""
    turns = [c.strip() for c in (context or []) if c and c.strip()][-CONTEXT_TURNS:]
    if not turns or not is_follow_up(text):
        return text
    joined = " ".join(turns)[-MAX_CONTEXT_CHARS:]
    return f"{joined} {text.strip()}"


def takes_contexts(classifier: Classifier) -> bool:
    """True when the classifier's `classify` accepts `contexts=` (the model one does)."""
    try:
        return "contexts" in inspect.signature(classifier.classify).parameters
    except (TypeError, ValueError, AttributeError):
        return False
