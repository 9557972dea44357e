"""Test doubles for the playbook tests: a classifier that reads its labels from the text and a
character n-gram embedder for FAQ mechanics (FAQ quality is tested with the real encoder)."""

from __future__ import annotations

import hashlib

import numpy as np

from nlp.language import detect_language
from nlp.types import COMMENTER_TYPES, Classification

SENTIMENT = {"advocate": 0.8, "complaint": -0.6, "troll": -0.8}


class LabelClassifier:
    """ "complaint/angry: text" → complaint, subtype angry; "suggest" or 建議/建议 in the text
    → a suggestion; "severe" in the label → sentiment -0.95; "low" → low confidence. The
    language is detected from the text for real."""

    name = "labels"

    def __init__(self):
        self.labels: dict[str, str] = {}  # text → "type/subtype/..." for unprefixed texts

    def classify(self, texts: list[str]) -> list[Classification]:
        return [self.one(t) for t in texts]

    def one(self, text: str) -> Classification:
        if text in self.labels:
            head, body = self.labels[text], text
        else:
            head, _, body = text.partition(":")
        labels = head.strip().lower().split("/") if body else ["other"]
        kind = labels[0] if labels[0] in COMMENTER_TYPES else "other"
        subtype = next((x for x in labels[1:] if x in ("angry", "unhappy", "misled")), None)
        if kind == "complaint" and subtype is None:
            subtype = "unhappy"
        sentiment = -0.95 if "severe" in labels else SENTIMENT.get(kind, 0.0)
        lowered = text.lower()
        return Classification(
            type=kind,
            scores={t: (0.9 if t == kind else 0.025) for t in COMMENTER_TYPES},
            sentiment=sentiment,
            language=detect_language(body or text),
            suggestion="suggest" in lowered or "建議" in text or "建议" in text,
            subtype=subtype,
            confidence=0.5 if "low" in labels else 0.92,
            low_confidence="low" in labels,
            model=self.name,
        )


def ngram_embed(texts: list[str], prefix: str) -> np.ndarray:
    """Unit vectors of hashed character bigrams: identical texts score 1, unrelated ones low."""
    out = np.zeros((len(texts), 512), dtype=np.float32)
    for row, text in enumerate(texts):
        text = text.lower()
        for a, b in zip(text, text[1:], strict=False):
            digest = hashlib.blake2b((a + b).encode(), digest_size=4).digest()
            out[row, int.from_bytes(digest, "big") % 512] += 1.0
        norm = np.linalg.norm(out[row])
        if norm:
            out[row] /= norm
    return out
