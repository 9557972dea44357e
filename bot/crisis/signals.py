"""The four crisis signals as tests on a window of messages, each explained in plain language:
a volume spike, a jump in the negative share, one severe message, and a same-story cluster."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

from bot.crisis.lexicon import SeverityHit
from bot.crisis.stats import betabinom_sf, negbin_sf, surprise

METRIC_WORDS = {
    "complaint": "complaints",
    "negative": "negative messages",
    "troll": "troll messages",
    "all": "messages",
}


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


def _where(channel: str) -> str:
    return "on all channels" if channel == "*" else f"on {channel}"


def _p_text(p: float) -> str:
    if p < 1e-6:
        return "less than one in a million"
    return f"about 1 in {round(1 / p):,}"


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
    words = METRIC_WORDS[metric]
    severity = 3 + min(3, int(np.log2(max(ratio, 1)))) + (1 if surprise(p) >= 9 else 0)
    channels = sorted({o.channel for o in evidence}) if channel == "*" else [channel]
    return Signal(
        kind="volume",
        key=f"volume:{metric}:{channel}:{minutes}",
        at=now,
        severity=min(10, severity + (1 if len(channels) > 1 else 0)),
        title=f"Spike in {words} {_where(channel)}",
        explanation=(
            f"{count} {words} from different people {_where(channel)} in the last {minutes} "
            f"minutes, where about {expected:.1f} is normal at this hour and weekday "
            f"({ratio:.1f}×). Chance of this many on a normal day: {_p_text(p)}."
        ),
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
    )


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
    share = negative / total
    jump = share - normal_share
    return Signal(
        kind="share",
        key=f"share:{channel}:{minutes}",
        at=now,
        severity=min(10, 3 + int(jump * 8) + (1 if surprise(p) >= 9 else 0)),
        title=f"Negative share jumped {_where(channel)}",
        explanation=(
            f"{negative} of {total} messages {_where(channel)} in the last {minutes} minutes "
            f"are negative ({share:.0%}), where {normal_share:.0%} is normal at this hour. "
            f"Chance of a share this high on a normal day: {_p_text(p)}."
        ),
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
    )


def severity_signal(obs: Observation, hit: SeverityHit) -> Signal:
    return Signal(
        kind="severity",
        key=f"severity:{hit.category}:{obs.message_id}",
        at=obs.at,
        severity=hit.severity + (1 if obs.negative and hit.severity < 10 else 0),
        title=f"Possible {hit.label} on {obs.channel}",
        explanation=(
            f"One message on {obs.channel} reads as a {hit.label}, recognised by {hit.how}."
        ),
        channels=[obs.channel],
        message_ids=[obs.message_id],
        figures={
            "category": hit.category,
            "phrase": hit.phrase,
            "similarity": hit.similarity,
            "prototype": hit.prototype,
        },
        vector=obs.vector,
    )


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
    return Signal(
        kind="story",
        key=f"story:{members[0].message_id}",
        at=now,
        severity=min(10, severity + (1 if len(channels) > 1 else 0)),
        title=f"{authors} people raising the same issue",
        explanation=(
            f"{authors} different people on {', '.join(channels)} wrote about the same thing "
            f"in the last {minutes} minutes (e.g. “{example}”), where about {expected:.1f} "
            f"messages like these would be normal. Chance on a normal day: {_p_text(p)}."
        ),
        channels=channels,
        message_ids=[o.message_id for o in members],
        figures={"authors": authors, "expected": round(expected, 2), "p_value": p},
        vector=centroid,
        p_value=p,
    )


def unit(vector: np.ndarray) -> np.ndarray:
    norm = float(np.linalg.norm(vector))
    return vector / norm if norm > 0 else vector
