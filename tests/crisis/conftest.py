"""Fixtures for crisis tests: the real encoder, a simulated clock's history, a recording channel."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from bot.crisis.signals import Observation

MONDAY = datetime(2026, 11, 2, 0, 0, tzinfo=UTC)  # Monday 08:00 in Taipei


@pytest.fixture(scope="session")
def embed():
    """The shared encoder (nlp.encoder), as the detector uses it."""
    from nlp.encoder import get_encoder

    encoder = get_encoder()
    return lambda texts: encoder.embed(list(texts), prefix="query: ")


def history(
    start: datetime,
    days: int,
    per_hour: dict[str, float],
    channel: str = "line",
    seed: int = 1,
    first_id: int = -1_000_000,
) -> list[Observation]:
    """Steady traffic: `per_hour` messages of each type an hour, from many different people."""
    rng = random.Random(seed)
    out = []
    for hour in range(days * 24):
        t0 = start + timedelta(hours=hour)
        for kind, rate in per_hour.items():
            whole = int(rate) + (1 if rng.random() < rate - int(rate) else 0)
            for _ in range(whole):
                at = t0 + timedelta(seconds=rng.uniform(0, 3600))
                out.append(obs(first_id + len(out), at, kind, author=f"h{rng.randrange(10**9)}",
                               channel=channel))  # fmt: skip
    return sorted(out, key=lambda o: o.at)


SENTIMENT = {"complaint": -0.6, "troll": -0.8, "advocate": 0.8, "question": 0.0, "other": 0.0}


def obs(
    message_id: int,
    at: datetime,
    kind: str = "complaint",
    author: str | None = None,
    channel: str = "line",
    text: str = "",
    vector=None,
    sentiment: float | None = None,
) -> Observation:
    return Observation(
        message_id=message_id,
        at=at,
        channel=channel,
        author=author or f"{channel}:{message_id}",
        type=kind,
        sentiment=SENTIMENT[kind] if sentiment is None else sentiment,
        text=text,
        vector=vector,
    )
