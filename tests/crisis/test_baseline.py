"""The baseline learns the brand's own rhythm by hour and weekday, and how much hours scatter."""

from datetime import timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from bot.crisis.baseline import Prior, SeasonalBaseline, hour_index
from tests.crisis.conftest import MONDAY

TAIPEI = ZoneInfo("Asia/Taipei")


def rhythm(at):
    """Busy at lunch and in the evening, quiet at night, busier on weekends (Taipei time)."""
    local = at.astimezone(TAIPEI)
    by_hour = 12 if local.hour in (12, 13, 20, 21) else (1 if local.hour < 7 else 4)
    return by_hour * (1.5 if local.weekday() >= 5 else 1.0)


def learned(weeks=3, seed=3, crisis_at=None):
    rng = np.random.default_rng(seed)
    baseline = SeasonalBaseline(priors={"complaint": Prior(rate=2.0)})
    baseline.start(MONDAY)
    for hour in range(weeks * 7 * 24):
        at = MONDAY + timedelta(hours=hour, minutes=30)
        count = rng.poisson(rhythm(at))
        if crisis_at is not None and hour == crisis_at:
            count = 200
        for _ in range(count):
            baseline.add(("complaint", "line"), at)
    now = MONDAY + timedelta(weeks=weeks)
    baseline.advance(now)
    return baseline, now


def test_expected_counts_follow_time_of_day_and_weekday():
    baseline, now = learned()
    series = ("complaint", "line")
    monday_lunch = now + timedelta(hours=4)  # 12:00 Taipei
    monday_night = now + timedelta(hours=-5)  # 03:00 Taipei
    saturday_lunch = now + timedelta(days=5, hours=4)
    lunch = baseline.rate(series, hour_index(monday_lunch))
    assert lunch == pytest.approx(12, rel=0.25)
    assert baseline.rate(series, hour_index(monday_night)) == pytest.approx(1, rel=0.6)
    assert baseline.rate(series, hour_index(saturday_lunch)) > lunch * 1.2
    ten_minutes = baseline.expected(series, monday_lunch, monday_lunch + timedelta(minutes=10))
    assert ten_minutes == pytest.approx(lunch / 6, rel=1e-6)


def test_poisson_history_has_little_scatter_and_a_crisis_hour_is_not_learned_whole():
    baseline, _ = learned()
    assert baseline.inverse_shape(("complaint", "line")) < 0.2
    calm, now = learned(seed=4)
    stormy, _ = learned(seed=4, crisis_at=7 * 24 + 4)  # a Monday lunch with 200 complaints
    hour = hour_index(now + timedelta(hours=4))
    normal = calm.rate(("complaint", "line"), hour)
    # learned whole, 200 complaints would make this slot ~6x normal for weeks; capped, it is
    # learned as a busy hour at most
    assert stormy.rate(("complaint", "line"), hour) < normal * 2.5


def test_without_history_the_prior_is_used():
    baseline = SeasonalBaseline(priors={"complaint": Prior(rate=2.0)})
    baseline.start(MONDAY)
    assert baseline.expected(("complaint", "*"), MONDAY, MONDAY + timedelta(hours=1)) == 2.0
