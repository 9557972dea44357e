"""Relationship stage of a contact, from the three-stage model of social enterprises on social
media (認同 identification → 關係 relationship → 協同 collaboration).

The rules, applied after every inbound message with the contact's recent history:

- Everyone starts at **identification**: the general public, first contacts, questions about
  who the brand is.
- **identification → relationship** when the contact comes back warmly: messages on at least
  two different days, or at least three messages, and at least one of them is warm (praise,
  positive sentiment, or a suggestion). Warmth is what the paper's emotional bond means.
- **relationship → collaboration** when a relationship-stage contact makes a suggestion
  (an idea, feedback turned into a proposal, an offer to help, their own content), or once a
  contact has made two suggestions in all: that is knowledge sharing, the core-member signal.
- Stages move back too: **collaboration → relationship** after 90 days of silence or when the
  last two messages are complaints or trolling; **relationship → identification** after 180 days
  of silence or when the contact trolls.

Each move carries a plain-language reason, stored as a stage transition.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

IDENTIFICATION, RELATIONSHIP, COLLABORATION = "identification", "relationship", "collaboration"


@dataclass(frozen=True)
class Signal:
    """What stage rules need to know about one past or current message of the contact."""

    at: datetime
    type: str | None
    sentiment: float | None
    suggestion: bool

    @property
    def warm(self) -> bool:
        return self.type == "advocate" or self.suggestion or (self.sentiment or 0) >= 0.4

    @property
    def hostile(self) -> bool:
        return self.type in ("troll", "complaint")


@dataclass(frozen=True)
class StageDecision:
    stage: str
    reason: str | None  # None when the stage did not change

    @property
    def changed(self) -> bool:
        return self.reason is not None


def decide_stage(
    current: str, history: list[Signal], previous_seen: datetime | None
) -> StageDecision:
    """`history` is oldest first and ends with the message being processed; `previous_seen` is
    when the contact wrote before it (None for a first message)."""
    latest = history[-1]
    silence = latest.at - previous_seen if previous_seen else timedelta(0)
    days = {s.at.date() for s in history}
    suggestions = sum(s.suggestion for s in history)

    if current == COLLABORATION:
        if silence >= timedelta(days=90):
            return StageDecision(RELATIONSHIP, f"came back after {silence.days} days of silence")
        if len(history) >= 2 and all(s.hostile for s in history[-2:]):
            return StageDecision(RELATIONSHIP, "the last two messages were complaints or trolling")
        return StageDecision(current, None)

    if current == RELATIONSHIP:
        if silence >= timedelta(days=180):
            return StageDecision(IDENTIFICATION, f"came back after {silence.days} days of silence")
        if latest.type == "troll":
            return StageDecision(IDENTIFICATION, "trolled the brand")
        if latest.suggestion:
            return StageDecision(COLLABORATION, "a returning member made a suggestion")
        return StageDecision(current, None)

    if suggestions >= 2:
        return StageDecision(COLLABORATION, f"made {suggestions} suggestions")
    returning = len(days) >= 2 or len(history) >= 3
    if returning and any(s.warm for s in history) and latest.type != "troll":
        why = f"came back ({len(history)} messages on {len(days)} days) with warm engagement"
        return StageDecision(RELATIONSHIP, why)
    return StageDecision(current, None)
