"""The count tests are exact at low counts: tails match direct sums of the distributions."""

import math

import pytest

from bot.crisis.stats import betabinom_sf, negbin_sf, poisson_sf


def poisson_pmf(k, mean):
    return math.exp(k * math.log(mean) - mean - math.lgamma(k + 1))


@pytest.mark.parametrize(("x", "mean"), [(1, 0.2), (6, 0.5), (3, 3.0), (60, 50.0), (25, 4.0)])
def test_the_poisson_tail_is_one_minus_the_sum_below(x, mean):
    below = sum(poisson_pmf(k, mean) for k in range(x))
    assert poisson_sf(x, mean) == pytest.approx(1 - below, rel=1e-9, abs=1e-15)


def test_tiny_tails_keep_their_precision():
    # 20 events where 0.5 is normal: about 2.6e-21, far below what 1 - cdf could show
    direct = sum(poisson_pmf(k, 0.5) for k in range(20, 80))
    assert poisson_sf(20, 0.5) == pytest.approx(direct, rel=1e-9)


def test_the_negative_binomial_is_wider_than_poisson_and_tends_to_it():
    assert negbin_sf(10, 2.0, 2.0) > poisson_sf(10, 2.0)
    assert negbin_sf(10, 2.0, 1e5) == pytest.approx(poisson_sf(10, 2.0), rel=1e-3)


def test_the_negative_binomial_tail_matches_its_pmf():
    mean, k = 3.0, 2.5
    p = k / (k + mean)

    def pmf(j):
        return math.exp(
            math.lgamma(j + k) - math.lgamma(k) - math.lgamma(j + 1)
            + k * math.log(p) + j * math.log(1 - p)
        )  # fmt: skip

    assert sum(pmf(j) for j in range(2000)) == pytest.approx(1.0, rel=1e-9)
    for x in (1, 4, 12, 30):
        assert negbin_sf(x, mean, k) == pytest.approx(sum(pmf(j) for j in range(x, 2000)), rel=1e-7)


def test_the_beta_binomial_tail_matches_its_pmf_and_is_wider_than_binomial():
    n, a, b = 20, 2.0, 8.0
    total = betabinom_sf(0, n, a, b)
    assert total == 1.0
    assert betabinom_sf(21, n, a, b) == 0.0
    binomial = sum(math.comb(n, j) * 0.2**j * 0.8 ** (n - j) for j in range(12, n + 1))
    assert betabinom_sf(12, n, a, b) > binomial  # same mean share 0.2, more scatter
    assert betabinom_sf(12, n, 2000.0, 8000.0) == pytest.approx(binomial, rel=0.05)


def test_no_expected_events_means_any_event_is_impossible_not_an_error():
    assert poisson_sf(0, 0.0) == 1.0
    assert poisson_sf(1, 0.0) == 0.0
    assert negbin_sf(3, 0.0, 1.0) == 0.0
