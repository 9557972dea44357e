"""Same-story clusters: many different people complaining about the same thing, found by
embedding similarity, and judged against how often messages like these arrived over the last
days (their share of negative messages) at this hour's normal negative volume."""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np

from bot.crisis.signals import Observation, unit
from bot.crisis.stats import negbin_sf


@dataclass
class StoryThresholds:
    """e5 similarities: paraphrases of one story sit ≥ 0.94 from their centroid while routine
    complaints about other things stay below ~0.93; pairs of paraphrases are ~0.90."""

    neighbour: float = 0.90  # a pair this close may be the same story (to seed a cluster)
    member: float = 0.935  # this close to a cluster's centroid is the same story
    duplicate: float = 0.94  # a past message this close to a member said the same thing
    known_copies: int = 3  # a member with this many past near-copies is an everyday complaint


@dataclass
class Story:
    members: list[Observation]  # oldest first
    vectors: np.ndarray  # the members' embeddings, one row each
    centroid: np.ndarray
    authors: int


def find_stories(
    observations: Sequence[Observation], min_authors: int, t: StoryThresholds
) -> list[Story]:
    """Dense groups of same-story messages from at least `min_authors` people."""
    items = [o for o in observations if o.vector is not None]
    if len(items) < min_authors:
        return []
    vectors = np.stack([o.vector for o in observations if o.vector is not None])  # of items
    close = (vectors @ vectors.T) >= t.neighbour
    remaining = np.ones(len(items), dtype=bool)
    stories: list[Story] = []
    for _ in range(len(items)):  # each round removes at least the seed
        degree = (close & remaining[None, :]).sum(axis=1) * remaining
        seed = int(np.argmax(degree))
        if degree[seed] < min_authors:
            break
        members = close[seed] & remaining
        for _refine in range(2):
            centroid = unit(vectors[members].mean(axis=0))
            members = ((vectors @ centroid) >= t.member) & remaining
            if not members.any():
                members[seed] = True
                break
        remaining &= ~members
        remaining[seed] = False
        chosen = [items[i] for i in np.flatnonzero(members)]
        authors = len({o.author for o in chosen})
        if authors >= min_authors:
            chosen_vectors = vectors[members]
            stories.append(
                Story(chosen, chosen_vectors, unit(chosen_vectors.mean(axis=0)), authors)
            )
    return stories


class TopicHistory:
    """Embeddings of the negative messages of the last few days that have left the story window,
    to tell how usual a topic is."""

    def __init__(self, days: float = 7, capacity: int = 20_000):
        self.span = timedelta(days=days)
        self.capacity = capacity
        self._items: deque[tuple[datetime, np.ndarray]] = deque()
        self._matrix: np.ndarray | None = None

    def add(self, at: datetime, vector: np.ndarray) -> None:
        self._items.append((at, vector.astype(np.float32)))
        self._matrix = None
        if len(self._items) > self.capacity:
            self._items.popleft()

    def prune(self, now: datetime) -> None:
        horizon = now - self.span
        while self._items and self._items[0][0] < horizon:
            self._items.popleft()
            self._matrix = None

    def _past(self, dim: int) -> np.ndarray:
        if self._matrix is None:
            vectors = [v for _, v in self._items]
            self._matrix = np.stack(vectors) if vectors else np.zeros((0, dim), dtype=np.float32)
        return self._matrix

    def judge(self, story: Story, t: StoryThresholds) -> tuple[list[Observation], float, float]:
        """(novel members, share, gamma shape) of a story against the past messages.

        Novel members are not everyday complaints: fewer than `t.known_copies` past messages
        say nearly the same thing. Only these make a story, so a handful of people writing this
        week's usual complaints in one hour is not one.

        The share is the fraction of past negative messages that would have belonged to the
        story the novel members tell: as close to their centroid as most of them are (the
        centroid of many messages drifts toward what all messages share, so the bar is the
        members' own closeness), or nearly a copy of one of them. Half a message in 20 is the
        prior: a new topic is rare, not impossible."""
        members = story.vectors
        past = self._past(members.shape[1])
        if not len(past):
            return list(story.members), 0.5 / 20.0, 0.5
        copies = (past @ members.T) >= t.duplicate
        keep = copies.sum(axis=0) < t.known_copies
        novel = [o for o, k in zip(story.members, keep, strict=True) if k]
        similar = 0
        if novel:  # the story is what the novel members say; judge that against the past
            mine = members[keep]
            centroid = unit(mine.mean(axis=0))
            bar = max(t.member, float(np.quantile(mine @ centroid, 0.25)))
            same = ((past @ centroid) >= bar) | copies[:, keep].any(axis=1)
            similar = int(same.sum())
        prior_similar, prior_total = 0.5, 20.0
        share = (similar + prior_similar) / (len(past) + prior_total)
        return novel, share, similar + prior_similar


def story_p(authors: int, expected: float, shape: float) -> float:
    """Chance of `authors` or more when `expected` is normal and the topic's share is only
    known from history: the gamma-Poisson (negative binomial) predictive."""
    return negbin_sf(authors, expected, shape)
