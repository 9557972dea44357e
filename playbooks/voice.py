"""Brand voice applied to every reply: formality (您/你, contractions), emoji use, sign-off."""

from __future__ import annotations

import re

FORMALITIES = ("formal", "polite", "casual")
EMOJI_USES = ("none", "one", "any")

_EMOJI = re.compile(
    "[\U0001f000-\U0001faff\u2600-\u27bf\u2b00-\u2bff\ufe0f\u200d\U000e0020-\U000e007f]+"
)
_CONTRACTIONS = {
    "we're": "we are",
    "we've": "we have",
    "we'll": "we will",
    "we'd": "we would",
    "you're": "you are",
    "you've": "you have",
    "you'll": "you will",
    "it's": "it is",
    "let's": "let us",
    "don't": "do not",
    "can't": "cannot",
    "won't": "will not",
    "isn't": "is not",
    "didn't": "did not",
    "that's": "that is",
    "there's": "there is",
    "i'm": "I am",
    "i'll": "I will",
}
_CONTRACTION = re.compile(
    r"\b(" + "|".join(re.escape(c) for c in _CONTRACTIONS) + r")\b", re.IGNORECASE
)


def apply_voice(text: str, language: str, formality: str, emoji: str, sign_off: str) -> str:
    """The reply as the brand says it."""
    text = _formality(text, language, formality)
    text = _emoji(text, emoji)
    if sign_off and sign_off not in text:
        text = f"{text}\n{sign_off}"
    return text.strip()


def _formality(text: str, language: str, formality: str) -> str:
    if language.startswith("zh"):
        if formality == "casual":
            return text.replace("您", "你")
        return re.sub(r"你(?![們们])", "您", text)
    if formality == "formal":
        return _CONTRACTION.sub(lambda m: _expand(m.group(0)), text)
    return text


def _expand(word: str) -> str:
    full = _CONTRACTIONS[word.lower()]
    return full[0].upper() + full[1:] if word[0].isupper() else full


def _emoji(text: str, use: str) -> str:
    if use == "any":
        return text
    if use == "none":
        stripped = _EMOJI.sub("", text)
        return re.sub(r"[ \t]{2,}", " ", re.sub(r"[ \t]+\n", "\n", stripped)).strip()
    found = 0

    def keep_first(match: re.Match) -> str:
        nonlocal found
        found += 1
        return match.group(0) if found == 1 else ""

    return re.sub(r"[ \t]{2,}", " ", _EMOJI.sub(keep_first, text)).strip()


def has_emoji(text: str) -> bool:
    return bool(_EMOJI.search(text))
