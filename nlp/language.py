"""Offline language detection for the four languages replies are written in.

Chinese script is decided by counting characters that exist in only one script (這/这,
們/们 ...), so a single tell-tale character is enough and common characters shared by both
scripts do not vote. Chinese text with no tell-tale character at all (好的, 可以) is reported as
zh-Hant: it is valid Traditional Chinese and replyline is Taiwan-first. Latin-script text is
English unless it carries the marks of another language (diacritics, foreign function words);
kana, hangul and other scripts are `other`.
"""

from __future__ import annotations

import re
import unicodedata

from nlp.zh_chars import SIMPLIFIED_ONLY, TRADITIONAL_ONLY

ZH_HANT = "zh-Hant"
ZH_HANS = "zh-Hans"
EN = "en"
OTHER = "other"

_WORD = re.compile(r"[A-Za-z\u00C0-\u024F']+")


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_EN_WORDS = _words(
    "a about after all am an and any are as at be because been but by can could did do "
    "does dont don't for from get got had has have he her him his how i i'm if in into is "
    "it it's its just like me my no not now of on or our out please so some than thank "
    "thanks that the their them then there they this to too up us very was we were what "
    "when where which who why will with would you your you're yes hi hello ok okay lol wtf "
    "omg thx pls love great bad service order refund price shop store"
)
_OTHER_LATIN_WORDS = _words(
    "el la los las que de del y en un una por para con es est le les des du et une pour "
    "avec pas je vous nous ist und der die das nicht ich sie mit auf ein eine yang dan ini "
    "itu tidak saya anda dengan untuk ada di ke dari o os um uma não com ang ng mga sa na "
    "ako ikaw hindi ya tak bisa sudah"
)
# Markup, URLs, e-mail addresses, @mentions and #hashtags say nothing about the writer's
# language (an `<img src=x onerror=...>` in a Chinese message is still Chinese).
_NOISE = re.compile(
    r"<[^<>]{0,500}>"  # HTML/XML tags
    r"|&[#\w]{1,10};"  # character entities
    r"|\b(?:https?|ftp)://\S+|\bwww\.\S+"  # URLs
    r"|\b[\w.+-]+@[\w-]+\.[\w.-]+"  # e-mail addresses
    r"|[@＠][\w.]+|[#＃]\w+"  # mentions and hashtags
    r"|`[^`]*`"  # inline code
)


def strip_noise(text: str) -> str:
    """The text without markup, URLs, e-mail addresses, mentions and hashtags."""
    return _NOISE.sub(" ", text)


# Latin letters with diacritics that English text practically never uses.
_NON_EN_LETTERS = re.compile(r"[\u00C0-\u024F\u1E00-\u1EFF]")


def _is_han(ch: str) -> bool:
    cp = ord(ch)
    return (
        0x4E00 <= cp <= 0x9FFF
        or 0x3400 <= cp <= 0x4DBF
        or 0x20000 <= cp <= 0x2FA1F
        or 0xF900 <= cp <= 0xFAFF
    )


def script_counts(text: str) -> dict[str, int]:
    """How many characters of each script the text holds (used by detection and features)."""
    counts = {"han": 0, "hant": 0, "hans": 0, "latin": 0, "kana": 0, "hangul": 0, "other": 0}
    for ch in text:
        if _is_han(ch):
            counts["han"] += 1
            if ch in TRADITIONAL_ONLY:
                counts["hant"] += 1
            elif ch in SIMPLIFIED_ONLY:
                counts["hans"] += 1
        elif 0x3100 <= ord(ch) <= 0x312F or 0x31A0 <= ord(ch) <= 0x31BF:
            # bopomofo (注音) is written in Taiwan only: it votes for Traditional
            counts["han"] += 1
            counts["hant"] += 1
        elif ch.isascii():
            if ch.isalpha():
                counts["latin"] += 1
        elif 0x3040 <= ord(ch) <= 0x30FF or 0x31F0 <= ord(ch) <= 0x31FF:
            counts["kana"] += 1
        elif 0xAC00 <= ord(ch) <= 0xD7AF or 0x1100 <= ord(ch) <= 0x11FF:
            counts["hangul"] += 1
        elif ch.isalpha():
            name = unicodedata.name(ch, "")
            if name.startswith(("LATIN", "FULLWIDTH LATIN")):
                counts["latin"] += 1
            else:
                counts["other"] += 1
    return counts


def chinese_script(text: str) -> str:
    """zh-Hant or zh-Hans for Chinese text, by counting one-script characters."""
    c = script_counts(text)
    return ZH_HANS if c["hans"] > c["hant"] else ZH_HANT


def detect_language(text: str) -> str:
    """One of `zh-Hant`, `zh-Hans`, `en`, `other`; never raises, never uses the network."""
    if not text or not text.strip():
        return OTHER
    text = unicodedata.normalize("NFKC", text)
    cleaned = strip_noise(text)
    if cleaned.strip():  # a message that is only a link or a tag is judged as it is
        text = cleaned
    c = script_counts(text)
    # Japanese mixes kana with kanji; Korean uses hangul. Either outweighing Chinese -> other.
    if (c["kana"] >= 2 and c["kana"] * 4 >= c["han"]) or c["hangul"] > c["han"]:
        return OTHER
    words = _WORD.findall(text)
    latin_words = len(words)
    # one English word carries about as much as two Chinese characters
    if c["han"] and c["han"] >= 2 * latin_words:
        return ZH_HANS if c["hans"] > c["hant"] else ZH_HANT
    if c["other"] > c["latin"] + c["han"]:
        return OTHER  # Cyrillic, Thai, Arabic ...
    if not latin_words:
        return ZH_HANS if c["han"] and c["hans"] > c["hant"] else (ZH_HANT if c["han"] else OTHER)
    lower = [w.lower() for w in words]
    en_hits = sum(w in _EN_WORDS for w in lower)
    other_hits = sum(w in _OTHER_LATIN_WORDS and w not in _EN_WORDS for w in lower)
    accented = len(_NON_EN_LETTERS.findall(text))
    if other_hits > en_hits or accented >= max(2, c["latin"] // 10):
        return OTHER
    return EN
