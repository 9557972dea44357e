"""The FAQ: questions and answers in zh-Hant, zh-Hans and English, found by meaning with the
classifier's encoder, each answer citing the entry it came from; plus the checks behind
`replyline faq check` (near-duplicate and conflicting entries)."""

from __future__ import annotations

import contextlib
import logging
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from nlp.zh_chars import to_simplified
from playbooks.brand import LANGUAGES, FaqSettings
from playbooks.yamlfile import Mapping, PlaybookError, Reader, Sequence, load

if TYPE_CHECKING:
    from nlp.settings import NlpSettings
    from nlp.types import Classification

log = logging.getLogger(__name__)
Embed = Callable[[list[str], str], np.ndarray]  # (texts, prefix) → unit rows
_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)?")
ALIKE_AT = 0.95  # main questions this close ask the same thing (different ones stay under 0.92)


@dataclass(frozen=True)
class FaqEntry:
    id: str
    questions: dict[str, list[str]]  # language → the question and its paraphrases
    answer: dict[str, str]
    line: int

    def answer_in(self, language: str) -> str:
        """The answer in the customer's language and script (zh-Hans converted from zh-Hant
        when the entry has none)."""
        if self.answer.get(language):
            return self.answer[language]
        if language == "zh-Hans":
            return to_simplified(self.answer["zh-Hant"])
        return self.answer["en"]

    def question_in(self, language: str) -> str:
        for lang in (language, "zh-Hant" if language == "zh-Hans" else "en", "en", "zh-Hant"):
            if self.questions.get(lang):
                return self.questions[lang][0]
        return next(iter(self.questions.values()))[0]


@dataclass(frozen=True)
class FaqMatch:
    entry: FaqEntry
    score: float  # similarity to the entry's closest question and its answer, averaged
    confident: bool  # good enough to answer from, and standing clearly above the rest
    lift: float = 0.0  # how far above the average entry


@dataclass(frozen=True)
class FaqFinding:
    kind: str  # duplicate | conflict
    entries: tuple[str, ...]
    detail: str

    def __str__(self) -> str:
        return f"{self.kind}: {' / '.join(self.entries)}: {self.detail}"


def load_entries(path: Path) -> list[FaqEntry]:
    """faq.yaml parsed and checked; a missing file is an empty FAQ."""
    if not path.exists():
        return []
    data = load(path)
    r = Reader(path)
    if data is None:
        return []
    items = data.get("entries") if isinstance(data, Mapping) else None
    if not isinstance(items, Sequence):
        raise r.fail(data, "entries", "the FAQ file needs an 'entries:' list")
    entries: list[FaqEntry] = []
    seen: dict[str, int] = {}
    for index, item in enumerate(items):
        if not isinstance(item, Mapping):
            raise r.fail(items, index, "each FAQ entry is a mapping with id, question and answer")
        r.only(item, ("id", "question", "also", "answer"), "faq entry")
        entry_id = r.text(item, "id", "faq entry", required=True)
        if not _ID.match(entry_id):
            raise r.fail(item, "id", f"faq id {entry_id!r}: use lower-case letters, digits, - or _")
        if entry_id in seen:
            raise r.fail(
                item, "id", f"faq id {entry_id!r} is already used on line {seen[entry_id]}"
            )
        seen[entry_id] = item.line_of("id")
        where = f"faq {entry_id}"
        question = _texts_by_language(r, item, "question", where, required=True)
        also = _texts_by_language(r, item, "also", where, required=False, many=True)
        answer = _texts_by_language(r, item, "answer", where, required=True)
        for lang in ("zh-Hant", "en"):
            if lang not in answer:
                raise r.fail(item, "answer", f"{where}: answer needs a {lang} text")
        questions = {lang: [question[lang], *also.get(lang, [])] for lang in question}
        for lang, extra in also.items():
            questions.setdefault(lang, []).extend(x for x in extra if x not in questions[lang])
        entries.append(FaqEntry(entry_id, questions, answer, item.line))
    return entries


