"""A few cheap surface features that complement the sentence embedding.

Kept deliberately tiny and language-neutral (punctuation and character-class ratios), so they
cannot memorise the training sentences; they are used only if they help on held-out data
(the heads' metadata records which were used).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

import numpy as np

FEATURES = ("question_mark", "exclamation", "emoji_ratio", "length", "no_letters")

_EMOJI_RANGES = (
    (0x1F000, 0x1FAFF),
    (0x2600, 0x27BF),
    (0x1F900, 0x1F9FF),
    (0xFE00, 0xFE0F),
    (0x200D, 0x200D),
)
_STICKER_TAG = re.compile(
    r"^\s*[\[\(（【<]\s*(sticker|stickers|貼圖|贴图|表情|圖片|图片|photo|image|emoji|gif|"
    r"動圖|动图|影片|视频|video|voice|語音|语音)\s*[\]\)）】>]\s*$",
    re.IGNORECASE,
)


def is_emoji(ch: str) -> bool:
    cp = ord(ch)
    return any(lo <= cp <= hi for lo, hi in _EMOJI_RANGES)


def has_content(text: str) -> bool:
    """False for empty, whitespace, emoji/punctuation-only and sticker placeholder texts."""
    if not text or not text.strip() or _STICKER_TAG.match(text):
        return False
    for ch in text:
        if ch.isalnum() and not is_emoji(ch):
            return True
        cat = unicodedata.category(ch)
        if cat.startswith("L") or cat.startswith("N"):
            return True
    return False


def cheap_features(texts: Sequence[str], names: Sequence[str] = FEATURES) -> np.ndarray:
    """(n, len(names)) float32, each roughly in [0, 1]."""
    out = np.zeros((len(texts), len(names)), dtype=np.float32)
    for i, text in enumerate(texts):
        n = max(len(text), 1)
        values = {
            "question_mark": float("?" in text or "？" in text),
            "exclamation": float("!" in text or "！" in text),
            "emoji_ratio": sum(is_emoji(c) for c in text) / n,
            "length": min(len(text), 200) / 200.0,
            "no_letters": float(not has_content(text)),
        }
        out[i] = [values[name] for name in names]
    return out
