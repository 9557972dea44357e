"""The four crisis signals as tests on a window of messages, each explained in plain language:
a volume spike, a jump in the negative share, one severe message, and a same-story cluster."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

from bot.crisis.lexicon import SeverityHit
from bot.crisis.stats import betabinom_sf, negbin_sf, surprise
from bot.crisis.wording import signal_explanation, signal_title
from bot.i18n import use_locale


def is_negative(kind: str | None, sentiment: float | None) -> bool:
    """A complaint, a troll, or clearly negative in tone."""
    if kind in ("complaint", "troll"):
        return True
    return sentiment is not None and sentiment <= -0.3


@dataclass
class Observation:
    """What the detector knows about one classified inbound message."""

    message_id: int
    at: datetime
    channel: str
    author: str  # one person on one channel; repeated messages count once
    type: str | None
    sentiment: float | None
    text: str = ""
    vector: np.ndarray | None = None  # unit embedding, when an encoder is available
    conversation_id: int | None = None
    contact_id: int | None = None
    counted: frozenset[str] = frozenset()  # metrics it adds to (set by the detector)

    @property
    def negative(self) -> bool:
        return is_negative(self.type, self.sentiment)

    @property
    def metrics(self) -> set[str]:
        found = {"all"}
        if self.type in ("complaint", "troll"):
            found.add(self.type)
        if self.negative:
            found.add("negative")
        return found


@dataclass
class Signal:
    """One reason to think a crisis is starting, with the figures behind it."""

    kind: str  # volume | share | severity | story
    key: str  # what exactly fired, e.g. "volume:complaint:line:15"
    at: datetime
    severity: int
    title: str
    explanation: str
    channels: list[str]
    message_ids: list[int]  # the evidence, most telling first
    figures: dict = field(default_factory=dict)
    vector: np.ndarray | None = None  # what the story is about, when known
    p_value: float | None = None

    def summary(self) -> dict:
        """What an incident keeps of the signal (JSON-safe)."""
        return {
            "kind": self.kind,
            "key": self.key,
            "at": self.at.isoformat(),
            "severity": self.severity,
            "title": self.title,
            "explanation": self.explanation,
            "figures": self.figures,
        }


def worded(signal: Signal) -> Signal:
    """The signal's title and explanation as stored: in English, written from its figures
    (bot/crisis/wording.py writes them in any reader's language)."""
    summary = signal.summary()
    with use_locale("en"):
        signal.title, signal.explanation = signal_title(summary), signal_explanation(summary)
    return signal


def volume_signal(
    metric: str,
    channel: str,
    minutes: int,
    count: int,
    expected: float,
    p: float,
    now: datetime,
    evidence: Sequence[Observation],
) -> Signal:
    ratio = count / max(expected, 0.01)
    severity = 3 + min(3, int(np.log2(max(ratio, 1)))) + (1 if surprise(p) >= 9 else 0)
    channels = sorted({o.channel for o in evidence}) if channel == "*" else [channel]
    return worded(Signal(
        kind="volume",
        key=f"volume:{metric}:{channel}:{minutes}",
        at=now,
        severity=min(10, severity + (1 if len(channels) > 1 else 0)),
        title="",
        explanation="",
        channels=channels,
        message_ids=[o.message_id for o in evidence],
        figures={
            "metric": metric,
            "channel": channel,
            "minutes": minutes,
            "count": count,
            "expected": round(expected, 2),
            "p_value": p,
        },
        p_value=p,
    ))  # fmt: skip


def volume_p(count: int, expected: float, inverse_shape: float) -> float:
    """Chance of at least `count` when `expected` is normal and hours scatter by 1/k."""
    return negbin_sf(count, expected, 1.0 / max(inverse_shape, 1e-6))


def share_p(negative: int, total: int, share: float, concentration: float) -> float:
    """Chance of at least `negative` of `total` being negative when `share` is normal."""
    return betabinom_sf(negative, total, share * concentration, (1 - share) * concentration)


def share_signal(
    channel: str,
    minutes: int,
    negative: int,
    total: int,
    normal_share: float,
    p: float,
    now: datetime,
    evidence: Sequence[Observation],
) -> Signal:
    jump = negative / total - normal_share
    return worded(Signal(
        kind="share",
        key=f"share:{channel}:{minutes}",
        at=now,
        severity=min(10, 3 + int(jump * 8) + (1 if surprise(p) >= 9 else 0)),
        title="",
        explanation="",
        channels=sorted({o.channel for o in evidence}) if channel == "*" else [channel],
        message_ids=[o.message_id for o in evidence],
        figures={
            "channel": channel,
            "minutes": minutes,
            "negative": negative,
            "total": total,
            "normal_share": round(normal_share, 3),
            "p_value": p,
        },
        p_value=p,
    ))  # fmt: skip


def severity_signal(obs: Observation, hit: SeverityHit) -> Signal:
    return worded(Signal(
        kind="severity",
        key=f"severity:{hit.category}:{obs.message_id}",
        at=obs.at,
        severity=hit.severity + (1 if obs.negative and hit.severity < 10 else 0),
        title="",
        explanation="",
        channels=[obs.channel],
        message_ids=[obs.message_id],
        figures={
            "category": hit.category,
            "label": hit.label,
            "channel": obs.channel,
            "phrase": hit.phrase,
            "similarity": hit.similarity,
            "prototype": hit.prototype,
        },
        vector=obs.vector,
    ))  # fmt: skip


def story_signal(
    members: Sequence[Observation],
    authors: int,
    expected: float,
    p: float,
    minutes: int,
    centroid: np.ndarray,
    now: datetime,
) -> Signal:
    channels = sorted({o.channel for o in members})
    example = members[0].text.strip().replace("\n", " ")
    example = example if len(example) <= 60 else example[:59] + "…"
    severity = 4 + min(3, int(np.log2(max(authors / max(expected, 0.5), 1)) // 2))
    return worded(Signal(
        kind="story",
        key=f"story:{members[0].message_id}",
        at=now,
        severity=min(10, severity + (1 if len(channels) > 1 else 0)),
        title="",
        explanation="",
        channels=channels,
        message_ids=[o.message_id for o in members],
        figures={
            "authors": authors,
            "expected": round(expected, 2),
            "p_value": p,
            "channels": channels,
            "minutes": minutes,
            "example": example,  # a customer's words: erased with them (bot/privacy)
        },
        vector=centroid,
        p_value=p,
    ))  # fmt: skip


def unit(vector: np.ndarray) -> np.ndarray:
    norm = float(np.linalg.norm(vector))
    return vector / norm if norm > 0 else vector
