"""Single-message severity: legal threats, safety, media, regulators, data leaks and
discrimination, recognised by phrases (Traditional and Simplified Chinese, English) and by
meaning (embedding similarity to prototype sentences), so paraphrases are caught too.

The categories live in data/signals.yaml; a brand adds its own phrases and prototypes in
<playbook dir>/crisis/signals.yaml or a file named by a setting."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml

DEFAULT_FILE = Path(__file__).parent / "data" / "signals.yaml"
Embed = Callable[[list[str]], np.ndarray]  # texts → L2-normalised rows


class LexiconError(ValueError):
    """A signals file that cannot be used; the message names the file and the problem."""


@dataclass
class Category:
    name: str
    label: str
    severity: int
    strong: list[str] = field(default_factory=list)
    phrases: list[str] = field(default_factory=list)
    prototypes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class SeverityHit:
    """Why one message is serious on its own."""

    category: str
    label: str
    severity: int
    phrase: str | None  # the phrase found, if any
    similarity: float | None  # closeness to the nearest prototype, if judged by meaning
    prototype: str | None


@dataclass
class MeaningThresholds:
    """e5 similarities are compressed (unrelated short messages score ~0.85), so a message must
    be close to a prototype in absolute terms *and* clearly closer to it than to any ordinary
    message (the `margin`). Measured with the bundled encoder: crisis paraphrases sit up to
    +0.07 above their closest ordinary sentence; everyday messages mostly below 0, the odd one
    that shares a word with a prototype ("記者節有活動嗎") up to about +0.03 until a benign use
    of that word is in `ordinary`."""

    floor: float = 0.885
    margin: float = 0.02  # by meaning alone, for a negative message
    strong_floor: float = 0.91  # by meaning alone, whatever its sentiment
    strong_margin: float = 0.04
    phrase_margin: float = (
        0.0  # a weak phrase in a negative message, unless its meaning is ordinary
    )


class Lexicon:
    def __init__(self, categories: dict[str, Category], ordinary: list[str]):
        self.categories = categories
        self.ordinary = ordinary
        self.thresholds = MeaningThresholds()
        self._patterns = {
            name: (_compile(c.strong), _compile(c.phrases)) for name, c in categories.items()
        }
        self._proto_vectors: np.ndarray | None = None
        self._proto_owner: list[tuple[str, str]] = []  # (category, sentence) per row
        self._ordinary_vectors: np.ndarray | None = None

    @classmethod
    def load(cls, extra: Iterable[Path | None] = ()) -> Lexicon:
        categories: dict[str, Category] = {}
        ordinary: list[str] = []
        for path in [DEFAULT_FILE, *[p for p in extra if p]]:
            if not Path(path).is_file():
                continue
            _merge(categories, ordinary, Path(path))
        return cls(categories, ordinary)

    # ---- phrases -------------------------------------------------------------------------

    def phrase_hits(self, text: str) -> list[tuple[str, str, bool]]:
        """(category, phrase, strong) for every category with a phrase in the text."""
        norm = normalize(text)
        hits = []
        for name, (strong, weak) in self._patterns.items():
            for pattern, is_strong in ((strong, True), (weak, False)):
                found = pattern.search(norm) if pattern else None
                if found:
                    hits.append((name, found.group(0), is_strong))
                    break
        return hits

    # ---- meaning -------------------------------------------------------------------------

    def prepare(self, embed: Embed) -> None:
        """Embed the prototypes and ordinary sentences once."""
        owners = [(n, s) for n, c in self.categories.items() for s in c.prototypes]
        self._proto_owner = owners
        self._proto_vectors = embed([s for _, s in owners]) if owners else np.zeros((0, 1))
        self._ordinary_vectors = embed(self.ordinary) if self.ordinary else None

    @property
    def prepared(self) -> bool:
        return self._proto_vectors is not None

    def nearest(self, vector: np.ndarray) -> tuple[str, str, float, float] | None:
        """(category, prototype, similarity, margin over the closest ordinary sentence)."""
        if self._proto_vectors is None or not len(self._proto_owner):
            return None
        sims = self._proto_vectors @ vector
        best = int(np.argmax(sims))
        ordinary = (
            float(np.max(self._ordinary_vectors @ vector))
            if self._ordinary_vectors is not None
            else 0.0
        )
        category, sentence = self._proto_owner[best]
        return category, sentence, float(sims[best]), float(sims[best]) - ordinary

    # ---- the judgement -------------------------------------------------------------------

    def assess(self, text: str, vector: np.ndarray | None, negative: bool) -> SeverityHit | None:
        """The most severe reason this one message is a possible crisis, or None.

        A strong phrase counts on its own. A weak phrase ("律師", "過敏") counts in a negative
        message whose meaning is not that of an ordinary one. Meaning alone counts when the
        message is clearly closer to a prototype than to anything ordinary."""
        t = self.thresholds
        near = self.nearest(vector) if vector is not None else None
        margin = near[3] if near else None
        candidates: dict[str, SeverityHit] = {}
        for name, phrase, strong in self.phrase_hits(text or ""):
            ordinary = margin is not None and margin < t.phrase_margin
            if strong or (negative and not ordinary):
                c = self.categories[name]
                candidates[name] = SeverityHit(name, c.label, c.severity, phrase, None, None)
        if near:
            name, sentence, sim, margin = near
            by_meaning = (negative and sim >= t.floor and margin >= t.margin) or (
                sim >= t.strong_floor and margin >= t.strong_margin
            )
            if by_meaning:
                c = self.categories[name]
                said = candidates[name].phrase if name in candidates else None
                bonus = 1 if said else 0  # words and meaning agree
                candidates[name] = SeverityHit(
                    name, c.label, min(10, c.severity + bonus), said, round(sim, 3), sentence
                )
        if not candidates:
            return None
        return max(candidates.values(), key=lambda h: (h.severity, h.similarity or 0))


def normalize(text: str) -> str:
    """Full-width to half-width, lower case, so "ＬＡＷＳＵＩＴ" matches "lawsuit"."""
    return unicodedata.normalize("NFKC", text).lower()


def _is_cjk(phrase: str) -> bool:
    return any("\u3400" <= ch <= "\u9fff" for ch in phrase)


def _compile(phrases: list[str]) -> re.Pattern | None:
    if not phrases:
        return None
    parts = []
    for phrase in sorted({normalize(p) for p in phrases}, key=len, reverse=True):
        escaped = re.escape(phrase).replace(r"\ ", r"\s+")
        parts.append(escaped if _is_cjk(phrase) else rf"(?<![a-z0-9]){escaped}(?![a-z0-9])")
    return re.compile("|".join(parts))


def _merge(categories: dict[str, Category], ordinary: list[str], path: Path) -> None:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise LexiconError(f"{path}: invalid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise LexiconError(f"{path}: expected a mapping at the top level")
    for name, spec in (data.get("categories") or {}).items():
        if not isinstance(spec, dict):
            raise LexiconError(f"{path}: category {name!r} must be a mapping")
        category = categories.get(name)
        if category is None:
            severity = spec.get("severity", 5)
            if not isinstance(severity, int) or not 1 <= severity <= 10:
                raise LexiconError(f"{path}: {name}.severity must be a whole number 1-10")
            category = Category(name, str(spec.get("label") or name), severity)
            categories[name] = category
        elif "severity" in spec:
            category.severity = int(spec["severity"])
        for key in ("strong", "phrases", "prototypes"):
            items = spec.get(key) or []
            if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
                raise LexiconError(f"{path}: {name}.{key} must be a list of texts")
            getattr(category, key).extend(i.strip() for i in items if i.strip())
    extra = data.get("ordinary") or []
    if not isinstance(extra, list) or not all(isinstance(i, str) for i in extra):
        raise LexiconError(f"{path}: ordinary must be a list of texts")
    ordinary.extend(extra)
