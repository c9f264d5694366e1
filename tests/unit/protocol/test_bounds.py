# SPDX-License-Identifier: Apache-2.0
"""Intervals of weighted sums of noise: every published interval covers at least its confidence, checked against the
exact distribution.

With coefficients ``p_g / D`` the sum ``D·S = Σ p_g W_g`` is an integer, so its distribution is a finite
convolution of the groups' exact distributions (discrete Gaussian and Laplace point masses, truncated where the
remaining mass is below 1e-25). That exact distribution is the reference for the coverage the module claims (a
guaranteed lower bound must lie below it), for its tail bounds, and for how much wider than necessary the
conservative half-width is.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocol.accuracy import Mechanism, noise_variance
from protocol.bounds import LinearNoise, coupling_gap


def pmf(mechanism: str, scale: float) -> tuple[int, np.ndarray]:
    """Point masses of one noise term on ``-K..K`` (``K`` far into the tail): ``(K, masses)``."""
    if mechanism == "discrete_gaussian":
        radius = math.ceil(14 * scale) + 2
        k = np.arange(-radius, radius + 1)
        weights = np.exp(-(k.astype(float) ** 2) / (2 * scale * scale))
    else:
        radius = math.ceil(60 * scale) + 2
        k = np.arange(-radius, radius + 1)
        weights = np.exp(-np.abs(k) / scale)
    return radius, weights / weights.sum()


def sum_pmf(mechanism: str, scale: float, count: int) -> tuple[int, np.ndarray]:
    radius, masses = 0, np.array([1.0])
    one_radius, one = pmf(mechanism, scale)
    for _ in range(count):
        masses = np.convolve(masses, one)
        radius += one_radius
    return radius, masses


def exact_distribution(parts: list[tuple[Fraction, tuple[str, float, int]]]) -> tuple[int, int, np.ndarray]:
    """``(D, offset, masses)``: masses of ``D·S`` on ``-offset..``."""
    denominator = math.lcm(*(c.denominator for c, _ in parts))
    offset, masses = 0, np.array([1.0])
    for coefficient, (mechanism, scale, count) in parts:
        step = abs(int(coefficient * denominator))
        radius, group = sum_pmf(mechanism, scale, count)
        spread = np.zeros(2 * radius * step + 1)
        spread[::step] = group
        masses = np.convolve(masses, spread)
        offset += radius * step
    return denominator, offset, masses


def exact_coverage(parts, halfwidth: float) -> float:
    denominator, offset, masses = exact_distribution(parts)
    values = (np.arange(len(masses)) - offset) / denominator
    return float(masses[np.abs(values) <= halfwidth + 1e-12].sum())


def exact_upper_tail(parts, x: float) -> float:
    denominator, offset, masses = exact_distribution(parts)
    values = (np.arange(len(masses)) - offset) / denominator
    return float(masses[values >= x - 1e-12].sum())


def exact_quantile(parts, confidence: float = 0.95) -> float:
    """The smallest h (on the lattice of D·S) with P(|S| ≤ h) ≥ confidence."""
    denominator, offset, masses = exact_distribution(parts)
    values = np.abs(np.arange(len(masses)) - offset) / denominator
    order = np.argsort(values, kind="stable")
    cumulative = np.cumsum(masses[order])
    return float(values[order][np.searchsorted(cumulative, confidence)])


CASES = {
    "gls corridor": [
        (Fraction(9, 10), ("discrete_gaussian", 4.0, 5)),
        (Fraction(1, 10), ("discrete_gaussian", 9.0, 5)),
    ],
    "negative weights": [
        (Fraction(17, 20), ("discrete_gaussian", 3.0, 3)),
        (Fraction(-1, 20), ("discrete_gaussian", 3.0, 6)),
        (Fraction(3, 20), ("discrete_gaussian", 6.0, 2)),
    ],
    "small sigma": [(Fraction(3, 4), ("discrete_gaussian", 1.0, 2)), (Fraction(1, 4), ("discrete_gaussian", 1.0, 2))],
    "one dominant term": [
        (Fraction(19, 20), ("discrete_gaussian", 2.5, 1)),
        (Fraction(1, 20), ("discrete_gaussian", 2.5, 3)),
    ],
    "laplace": [(Fraction(4, 5), ("discrete_laplace", 3.0, 2)), (Fraction(1, 5), ("discrete_laplace", 5.0, 2))],
    "laplace, one term": [
        (Fraction(9, 10), ("discrete_laplace", 2.0, 1)),
        (Fraction(1, 10), ("discrete_laplace", 2.0, 1)),
    ],
    "mixed": [(Fraction(1, 2), ("discrete_gaussian", 3.0, 2)), (Fraction(1, 2), ("discrete_laplace", 2.0, 2))],
    # a group whose variance is below 1/12 cannot be coupled to a rounded normal (it once sent the Chernoff search
    # into an endless loop: its θ range was scaled by the true variance, its moment bound by σ²)
    "tiny noise beside real noise": [
        (Fraction(1, 2), ("discrete_gaussian", 5.0, 1)),
        (Fraction(1, 3), ("discrete_gaussian", 0.1, 1)),
    ],
    "tiny noise alone": [
        (Fraction(1, 2), ("discrete_gaussian", 0.3, 2)),
        (Fraction(1, 3), ("discrete_laplace", 0.3, 1)),
    ],
    # three poorly coupled groups: their total-variation budgets add up past 1
    "coupling budget spent": [
        (Fraction(1, 2), ("discrete_laplace", 0.7, 1)),
        (Fraction(1, 3), ("discrete_laplace", 0.7, 1)),
        (Fraction(1, 5), ("discrete_laplace", 0.7, 1)),
    ],
    # the dominant group is too spread out to enumerate exactly
    "dominant group too spread": [
        (Fraction(1, 2), ("discrete_laplace", 200.0, 1)),
        (Fraction(1, 3), ("discrete_laplace", 2.0, 1)),
    ],
}


@pytest.mark.parametrize("parts", CASES.values(), ids=CASES.keys())
def test_the_interval_covers_at_least_what_it_claims_and_the_claim_at_least_95(parts) -> None:
    interval = LinearNoise(parts).interval()
    exact = exact_coverage(parts, interval.halfwidth)
    assert interval.method == "conservative"
    assert interval.coverage >= 0.95
    assert exact >= interval.coverage - 1e-9  # a lower bound, rigorously
    assert interval.variance == pytest.approx(
        sum(float(c) ** 2 * n * noise_variance(m, s) for c, (m, s, n) in parts), rel=1e-12
    )


@pytest.mark.parametrize("name", ["gls corridor", "negative weights", "one dominant term"])
def test_for_gaussian_noise_the_price_of_rigour_is_about_one_count(name: str) -> None:
    parts = CASES[name]
    interval = LinearNoise(parts).interval()
    needed = exact_quantile(parts)
    assert needed <= interval.halfwidth <= needed + 0.5 * sum(abs(float(c)) for c, _ in parts) + 0.6


@pytest.mark.parametrize("parts", CASES.values(), ids=CASES.keys())
def test_upper_tail_bounds_the_exact_tail(parts) -> None:
    noise = LinearNoise(parts)
    for multiple in (0.5, 1.0, 2.0, 3.0):
        x = multiple * math.sqrt(noise.variance)
        assert noise.upper_tail(x) >= exact_upper_tail(parts, x) - 1e-12
    assert noise.upper_tail(0.0) == 1.0
    assert noise.upper_tail(-3.0) == 1.0


def test_a_plain_sum_is_exact_and_matches_the_lattice_method() -> None:
    parts = [(Fraction(1), ("discrete_gaussian", 3.0, 4)), (Fraction(-1), ("discrete_laplace", 2.0, 1))]
    interval = LinearNoise(parts).interval()
    assert interval.method == "exact"
    assert interval.halfwidth == exact_quantile(parts)
    assert interval.coverage == pytest.approx(exact_coverage(parts, interval.halfwidth), abs=1e-9)
    noise = LinearNoise(parts)
    for x in (1, 3.5, 7):
        assert noise.upper_tail(x) == pytest.approx(exact_upper_tail(parts, x), abs=1e-9)


def test_a_plain_sum_too_spread_for_the_exact_method_gets_the_conservative_bound() -> None:
    interval = LinearNoise([(Fraction(1), ("discrete_gaussian", 100.0, 2000))]).interval()
    assert interval.method == "conservative"
    assert interval.halfwidth == pytest.approx(1.959964 * interval.std + 0.5, abs=0.01)


@pytest.mark.parametrize("sigma", [1.0, 1.7, 3.0])
@pytest.mark.parametrize("count", [1, 3])
def test_the_coupling_gap_bounds_the_exact_total_variation(sigma: float, count: int) -> None:
    radius, masses = sum_pmf("discrete_gaussian", sigma, count)
    s2 = count * noise_variance("discrete_gaussian", sigma) - 1 / 12
    k = np.arange(-radius, radius + 1)
    normal_cdf = np.vectorize(lambda x: 0.5 * math.erfc(-x / math.sqrt(2 * s2)))
    rounded = normal_cdf(k + 0.5) - normal_cdf(k - 0.5)
    exact_tv = 0.5 * np.abs(masses - rounded).sum()
    bound = coupling_gap(((Mechanism.DISCRETE_GAUSSIAN, sigma, count),))
    assert exact_tv <= bound <= 200 * exact_tv + 1e-9


@settings(max_examples=25, deadline=None)
@given(
    weights=st.lists(st.integers(-20, 20).filter(bool), min_size=1, max_size=3),
    scales=st.lists(st.sampled_from([1.5, 2.0, 3.0, 5.0]), min_size=3, max_size=3),
    counts=st.lists(st.integers(1, 3), min_size=3, max_size=3),
)
def test_random_gaussian_combinations_cover(weights, scales, counts) -> None:
    parts = [(Fraction(w, 20), ("discrete_gaussian", s, n)) for w, s, n in zip(weights, scales, counts, strict=False)]
    interval = LinearNoise(parts).interval()
    assert exact_coverage(parts, interval.halfwidth) >= max(0.95, interval.coverage - 1e-9)


def test_zero_coefficients_and_no_noise() -> None:
    assert LinearNoise([]).interval().halfwidth == 0.0
    assert LinearNoise([(Fraction(0), ("discrete_gaussian", 2.0, 3))]).groups == ()
    assert LinearNoise([]).upper_tail(1.0) == 0.0


def test_p_values_have_no_floor_far_in_the_tail() -> None:
    """The coupling's total-variation term would put a floor under every p-value (about 1e-5 here, above Holm's
    threshold for thousands of corridors); far in the tail the Chernoff bound takes over, still above the truth."""
    parts = [(Fraction(9, 10), ("discrete_gaussian", 1.5, 1)), (Fraction(1, 10), ("discrete_gaussian", 1.5, 3))]
    noise = LinearNoise(parts)
    for x in (6.0, 8.0, 10.0):
        assert exact_upper_tail(parts, x) <= noise.upper_tail(x)
    assert noise.upper_tail(10.0) < 1e-9


def test_noises_compare_by_their_groups() -> None:
    one = LinearNoise([(Fraction(1, 2), ("discrete_gaussian", 2.0, 3)), (Fraction(1, 3), ("discrete_laplace", 1.0, 1))])
    same = LinearNoise(
        [
            (Fraction(1, 3), ("discrete_laplace", "1", 1)),
            (Fraction(0), ("discrete_gaussian", 9.0, 4)),
            (Fraction(2, 4), ("discrete_gaussian", 2.0, 1)),
            (Fraction(1, 2), ("discrete_gaussian", 2.0, 2)),
        ]
    )
    other = LinearNoise([(Fraction(1, 2), ("discrete_gaussian", 2.0, 4))])
    assert one == same
    assert hash(one) == hash(same)
    assert one != other
    assert one != one.groups
    assert len({one, same, other}) == 2
    assert repr(one) == f"LinearNoise(2 coefficients, variance {one.variance:.6g})"
    assert repr(LinearNoise([])) == "LinearNoise(0 coefficients, variance 0)"


@pytest.mark.parametrize("confidence", [0.0, 1.0, -0.5, 1.5])
def test_a_confidence_outside_0_1_is_refused(confidence: float) -> None:
    noise = LinearNoise([(Fraction(1, 2), ("discrete_gaussian", 2.0, 3))])
    with pytest.raises(ValueError, match="confidence must be strictly between 0 and 1"):
        noise.interval(confidence)


@pytest.mark.parametrize(("mechanism", "scale"), [("discrete_gaussian", 0.3), ("discrete_laplace", 0.3)])
def test_a_sum_with_variance_below_a_twelfth_cannot_be_coupled(mechanism: str, scale: float) -> None:
    terms = ((Mechanism(mechanism), scale, 1),)
    assert noise_variance(mechanism, scale) < 1 / 12
    assert coupling_gap(terms) == 1.0


def test_widely_spread_laplace_noise_keeps_finite_bounds_that_scale_with_it() -> None:
    """Near the end of the moment generating function's range, ``1 + a² − 2a·cosh u`` cancels to nothing (or below)
    in floats for a large scale: such points are skipped, never a math error; the interval scales with the noise."""
    intervals = []
    for scale in (10_000.0, 100_000.0):
        noise = LinearNoise(
            [(Fraction(1, 2), ("discrete_laplace", scale, 1)), (Fraction(1, 3), ("discrete_laplace", scale, 1))]
        )
        interval = noise.interval()
        assert interval.coverage >= 0.95
        assert 0.0 < noise.upper_tail(interval.halfwidth) <= 0.5 * (1 - 0.95) + 1e-5
        assert 0.0 < noise.upper_tail(30 * scale) < 1e-20
        intervals.append(interval)
    small, large = intervals
    assert large.halfwidth == pytest.approx(10 * small.halfwidth, rel=1e-4)
    # wider than the normal interval (Laplace tails are heavier), narrower than Chebyshev's, which holds for any noise
    assert small.std * 1.96 < small.halfwidth < small.std / math.sqrt(0.05)
