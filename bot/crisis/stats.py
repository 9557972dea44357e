"""Exact upper-tail probabilities for counts: negative binomial (Poisson with over-dispersion)
and beta-binomial (a share with over-dispersion). Pure Python, exact at low counts."""

from __future__ import annotations

import math

_EPS = 1e-17


def poisson_sf(x: int, mean: float) -> float:
    """P(X >= x) for X ~ Poisson(mean)."""
    if x <= 0:
        return 1.0
    if mean <= 0:
        return 0.0
    return _upper_tail(x, lambda j: j * math.log(mean) - mean - math.lgamma(j + 1), mean)


def negbin_sf(x: int, mean: float, shape: float) -> float:
    """P(X >= x) for X negative binomial with this mean and shape k (variance mean + mean²/k).

    A gamma-distributed rate behind a Poisson count: the right model for message counts,
    whose hourly rate itself varies (busy and quiet hours). k → ∞ is Poisson."""
    if x <= 0:
        return 1.0
    if mean <= 0:
        return 0.0
    if shape <= 0 or shape > 1e6:
        return poisson_sf(x, mean)
    log_p = math.log(shape / (shape + mean))
    log_q = math.log(mean / (shape + mean))
    const = -math.lgamma(shape)

    def log_pmf(j: int) -> float:
        return math.lgamma(j + shape) + const - math.lgamma(j + 1) + shape * log_p + j * log_q

    mode = max(0.0, (shape - 1) * mean / shape)
    return _upper_tail(x, log_pmf, mode)


def betabinom_sf(x: int, n: int, a: float, b: float) -> float:
    """P(X >= x) for X ~ BetaBinomial(n, a, b): successes among n when the rate is Beta(a, b)."""
    if x <= 0:
        return 1.0
    if x > n:
        return 0.0
    log_beta_ab = math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b)

    def log_pmf(j: int) -> float:
        log_choose = math.lgamma(n + 1) - math.lgamma(j + 1) - math.lgamma(n - j + 1)
        log_beta = math.lgamma(j + a) + math.lgamma(n - j + b) - math.lgamma(n + a + b)
        return log_choose + log_beta - log_beta_ab

    return min(1.0, sum(math.exp(log_pmf(j)) for j in range(x, n + 1)))


def _upper_tail(x: int, log_pmf, mode: float, limit: int = 100_000) -> float:
    """Sum the pmf upward from x while it matters; below the mode use 1 - CDF instead."""
    if x <= mode:
        below = sum(math.exp(log_pmf(j)) for j in range(0, x))
        return max(0.0, min(1.0, 1.0 - below))
    total, j = 0.0, x
    while j < x + limit:
        term = math.exp(log_pmf(j))
        total += term
        if term < _EPS * max(total, 1e-300) or term == 0.0:
            break
        j += 1
    return min(1.0, total)


def surprise(p: float) -> float:
    """-log10(p), capped: 2 means 1 in 100, 6 means 1 in a million."""
    return min(30.0, -math.log10(max(p, 1e-30)))