def _texts_by_language(r: Reader, item: Mapping, key: str, where: str, required, many=False):
    value = item.get(key)
    if value is None:
        if required:
            raise r.fail(item, None, f"{where}: '{key}' is missing")
        return {}
    if not isinstance(value, Mapping):
        raise r.fail(item, key, f"{where}.{key} needs one entry per language (zh-Hant:, en:)")
    r.only(value, LANGUAGES, f"{where}.{key}")
    if many:
        return {lang: r.texts(value, lang, f"{where}.{key}") for lang in value}
    return {lang: r.text(value, lang, f"{where}.{key}", required=True) for lang in value}


# FAQ embeddings by (encoder, questions, answers): a reload of unchanged playbooks, or another
# Services in the same process (tests, the CLI), does not embed them all again.
_INDEXES: dict[tuple, tuple[np.ndarray, np.ndarray]] = {}


class Faq:
    """Semantic search over the entries. An entry's score averages how close the message is to
    its closest question (query to query) and to its answer (query to passage, what e5 is
    trained for); it is answered from only when that score is high and stands clearly above
    the average entry (`lift`), which is what separates a real match from a vaguely related
    one. The index is built on first use (the encoder takes seconds to load); a failing
    encoder degrades to 'no match' — every question then goes to a person — logged once."""

    def __init__(self, entries: list[FaqEntry], settings: FaqSettings, embed: Embed | None):
        self.entries = entries
        self.settings = settings
        self.embed = embed
        self._index_data: tuple[np.ndarray, list[int], np.ndarray, list[int]] | None = None
        self._lock = threading.Lock()
        self._failed: str | None = None

    def __len__(self) -> int:
        return len(self.entries)

    @property
    def failed(self) -> str | None:
        """Why search is off (the encoder could not be loaded), or None."""
        return self._failed

    def get(self, entry_id: str) -> FaqEntry | None:
        return next((e for e in self.entries if e.id == entry_id), None)

    def prepare(self) -> None:
        """Build the index ahead of the first search (a failure shows in that search)."""
        if self.entries and self.embed is not None and not self._failed:
            with contextlib.suppress(Exception):
                self._index()

    def _index(self) -> tuple[np.ndarray, list[int], np.ndarray, list[int]]:
        with self._lock:
            if self._index_data is None:
                questions, question_rows, answers, answer_rows = [], [], [], []
                for i, entry in enumerate(self.entries):
                    for variants in entry.questions.values():
                        questions.extend(variants)
                        question_rows.extend([i] * len(variants))
                    for text in entry.answer.values():
                        answers.append(_plain(text))
                        answer_rows.append(i)
                model = getattr(self.embed, "model", None)
                key = (model, tuple(questions), tuple(answers)) if model else None
                vectors = _INDEXES.get(key) if key else None
                if vectors is None:
                    vectors = (self._embed(questions, "query: "), self._embed(answers, "passage: "))
                    if key:
                        while len(_INDEXES) >= 4:  # playbooks edited over and over
                            _INDEXES.pop(next(iter(_INDEXES)))
                        _INDEXES[key] = vectors
                self._index_data = (vectors[0], question_rows, vectors[1], answer_rows)
        return self._index_data

    def _embed(self, texts: list[str], prefix: str) -> np.ndarray:
        if self.embed is None:
            raise RuntimeError("no encoder configured for FAQ search")
        return np.asarray(self.embed(texts, prefix), dtype=np.float32)

    def _per_entry(self, scores: np.ndarray, rows: list[int]) -> np.ndarray:
        best: np.ndarray = np.full(len(self.entries), -1.0, dtype=np.float32)
        np.maximum.at(best, np.asarray(rows), scores)
        return best

    def search(
        self, text: str, limit: int = 3, given: Classification | None = None
    ) -> list[FaqMatch]:
        """The closest entries, best first. `given`: the message's classification, whose
        embedding is used instead of embedding the text again when it is the same kind."""
        if not self.entries or not text.strip() or self._failed:
            return []
        try:
            questions, question_rows, answers, answer_rows = self._index()
            query = self._given(given)
            if query is None:
                query = self._embed([text.strip()], "query: ")[0]
        except Exception as exc:  # the encoder is missing or broken: humans answer instead
            self._failed = f"{type(exc).__name__}: {exc}"
            log.error("FAQ search is off, every question goes to a person: %s", self._failed)
            return []
        score = 0.5 * self._per_entry(questions @ query, question_rows) + 0.5 * self._per_entry(
            answers @ query, answer_rows
        )
        baseline = float(score.mean())
        order = np.argsort(-score)[: max(limit, 2)]
        runner_up = float(score[order[1]]) if len(order) > 1 else -1.0
        s = self.settings
        return [
            FaqMatch(
                self.entries[i],
                round(float(score[i]), 4),
                confident=bool(
                    n == 0
                    and score[i] >= s.answer_at
                    and score[i] - baseline >= s.lift
                    and score[i] - runner_up >= s.margin
                ),
                lift=round(float(score[i]) - baseline, 4),
            )
            for n, i in enumerate(order.tolist()[:limit])
        ]

    def _given(self, result: Classification | None) -> np.ndarray | None:
        """The classifier's "query: " embedding of the text, if it came from our encoder."""
        model = getattr(self.embed, "model", None)
        if result is None or result.embedding is None or not model:
            return None
        if result.embedding_model != model:
            return None
        return np.asarray(result.embedding, dtype=np.float32)

    def best(self, text: str, given: Classification | None = None) -> FaqMatch | None:
        """The top entry if it is at least worth suggesting to a reviewer."""
        matches = self.search(text, limit=1, given=given)
        if matches and matches[0].score >= self.settings.suggest_at:
            return matches[0]
        return None

    def check(self) -> list[FaqFinding]:
        """Entries that ask the same question twice (their main questions, compared in each
        language and averaged, are closer than ALIKE_AT): a conflict when their answers state
        different figures, else a near-duplicate. Plus answers whose languages disagree."""
        findings = [f for e in self.entries for f in _language_conflicts(e)]
        if len(self.entries) < 2:
            return findings
        vectors = [
            self._embed([e.question_in(lang) for e in self.entries], "query: ")
            for lang in ("zh-Hant", "en")
        ]
        similarity = sum(v @ v.T for v in vectors) / len(vectors)
        for i, first in enumerate(self.entries):
            for j in range(i + 1, len(self.entries)):
                score = float(similarity[i, j])
                if score < ALIKE_AT:
                    continue
                second = self.entries[j]
                a, b = set(_numbers(first.answer_in("en"))), set(_numbers(second.answer_in("en")))
                ids = (first.id, second.id)
                if not (a <= b or b <= a):
                    detail = (f"the same question ({score:.2f}) answered with different figures: "
                              f"{', '.join(sorted(a))} vs {', '.join(sorted(b))}")  # fmt: skip
                    findings.append(FaqFinding("conflict", ids, detail))
                else:
                    findings.append(
                        FaqFinding("duplicate", ids, f"the same question ({score:.2f})")
                    )
        return findings


