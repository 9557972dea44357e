"""The crisis detector: watches classified messages on a clock it is given (`now`), so the same
code runs live and in a 30-day replay, and emits signals.

- volume: counts of complaints, negative and troll messages per channel and overall, over
  windows of 5, 15 and 60 minutes, against the seasonal baseline (negative binomial tail);
- share: the negative share over 30 minutes against its normal share (beta-binomial tail);
- severity: one message with a legal threat, safety issue, media, regulator, data leak or
  discrimination (phrases and meaning), at once;
- story: same-story complaints from many people against that topic's share of history.

A person counts once per metric per hour, so one angry customer writing ten messages is one
voice, not a spike. Volume, share and story signals must keep holding for 30 seconds (over
consecutive evaluations) and their messages must span more than a minute before they fire, so
one burst of noise does not alert.

The thresholds (alpha per test, minimum counts) are set so that a month of a realistic brand's
normal traffic raises at most about one false alarm: bench/crisis_replay.py measures it."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bot.crisis.baseline import Prior, SeasonalBaseline, Series
from bot.crisis.lexicon import Lexicon
from bot.crisis.signals import (
    Observation,
    Signal,
    severity_signal,
    share_p,
    share_signal,
    story_signal,
    volume_p,
    volume_signal,
)
from bot.crisis.story import StoryThresholds, TopicHistory, find_stories, story_p

VOLUME_METRICS = ("complaint", "negative", "troll")


@dataclass
class DetectorConfig:
    scales: tuple[int, ...] = (5, 15, 60)  # volume windows, minutes
    min_count: dict[int, int] = field(default_factory=lambda: {5: 5, 15: 6, 60: 8})
    min_ratio: float = 2.0  # at least twice the normal count, however significant
    alpha: float = 1e-6  # per test: ~36 tests a minute must stay quiet for a month
    persist: timedelta = timedelta(seconds=30)
    dedup: timedelta = timedelta(minutes=60)  # one person counts once per metric per hour
    share_minutes: int = 30
    share_min_total: int = 10
    share_min_jump: float = 0.25
    share_alpha: float = 1e-5  # fewer tests (one window per channel)
    story_minutes: int = 60
    story_min_authors: int = 5
    story_alpha: float = 1e-6
    story: StoryThresholds = field(default_factory=StoryThresholds)
    refire: timedelta = timedelta(minutes=5)  # a signal that keeps holding is re-sent this often
    baseline_weeks: int = 8
    timezone: str = "Asia/Taipei"
    priors: dict[str, Prior] = field(
        default_factory=lambda: {
            "all": Prior(rate=6.0),
            "complaint": Prior(rate=1.0),
            "negative": Prior(rate=1.5),
            "troll": Prior(rate=0.5),
        }
    )


class Detector:
    def __init__(self, config: DetectorConfig | None = None, lexicon: Lexicon | None = None):
        self.config = config or DetectorConfig()
        c = self.config
        self.lexicon = lexicon
        self.baseline = SeasonalBaseline(
            timezone=c.timezone, weeks=c.baseline_weeks, priors=c.priors
        )
        self.topics = TopicHistory()
        self.window: deque[Observation] = deque()
        self._span = timedelta(minutes=max(*c.scales, c.share_minutes, c.story_minutes))
        self._last_counted: dict[tuple[str, str], datetime] = {}
        self._holding_since: dict[str, datetime] = {}
        self._fired_at: dict[str, datetime] = {}
        self._story_members: dict[str, set[int]] = {}
        self._fresh = False  # messages arrived since the last evaluation
        self._fresh_negative = False  # negative ones, for the (costlier) story test
        self._last_stories: datetime | None = None
        self._held_stories: list[Signal] = []
        self._last_evaluation: datetime | None = None

    # ---- history -------------------------------------------------------------------------

    def learn(self, observations: list[Observation], now: datetime, since: datetime) -> None:
        """Warm start: learn the baseline from stored history (oldest first) up to `now`, and
        keep the recent part in the window."""
        self.baseline.start(since)
        for obs in observations:
            self._count(obs)
            if obs.at >= now - self._span:
                self.window.append(obs)
            else:
                self._remember(obs)
        self.baseline.advance(now)

    # ---- live ----------------------------------------------------------------------------

    def observe(self, obs: Observation) -> list[Signal]:
        """Take one new message; returns a severity signal at once if it is serious alone."""
        self.add(obs)
        return self.severity(obs)

    def add(self, obs: Observation) -> None:
        """Count one new message toward the window tests (no severity check)."""
        self._count(obs)
        self.window.append(obs)
        self._fresh = True
        self._fresh_negative |= obs.negative

    def severity(self, obs: Observation) -> list[Signal]:
        """The severity signal of one message that is serious alone (needs no other state, so
        any process may check the messages it processed)."""
        hit = self.lexicon.assess(obs.text, obs.vector, obs.negative) if self.lexicon else None
        return [severity_signal(obs, hit)] if hit else []

    def _remember(self, obs: Observation) -> None:
        """A message leaving the window becomes topic history."""
        if obs.vector is not None and obs.negative:
            self.topics.add(obs.at, obs.vector)

    def evaluate(self, now: datetime) -> list[Signal]:
        """Run the window tests as of `now`; returns the signals that fire now.

        With no new message and nothing holding, counts can only fall, so the tests are only
        re-run once a minute (the expected counts move with the hour)."""
        last = self._last_evaluation
        idle = not self._fresh and not self._holding_since
        if idle and last is not None and timedelta(0) <= now - last < timedelta(minutes=1):
            return []
        self._fresh, self._last_evaluation = False, now
        self.baseline.advance(now)
        self.topics.prune(now)
        while self.window and self.window[0].at < now - self._span:
            self._remember(self.window.popleft())
        recent = [o for o in self.window if o.at <= now]
        candidates = [*self._volume(recent, now), *self._share(recent, now)]
        if self._stories_due(now):
            candidates += self._stories(recent, now)
        else:  # nothing new to cluster: stories that held still hold
            candidates += self._held_stories
        holding = {s.key for s in candidates}
        for key in list(self._holding_since):
            if key not in holding:
                del self._holding_since[key]
        fired = []
        for signal in candidates:
            since = self._holding_since.setdefault(signal.key, now)
            if now - since < self.config.persist:
                continue
            last = self._fired_at.get(signal.key)
            if last and now - last < self.config.refire:
                continue
            self._fired_at[signal.key] = now
            fired.append(signal)
        return fired

    # ---- the tests -----------------------------------------------------------------------

    def _count(self, obs: Observation) -> None:
        """Mark which metrics this message counts toward, and teach the baseline."""
        counted = set()
        for metric in obs.metrics:
            key = (metric, obs.author)
            last = self._last_counted.get(key)
            if last is None or obs.at - last >= self.config.dedup:
                self._last_counted[key] = obs.at
                counted.add(metric)
                self.baseline.add((metric, obs.channel), obs.at)
                self.baseline.add((metric, "*"), obs.at)
        obs.counted = frozenset(counted)
        if len(self._last_counted) > 50_000:
            horizon = obs.at - self.config.dedup
            self._last_counted = {k: t for k, t in self._last_counted.items() if t >= horizon}

    def _volume(self, recent: list[Observation], now: datetime) -> list[Signal]:
        c = self.config
        counts: dict[tuple[str, str, int], list[Observation]] = {}
        for obs in recent:
            age = now - obs.at
            for metric in VOLUME_METRICS:
                if metric not in obs.counted:
                    continue
                for minutes in c.scales:
                    if age < timedelta(minutes=minutes):
                        counts.setdefault((metric, obs.channel, minutes), []).append(obs)
                        counts.setdefault((metric, "*", minutes), []).append(obs)
        signals = []
        for (metric, channel, minutes), evidence in counts.items():
            count = len(evidence)
            if count < c.min_count[minutes] or not _spans_minutes(evidence):
                continue
            series: Series = (metric, channel)
            expected = self.baseline.expected(series, now - timedelta(minutes=minutes), now)
            if count < c.min_ratio * expected:
                continue
            p = volume_p(count, expected, self.baseline.inverse_shape(series))
            if p <= c.alpha:
                signals.append(
                    volume_signal(metric, channel, minutes, count, expected, p, now, evidence)
                )
        return signals

    def _share(self, recent: list[Observation], now: datetime) -> list[Signal]:
        c = self.config
        start = now - timedelta(minutes=c.share_minutes)
        totals: dict[str, list[Observation]] = {}
        for obs in recent:
            if obs.at >= start and "all" in obs.counted:
                totals.setdefault(obs.channel, []).append(obs)
                totals.setdefault("*", []).append(obs)
        signals = []
        for channel, seen in totals.items():
            if len(seen) < c.share_min_total:
                continue
            negative = [o for o in seen if o.negative]
            normal = self.baseline.share(("negative", channel), ("all", channel), start, now)
            if normal is None or len(negative) / len(seen) < normal + c.share_min_jump:
                continue
            if not _spans_minutes(negative):
                continue
            firmness = self.baseline.share_concentration(("negative", channel), ("all", channel))
            p = share_p(len(negative), len(seen), normal, firmness)
            if p <= c.share_alpha:
                signals.append(
                    share_signal(
                        channel, c.share_minutes, len(negative), len(seen), normal, p, now, negative
                    )
                )
        return signals

    def _stories_due(self, now: datetime) -> bool:
        """Cluster again when a negative message arrived, or once a minute."""
        last = self._last_stories
        due = (
            self._fresh_negative
            or last is None
            or not timedelta(0) <= now - last < timedelta(minutes=1)
        )
        if due:
            self._fresh_negative, self._last_stories = False, now
        return due

    def _stories(self, recent: list[Observation], now: datetime) -> list[Signal]:
        self._held_stories = self._find_stories(recent, now)
        return self._held_stories

    def _find_stories(self, recent: list[Observation], now: datetime) -> list[Signal]:
        c = self.config
        window = timedelta(minutes=c.story_minutes)
        start = now - window
        pool = [o for o in recent if o.at >= start and o.negative]
        signals = []
        for story in find_stories(pool, c.story_min_authors, c.story):
            novel, share, shape = self.topics.judge(story, c.story)
            authors = len({o.author for o in novel})
            if authors < c.story_min_authors or not _spans_minutes(novel):
                continue
            series: Series = ("negative", "*")
            expected = share * self.baseline.expected(series, start, now)
            shape = 1 / (1 / shape + self.baseline.inverse_shape(series))
            p = story_p(authors, expected, shape)
            if p <= c.story_alpha:
                signal = story_signal(
                    story.members, authors, expected, p, c.story_minutes, story.centroid, now
                )
                signal.key = self._story_key(signal)
                signals.append(signal)
        return signals

    def _story_key(self, signal: Signal) -> str:
        """A story keeps its key while it grows: reuse the key of a held story it overlaps."""
        ids = set(signal.message_ids)
        for key, members in self._story_members.items():
            if key in self._holding_since and ids & members:
                self._story_members[key] = ids | members
                return key
        self._story_members[signal.key] = ids
        if len(self._story_members) > 500:
            self._story_members = {
                k: v for k, v in self._story_members.items() if k in self._holding_since
            }
        return signal.key


def _spans_minutes(evidence: list[Observation]) -> bool:
    """The excess is spread over more than one minute, not a single burst of noise."""
    if not evidence:
        return False
    times = [o.at for o in evidence]
    return max(times) - min(times) >= timedelta(seconds=60)
