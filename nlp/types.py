"""The result of classifying one message, shared by the pipeline, playbooks and reports."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any, Protocol

COMMENTER_TYPES = ("troll", "complaint", "advocate", "question", "other")
COMPLAINT_SUBTYPES = ("angry", "unhappy", "misled")
LANGUAGES = ("zh-Hant", "zh-Hans", "en", "other")
STAGES = ("identification", "relationship", "collaboration")


@dataclass(frozen=True)
class Classification:
    """What the classifier concluded about one message.

    `scores` holds a probability per commenter type (they sum to 1); `confidence` is the
    probability of the chosen type, and `low_confidence` tells playbooks to route to a human.

    `embedding`, when the classifier computed one anyway, is the text's sentence embedding as
    `nlp.encoder.Encoder.embed(texts, prefix="query: ")` returns it (last layer, mean-pooled,
    unit length) from the encoder named `embedding_model`, so later steps (crisis detection)
    need not embed the text again. It is left out of `to_dict`.
    """

    type: str
    scores: dict[str, float]
    sentiment: float
    language: str
    suggestion: bool = False
    subtype: str | None = None
    confidence: float = 0.0
    low_confidence: bool = False
    model: str = ""
    extra: dict = field(default_factory=dict)
    embedding: Any = field(default=None, repr=False, compare=False)  # np.ndarray | None
    embedding_model: str = ""

    def to_dict(self) -> dict:
        found = asdict(replace(self, embedding=None))
        del found["embedding"]
        return found


class Classifier(Protocol):
    """Anything that turns texts into classifications, in order, one per text."""

    name: str

    def classify(self, texts: list[str]) -> list[Classification]: ...
