"""The classifier the pipeline calls: encoder embedding -> trained heads -> `Classification`.

Texts with nothing to understand (empty, whitespace, emoji or sticker placeholders) never reach
the model: they are `other` by rule. Every other text gets a probability per commenter type,
a complaint subtype when the type is complaint, a sentiment score p(positive) - p(negative),
the detected language, the suggestion flag and a low-confidence mark (confidence below the
threshold picked from cross-validated predictions) that playbooks use to route to a human.
`extra` carries the sentiment label, subtype scores (and confidence) and the suggestion score;
`embedding` the text's plain sentence embedding, which the features contain anyway, so crisis
detection does not embed the message a second time.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np

from nlp.context import with_context
from nlp.features import cheap_features, has_content
from nlp.heads import HeadSet, find_heads
from nlp.language import detect_language
from nlp.settings import NlpSettings
from nlp.types import COMMENTER_TYPES, Classification, Classifier

if TYPE_CHECKING:
    from nlp.encoder import TextEncoder


class HeadsNotFoundError(FileNotFoundError):
    """No trained heads exist for the configured encoder."""


class ModelClassifier:
    """`Classifier` backed by an `nlp.encoder.Encoder` and a `HeadSet`."""

    def __init__(self, encoder: TextEncoder, heads: HeadSet) -> None:
        if heads.encoder != encoder.name:
            raise ValueError(
                f"heads were trained for encoder {heads.encoder!r}, not {encoder.name!r}"
            )
        self.encoder = encoder
        self.heads = heads
        self.features = list(heads.meta.get("features", []))
        self.prefix = heads.meta.get("prefix", "query: ")
        self.layers = heads.meta.get("layers") or None
        thresholds = heads.meta.get("thresholds", {})
        self.low_confidence = float(thresholds.get("low_confidence", 0.5))
        self.suggestion_threshold = float(thresholds.get("suggestion", 0.5))
        self.name = f"{encoder.name}+heads@{heads.meta.get('trained_at', 'unknown')}"
        for need in ("type", "sentiment"):
            if need not in heads.heads:
                raise ValueError(f"heads file lacks the {need!r} head")
        if list(heads.heads["type"].labels) != list(COMMENTER_TYPES):
            raise ValueError("type head labels do not match COMMENTER_TYPES")

    def _rule_other(self, text: str) -> Classification:
        scores = {t: 0.0 for t in COMMENTER_TYPES}
        scores["other"] = 1.0
        return Classification(
            type="other",
            scores=scores,
            sentiment=0.0,
            language=detect_language(text),
            suggestion=False,
            subtype=None,
            confidence=1.0,
            low_confidence=False,
            model=self.name,
            extra={"rule": "no_text"},
        )

    def classify(
        self,
        texts: list[str],
        batch_size: int = 64,
        progress=None,
        contexts: Sequence[Sequence[str] | None] | None = None,
    ) -> list[Classification]:
        """One `Classification` per text, in order. Batches the encoder calls. `contexts`
        (one list of previous turns, oldest first, per text) lets short follow-ups such as
        「那超商取貨付款呢？」 be read together with the turn they continue."""
        texts = ["" if t is None else str(t) for t in texts]
        if contexts is not None and len(contexts) != len(texts):
            raise ValueError("contexts must have one entry per text")
        results: list[Classification | None] = [None] * len(texts)
        todo = []
        for i, text in enumerate(texts):
            if has_content(text):
                todo.append(i)
            else:
                results[i] = self._rule_other(text)
        if todo:
            batch = [texts[i].strip() for i in todo]
            read = [
                with_context(t, contexts[i]) if contexts is not None else t
                for t, i in zip(batch, todo, strict=True)
            ]
            vec = self.encoder.embed(
                read,
                prefix=self.prefix,
                batch_size=batch_size,
                progress=progress,
                layers=self.layers,
            )
            sentence = self._sentence_embeddings(vec)
            if self.features:
                vec = np.concatenate([vec, cheap_features(read, self.features)], axis=1)
            for row, (i, cls) in enumerate(zip(todo, self._decide(batch, vec), strict=True)):
                if read[row] != batch[row]:
                    cls = replace(cls, extra={**cls.extra, "read_with_context": True})
                if sentence is not None:
                    cls = replace(
                        cls, embedding=sentence[row].copy(), embedding_model=self.encoder.name
                    )
                results[i] = cls
        return results  # type: ignore[return-value]

    def _sentence_embeddings(self, vec: np.ndarray) -> np.ndarray | None:
        """The plain sentence embeddings inside the features (what `encoder.embed(texts,
        prefix="query: ")` gives: the last layer's unit mean-pooled vector), for later steps to
        reuse; None when the heads use another prefix or not the last layer."""
        if self.prefix != "query: ":
            return None
        last = self.encoder.num_layers
        layers = list(self.layers) if self.layers else [last]
        if last not in layers:
            return None
        dim = vec.shape[1] // len(layers)
        start = layers.index(last) * dim
        return vec[:, start : start + dim]

    def _decide(self, texts: Sequence[str], x: np.ndarray) -> list[Classification]:
        heads = self.heads.heads
        p_type = heads["type"].predict_proba(x)
        p_sent = heads["sentiment"].predict_proba(x)
        sent_labels = heads["sentiment"].labels
        pos, neg = sent_labels.index("positive"), sent_labels.index("negative")
        p_sub = heads["subtype"].predict_proba(x) if "subtype" in heads else None
        p_sug = heads["suggestion"].predict_proba(x)[:, 1] if "suggestion" in heads else None
        out = []
        for row, text in enumerate(texts):
            probs = p_type[row].astype(np.float64)
            probs = probs / probs.sum()
            scores = {t: float(round(p, 6)) for t, p in zip(COMMENTER_TYPES, probs, strict=True)}
            best = int(np.argmax(probs))
            typ = COMMENTER_TYPES[best]
            confidence = float(probs[best])
            subtype = None
            extra: dict = {
                "sentiment_label": sent_labels[int(np.argmax(p_sent[row]))],
            }
            if p_sub is not None:
                sub_labels = heads["subtype"].labels
                extra["subtype_scores"] = {
                    s: float(round(v, 6)) for s, v in zip(sub_labels, p_sub[row], strict=True)
                }
                if typ == "complaint":
                    subtype = sub_labels[int(np.argmax(p_sub[row]))]
                    extra["subtype_confidence"] = float(round(p_sub[row].max(), 6))
            suggestion = False
            if p_sug is not None:
                extra["suggestion_score"] = float(round(p_sug[row], 6))
                suggestion = bool(p_sug[row] >= self.suggestion_threshold)
            sentiment = float(np.clip(p_sent[row, pos] - p_sent[row, neg], -1.0, 1.0))
            out.append(
                Classification(
                    type=typ,
                    scores=scores,
                    sentiment=round(sentiment, 4),
                    language=detect_language(text),
                    suggestion=suggestion,
                    subtype=subtype,
                    confidence=round(confidence, 6),
                    low_confidence=confidence < self.low_confidence,
                    model=self.name,
                    extra=extra,
                )
            )
        return out


_cache: dict[tuple, ModelClassifier] = {}
_lock = threading.Lock()


def load_classifier(
    model_dir: str | None = None, encoder: str | None = None, settings: NlpSettings | None = None
) -> Classifier:
    """The process-wide classifier (cached per arguments).

    `settings`: the classifier's settings (unset: from the environment, see nlp/settings.py);
    `model_dir` and `encoder`, when given, replace theirs. Heads are looked up as
    `<encoder name>.npz` in the settings' heads_dir, then in the package's nlp/heads.
    """
    from nlp.encoder import get_encoder

    settings = settings or NlpSettings.from_env()
    enc = get_encoder(settings.updated(model_dir=model_dir or None, encoder=encoder or None))
    path = find_heads(enc.name, settings.heads_dir)
    if path is None:
        raise HeadsNotFoundError(
            f"no trained heads for encoder {enc.name!r}; run `replyline train` first"
        )
    key = (id(enc), str(path), path.stat().st_mtime_ns)
    with _lock:
        clf = _cache.get(key)
        if clf is None:
            clf = ModelClassifier(enc, HeadSet.load(path))
            _cache[key] = clf
        return clf
