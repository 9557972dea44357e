"""What normal looks like: expected counts per hour of the week, learned from the brand's own
history, and how much real hours scatter around them.

Each series (e.g. complaints on LINE, or negative messages on all channels) keeps its hourly
counts for the last few weeks. The expected rate of an hour-of-week slot is the slot's own
average shrunk toward a smooth model (time-of-day profile × day-of-week factor), so three weeks
of history give usable figures and a single odd Tuesday does not. Hours already far above
normal are capped before they are learned, so a crisis does not become the new normal.

The scatter of real hours around the expectation (busy and quiet hours) is the negative
binomial shape k: variance = mean + mean²/k, estimated from the same history."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import numpy as np

HOUR = 3600
SLOTS = 7 * 24
Series = tuple[str, str]  # (metric, channel); channel "*" is all channels together


def hour_index(at: datetime) -> int:
    return int(at.timestamp() // HOUR)


@dataclass
class Prior:
    """What to assume before there is history: a rate per hour and its weight in hours."""

    rate: float = 1.0
    weight_hours: float = 24.0
    inverse_shape: float = 0.3  # 1/k before the data says otherwise


@dataclass
class _History:
    counts: np.ndarray  # ring buffer of hourly counts, indexed by hour index % size
    since: int  # first hour index this series has been observed over


@dataclass
class SeasonalBaseline:
    timezone: str = "Asia/Taipei"
    weeks: int = 8
    shrink_weeks: float = 2.0  # weight of the smooth model in a slot's estimate, in weeks
    priors: dict[str, Prior] = field(default_factory=dict)
    _series: dict[Series, _History] = field(default_factory=dict)
    _pending: dict[tuple[Series, int], float] = field(default_factory=dict)
    _rates: dict[Series, np.ndarray] = field(default_factory=dict)  # per-slot rate per hour
    _inverse_shape: dict[Series, float] = field(default_factory=dict)
    _closed_until: int | None = None  # hours before this index are learned
    _slot_cache: dict[int, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._tz = ZoneInfo(self.timezone)
        self._size = self.weeks * SLOTS
        self._ring_slots = np.zeros(self._size, dtype=np.int64)  # slot of each ring position

    # ---- learning ------------------------------------------------------------------------

    def start(self, at: datetime) -> int:
        """History begins at `at` (for a new install: now; for a warm start: the oldest hour).
        Returns the first hour not learned yet."""
        if self._closed_until is None:
            self._closed_until = hour_index(at)
        return self._closed_until

    def add(self, series: Series, at: datetime, amount: float = 1.0) -> None:
        """Count one event of `series` at `at`; it is learned once its hour is over."""
        closed_until = self.start(at)
        hour = hour_index(at)
        if hour < closed_until:
            return  # an hour already learned: too late to change it
        if series not in self._series:
            self._series[series] = _History(np.zeros(self._size), hour)
            self._fit(series)
        self._pending[(series, hour)] = self._pending.get((series, hour), 0.0) + amount

    def advance(self, now: datetime) -> None:
        """Learn every hour that is over by `now`."""
        closed_until = self.start(now)
        current = hour_index(now)
        if current <= closed_until:
            return
        closing = range(closed_until, current)
        if len(closing) > self._size:
            closing = range(current - self._size, current)
        bulk = len(closing) > 24  # a warm start: fit on the raw hours first, then cap them
        for hour in closing:
            self._ring_slots[hour % self._size] = self._slot(hour)
            for series, history in self._series.items():
                count = self._pending.pop((series, hour), 0.0)
                history.counts[hour % self._size] = (
                    count if bulk else self._capped(series, hour, count)
                )
        self._closed_until = current
        for series, history in self._series.items():
            if bulk:
                self._cap_by_median(history, closing)
            self._fit(series)

    def _capped(self, series: Series, hour: int, count: float) -> float:
        """An hour far above normal is learned as merely high, so a crisis is not the norm."""
        return min(count, _cap(self.rate(series, hour)))

    def _cap_by_median(self, history: _History, hours: range) -> None:
        """Warm start: cap each hour against the median of its hour-of-week slot, which one
        crisis hour cannot move."""
        index = np.array([h % self._size for h in hours])
        slots = self._ring_slots[index]
        counts = history.counts[index]
        for slot in np.unique(slots):
            here = slots == slot
            history.counts[index[here]] = np.minimum(counts[here], _cap(np.median(counts[here])))

    # ---- reading -------------------------------------------------------------------------

    def series(self) -> list[Series]:
        return list(self._series)

    def rate(self, series: Series, hour: int) -> float:
        """Expected events in the hour with this index."""
        rates = self._rates.get(series)
        if rates is None:
            return self._prior(series).rate
        return float(rates[self._slot(hour)])

    def expected(self, series: Series, start: datetime, end: datetime) -> float:
        """Expected events between `start` and `end` (any length; hours are pro-rated)."""
        total, t = 0.0, start.timestamp()
        stop = end.timestamp()
        while t < stop:
            hour = int(t // HOUR)
            piece = min(stop, (hour + 1) * HOUR) - t
            total += self.rate(series, hour) * piece / HOUR
            t += piece
        return total

    def inverse_shape(self, series: Series) -> float:
        return self._inverse_shape.get(series, self._prior(series).inverse_shape)

    def hours_learned(self, series: Series) -> int:
        history = self._series.get(series)
        if history is None or self._closed_until is None:
            return 0
        return max(0, min(self._size, self._closed_until - history.since))

    def share(self, numerator: Series, denominator: Series, start: datetime, end: datetime):
        """Expected share numerator/denominator over the span (None without any history)."""
        den = self.expected(denominator, start, end)
        if den <= 0:
            return None
        return min(0.99, max(0.01, self.expected(numerator, start, end) / den))

    def share_concentration(self, numerator: Series, denominator: Series) -> float:
        """How firmly the hourly share numerator/denominator holds: the a + b of the beta the
        share varies by, from hours with enough messages (method of moments; 100 until there
        is history to say otherwise)."""
        num, den = self._series.get(numerator), self._series.get(denominator)
        prior, prior_hours = 100.0, 48.0
        if num is None or den is None or self._closed_until is None:
            return prior
        start = max(num.since, den.since, self._closed_until - self._size)
        hours = np.arange(start, self._closed_until) % self._size
        x, n = num.counts[hours], den.counts[hours]
        busy = n >= 5
        if busy.sum() < 10:
            return prior
        x, n = x[busy], n[busy]
        p = min(0.99, max(0.01, float(x.sum() / n.sum())))
        observed = float(np.var(x / n))
        binomial = float(np.mean(p * (1 - p) / n))
        excess = max(observed - binomial, 1e-6)
        estimate = min(1000.0, max(20.0, p * (1 - p) / excess - 1))
        weight = float(busy.sum())
        return (weight * estimate + prior_hours * prior) / (weight + prior_hours)

    # ---- fitting -------------------------------------------------------------------------

    def _prior(self, series: Series) -> Prior:
        return self.priors.get(series[0], Prior())

    def _slot(self, hour: int) -> int:
        slot = self._slot_cache.get(hour)
        if slot is None:
            local = datetime.fromtimestamp(hour * HOUR + 1800, UTC).astimezone(self._tz)
            slot = local.weekday() * 24 + local.hour
            if len(self._slot_cache) > 4 * self._size:
                self._slot_cache.clear()
            self._slot_cache[hour] = slot
        return slot

    def _fit(self, series: Series) -> None:
        history = self._series[series]
        prior = self._prior(series)
        end = self._closed_until or history.since
        start = max(history.since, end - self._size)
        hours = np.arange(start, end)
        if len(hours) == 0:
            self._rates[series] = np.full(SLOTS, prior.rate)
            self._inverse_shape[series] = prior.inverse_shape
            return
        counts = history.counts[hours % self._size]
        slots = self._ring_slots[hours % self._size]
        day, hod = slots // 24, slots % 24

        overall = (counts.sum() + prior.rate * prior.weight_hours) / (
            len(hours) + prior.weight_hours
        )
        by_hod = _shrunk_means(counts, hod, 24, overall, weight=3.0)
        by_hod = _circular_smooth(by_hod)
        day_rate = _shrunk_means(counts, day, 7, overall, weight=24.0)
        smooth = np.outer(day_rate / max(overall, 1e-9), by_hod).reshape(SLOTS)
        slot_sum = np.bincount(slots, weights=counts, minlength=SLOTS)
        slot_n = np.bincount(slots, minlength=SLOTS)
        kappa = self.shrink_weeks
        rates = (slot_sum + kappa * smooth) / (slot_n + kappa)
        floor = max(prior.rate * 0.02, 0.01)
        self._rates[series] = np.maximum(rates, floor)

        expected = self._rates[series][slots]
        excess = float(((counts - expected) ** 2 - expected).sum())
        estimate = excess / max(float((expected**2).sum()), 1e-9)
        n = len(hours)
        weight = prior.weight_hours * 2
        blended = (n * estimate + weight * prior.inverse_shape) / (n + weight)
        self._inverse_shape[series] = float(min(2.0, max(0.05, blended)))


def _cap(rate: float) -> float:
    """The most of an hour that is learned: twice normal (a busy hour) plus Poisson noise."""
    return math.ceil(2 * rate + 3 * math.sqrt(rate) + 3)


def _shrunk_means(values: np.ndarray, groups: np.ndarray, n: int, prior: float, weight: float):
    sums = np.bincount(groups, weights=values, minlength=n)
    sizes = np.bincount(groups, minlength=n)
    return (sums + weight * prior) / (sizes + weight)


def _circular_smooth(profile: np.ndarray) -> np.ndarray:
    """A light 1-2-1 smoothing across neighbouring hours of the day."""
    return 0.25 * np.roll(profile, 1) + 0.5 * profile + 0.25 * np.roll(profile, -1)