def _plain(answer: str) -> str:
    """An answer without its {variables}, for embedding."""
    return re.sub(r"\{\w+\}", "", answer)


def _numbers(text: str) -> list[str]:
    return sorted(n.replace(",", "") for n in _NUMBER.findall(text))


def _language_conflicts(entry: FaqEntry) -> list[FaqFinding]:
    """The languages of one answer must state the same figures (7 days is not 14 days). A
    figure only one language spells out ("Sec. 1" for 一段) is tolerated: one side's figures
    may be a subset of the other's."""
    figures = {lang: set(_numbers(text)) for lang, text in entry.answer.items()}
    reference = figures.get("en")
    return [
        FaqFinding(
            "conflict",
            (entry.id,),
            f"the {lang} answer says {', '.join(sorted(numbers)) or 'no figures'} but the en "
            f"answer says {', '.join(sorted(reference)) or 'no figures'}",
        )
        for lang, numbers in figures.items()
        if lang != "en"
        and reference is not None
        and not (numbers <= reference or reference <= numbers)
    ]


def encoder_embed(settings: NlpSettings | None = None) -> Embed:
    """FAQ search with the classifier's encoder (one shared instance per process); unset
    settings are read from the environment."""

    from nlp.encoder import configured_name

    def embed(texts: list[str], prefix: str) -> np.ndarray:
        from nlp.encoder import get_encoder

        return get_encoder(settings).embed(texts, prefix=prefix)

    # whose classifications' vectors are reusable: an attribute the FAQ index reads
    embed.model = configured_name(settings)  # type: ignore[attr-defined]
    return embed


__all__ = ["Faq", "FaqEntry", "FaqFinding", "FaqMatch", "PlaybookError", "encoder_embed"]
