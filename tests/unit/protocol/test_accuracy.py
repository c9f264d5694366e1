# SPDX-License-Identifier: Apache-2.0
"""Accuracy math: known answers, OpenDP's accuracy helpers and samplers, exact references, properties.

The statistical tests draw from OpenDP's real samplers, which use a CSPRNG and take no seed. Every
statistical check therefore allows 7 standard errors: under the normal approximation that fails
with probability about 2.6e-12, and this file makes fewer than 20 such checks, so a false failure
is expected less than once in 10^10 runs. Each test also checks, deterministically, that its
tolerance is tight enough to catch the mistake it is there for (continuous instead of discrete
variance, a wrong interval).
"""

from __future__ import annotations

import ast
import math
import statistics
from collections.abc import Sequence
from decimal import Decimal, localcontext
from fractions import Fraction
from pathlib import Path
from statistics import NormalDist

import opendp.prelude as dp
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocol import accuracy
from protocol.accuracy import (
    EXACT_SUM_LIMIT,
    Interval,
    Mechanism,
    NoiseGroup,
    interval_bounds,
    is_wide,
    noise_tail,
    noise_variance,
    parse_scale,
    single_cell_halfwidth,
    sum_interval,
    sum_tail,
    tail_function,
)
from protocol.privacy_loss import gaussian_rho, laplace_epsilon

dp.enable_features("contrib")

LAP = "discrete_laplace"
GAU = "discrete_gaussian"
Z95 = 1.959963984540054
SIGMAS_7 = 7.0  # statistical tolerance, in standard errors (see the module docstring)


# ---------------------------------------------------------------------------- independent references


def opendp_samples(mechanism: str, scale: float, size: int) -> list[int]:
    """``size`` independent noise terms from OpenDP's own sampler (noise added to zeros)."""
    domain = dp.vector_domain(dp.atom_domain(T=int))
    if mechanism == LAP:
        meas = dp.m.make_laplace(domain, dp.l1_distance(T=int), scale=scale)
    else:
        meas = dp.m.make_gaussian(domain, dp.l2_distance(T=int), scale=scale)
    return list(meas([0] * size))


def pmf(mechanism: str, scale: float) -> dict[int, float]:
    """The noise distribution by brute force, truncated where the mass is below 1e-300."""
    if mechanism == LAP:
        a = math.exp(-1.0 / scale)
        reach = int(700 * scale) + 2
        return {k: (1 - a) / (1 + a) * a ** abs(k) for k in range(-reach, reach + 1)}
    reach = int(38 * scale) + 2
    weights = {k: math.exp(-k * k / (2 * scale * scale)) for k in range(-reach, reach + 1)}
    total = math.fsum(weights.values())
    return {k: w / total for k, w in weights.items()}


def convolve(p: dict[int, float], q: dict[int, float]) -> dict[int, float]:
    out: dict[int, float] = {}
    for i, a in p.items():
        if a < 1e-22:
            continue
        for j, b in q.items():
            if b >= 1e-22:
                out[i + j] = out.get(i + j, 0.0) + a * b
    return out


def brute_sum(groups: Sequence[tuple[str, float, int]]) -> dict[int, float]:
    dist = {0: 1.0}
    for mechanism, scale, count in groups:
        single = pmf(mechanism, scale)
        for _ in range(count):
            dist = convolve(dist, single)
    return dist


def brute_tail(dist: dict[int, float], k: int) -> float:
    return math.fsum(p for x, p in dist.items() if abs(x) > k)


def decimal_gaussian(sigma: float, k: int) -> tuple[Decimal, Decimal]:
    """(variance, P(|Z| > k)) of the discrete Gaussian, summed directly at 50 significant digits."""
    with localcontext() as ctx:
        ctx.prec = 50
        s = Decimal(sigma)
        r = (-1 / (2 * s * s)).exp()
        r2 = r * r
        weight, step = Decimal(1), r  # w_j = r^(j²); w_(j+1) = w_j · r^(2j+1)
        total, second, tail = Decimal(1), Decimal(0), Decimal(0)
        for j in range(1, int(45 * sigma) + 20):
            weight *= step
            step *= r2
            total += 2 * weight
            second += 2 * j * j * weight
            if j > k:
                tail += 2 * weight
        return second / total, tail / total


def decimal_laplace(t: float, k: int) -> tuple[Decimal, Decimal]:
    """(variance, P(|Z| > k)) of the discrete Laplace from the closed forms at 50 digits."""
    with localcontext() as ctx:
        ctx.prec = 50
        a = (-1 / Decimal(t)).exp()
        return 2 * a / (1 - a) ** 2, 2 * a ** (k + 1) / (1 + a)


# ---------------------------------------------------------------------------- known answers (notes §(b))


@pytest.mark.parametrize(
    ("epsilon", "std", "halfwidth", "opendp_accuracy"),
    [
        (0.1, 14.136, 30, 30.445),
        (0.25, 5.642, 12, 12.452),
        (0.5, 2.799, 6, 6.430),
        (1.0, 1.357, 3, 3.376),
        (2.0, 0.602, 1, 1.781),
    ],
)
def test_discrete_laplace_known_answers(epsilon: float, std: float, halfwidth: int, opendp_accuracy: float) -> None:
    scale = 1 / epsilon
    assert round(math.sqrt(noise_variance(LAP, scale)), 3) == std
    assert single_cell_halfwidth(LAP, scale) == halfwidth
    assert round(dp.discrete_laplacian_scale_to_accuracy(scale=scale, alpha=0.05), 3) == opendp_accuracy
    iv = sum_interval([(LAP, scale, 1)])
    assert (iv.method, iv.halfwidth, iv.terms) == ("exact", halfwidth, 1)


def test_epsilon_one_covers_97_3_percent() -> None:
    assert round(1 - noise_tail(LAP, 1, 3), 3) == 0.973


@pytest.mark.parametrize(("sigma", "halfwidth"), [(1.0, 2), (2.0, 4), (3.4641016151377544, 7), (10.0, 20)])
def test_discrete_gaussian_known_answers(sigma: float, halfwidth: int) -> None:
    assert single_cell_halfwidth(GAU, sigma) == halfwidth
    # Notes §(b): OpenDP's accuracy is 3.0 at σ = 1 and 5.0 at σ = 2.
    assert dp.discrete_gaussian_scale_to_accuracy(scale=sigma, alpha=0.05) == halfwidth + 1


# ---------------------------------------------------------------------------- OpenDP's accuracy helpers

GRID = [0.05 * 1.07**i for i in range(140)] + [1234.5, 10000.3, 98765.4]  # 0.05 … 600, then large


@pytest.mark.parametrize("alpha", [0.05, 0.01, 0.1, 0.2])
def test_opendp_discrete_laplacian_accuracy_is_in_h_to_h_plus_1(alpha: float) -> None:
    # OpenDP solves 2a^A/(1+a) = alpha for a real A, so P(|Z| ≥ A) = alpha on the continuous
    # extension, and our h (smallest with P(|Z| ≥ h+1) ≤ alpha) is the integer with h < A ≤ h+1:
    # h == max(0, ceil(A) - 1), i.e. floor(A) unless A is whole. {k : |k| < A} = {k : |k| ≤ h}.
    whole = 0
    for scale in GRID:
        a = dp.discrete_laplacian_scale_to_accuracy(scale=scale, alpha=alpha)
        h = single_cell_halfwidth(LAP, scale, 1 - alpha)
        assert h < a <= h + 1, (scale, a, h)
        assert h == max(0, math.ceil(a) - 1)
        if a != math.floor(a):
            assert h == math.floor(a)
        else:
            whole += 1
    assert whole <= 1  # the grid does not hide the relation behind whole-number accuracies


@pytest.mark.parametrize("alpha", [0.05, 0.01, 0.1, 0.2])
def test_opendp_discrete_gaussian_accuracy_is_h_plus_1(alpha: float) -> None:
    # OpenDP returns the smallest integer A with P(|Z| ≤ A - 1) ≥ 1 - alpha: exactly our h + 1.
    for scale in GRID:
        a = dp.discrete_gaussian_scale_to_accuracy(scale=scale, alpha=alpha)
        assert a == single_cell_halfwidth(GAU, scale, 1 - alpha) + 1, scale


def test_declared_spend_matches_opendp_privacy_maps() -> None:
    l1 = dp.vector_domain(dp.atom_domain(T=int)), dp.l1_distance(T=int)
    l2 = dp.vector_domain(dp.atom_domain(T=int)), dp.l2_distance(T=int)
    for scale in (0.5, 1.0, 3.4641016151377544, 12.5):
        for d_in in (1, 2, 3):
            epsilon = dp.m.make_laplace(*l1, scale=scale).map(d_in)
            rho = dp.m.make_gaussian(*l2, scale=scale).map(d_in)
            assert math.isclose(epsilon, laplace_epsilon(d_in, scale), rel_tol=1e-12)
            assert math.isclose(rho, gaussian_rho(d_in * d_in, scale), rel_tol=1e-12)
            assert rho >= float(gaussian_rho(d_in * d_in, scale)) * (1 - 1e-15)


def test_declared_spend_is_exact() -> None:
    assert gaussian_rho(1, 1) == Fraction(1, 2)
    assert gaussian_rho(9, "12.5") == Fraction(18, 625)
    assert laplace_epsilon(1, "0.1") == 10  # the decimal string is read exactly, not as a float
    assert laplace_epsilon(1, 0.1) != 10
    assert laplace_epsilon(Fraction(1, 2), Fraction(1, 4)) == 2
    with pytest.raises(ValueError, match="non-negative"):
        gaussian_rho(-1, 1)
    with pytest.raises(TypeError):
        laplace_epsilon(1.0, 1)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------- exact references

REFERENCE_SCALES = [0.1, 0.3, 0.5, 0.8, 0.999, 1.0, 1.5, 2.5, 3.4641016151377544, 7.3, 30.0, 49.9, 50.1, 60.0, 200.0]


@pytest.mark.parametrize("sigma", REFERENCE_SCALES)
def test_gaussian_variance_and_tails_against_50_digit_sums(sigma: float) -> None:
    variance, _ = decimal_gaussian(sigma, 0)
    assert math.isclose(noise_variance(GAU, sigma), float(variance), rel_tol=1e-13)
    for k in sorted({0, 1, int(sigma), int(2 * sigma), int(5 * sigma)}):
        _, tail = decimal_gaussian(sigma, k)
        # Relative accuracy, deep into the tail (5σ: around 1e-6 of the mass).
        assert math.isclose(noise_tail(GAU, sigma, k), float(tail), rel_tol=1e-11, abs_tol=1e-300), k


@pytest.mark.parametrize("t", [0.05, 0.3, 1.0, 2.0, 12.0, 1000.0, 1e6])
def test_laplace_variance_and_tails_against_50_digit_closed_forms(t: float) -> None:
    for k in (0, 1, 3, int(t), int(10 * t)):
        variance, tail = decimal_laplace(t, k)
        assert math.isclose(noise_variance(LAP, t), float(variance), rel_tol=1e-13)
        assert math.isclose(noise_tail(LAP, t, k), float(tail), rel_tol=1e-12)


def test_large_gaussian_scales_are_fast_and_exact() -> None:
    assert noise_variance(GAU, 1e6) == 1e12
    assert single_cell_halfwidth(GAU, 1e6 + 0.7) == 1959965  # OpenDP: 1959966.0 (measured, 0.24 s)
    assert math.isclose(noise_tail(GAU, 1e6, 1959964), 0.05, rel_tol=1e-5)


# ---------------------------------------------------------------------------- OpenDP's samplers


@pytest.mark.parametrize(
    ("mechanism", "scale", "size", "continuous_variance"),
    [
        (LAP, 1.0, 200_000, 2.0),  # continuous Laplace: 2t², 8.6 % too high at t = 1
        (LAP, 10.0, 60_000, None),
        (GAU, 0.5, 60_000, 0.25),  # continuous: σ², 16 % too high at σ = 0.5
        (GAU, 3.4641016151377544, 40_000, None),
    ],
)
def test_variance_and_coverage_match_opendp_samples(
    mechanism: str, scale: float, size: int, continuous_variance: float | None
) -> None:
    samples = opendp_samples(mechanism, scale, size)
    dist = pmf(mechanism, scale)
    variance = noise_variance(mechanism, scale)
    fourth = math.fsum(k**4 * p for k, p in dist.items())
    # The mean is known to be 0, so mean(z²) is unbiased for the variance, with standard error
    # sqrt((μ4 - σ⁴)/n).
    se = math.sqrt((fourth - variance**2) / size)
    if continuous_variance is not None:
        # A sampler with the continuous variance would fail this test (by 7 more standard errors).
        assert abs(continuous_variance - variance) > 2 * SIGMAS_7 * se
    assert abs(math.fsum(z * z for z in samples) / size - variance) <= SIGMAS_7 * se

    h = single_cell_halfwidth(mechanism, scale)
    coverage = 1 - noise_tail(mechanism, scale, h)
    hits = sum(abs(z) <= h for z in samples) / size
    assert abs(hits - coverage) <= SIGMAS_7 * math.sqrt(coverage * (1 - coverage) / size)


# The four sums were chosen so that the normal interval's exact coverage is 0.950 ± 0.0002; with
# 7000 trials 7 standard errors are ± 0.0182, so the empirical coverage must land in [0.93, 0.97].
COVERAGE_CASES = [(LAP, 3.25, 5), (LAP, 3.5, 20), (GAU, 6.5, 5), (GAU, 3.25, 20)]


@pytest.mark.parametrize(("mechanism", "scale", "n"), COVERAGE_CASES)
def test_normal_interval_coverage_of_sums_from_opendp(mechanism: str, scale: float, n: int) -> None:
    trials = 7000
    groups: list[NoiseGroup] = [(mechanism, scale, n)]
    normal = sum_interval(groups, method="normal")
    assert normal.method == "normal"
    exact_coverage = 1 - sum_tail(groups, normal.halfwidth)
    assert abs(exact_coverage - 0.95) < 0.0005
    # The normal estimate of its own coverage is off by Laplace's excess kurtosis, about 0.024/n.
    assert abs(normal.coverage - exact_coverage) < 0.03 / n

    samples = opendp_samples(mechanism, scale, trials * n)
    sums = [sum(samples[i : i + n]) for i in range(0, trials * n, n)]
    hits = sum(abs(s) <= normal.halfwidth for s in sums) / trials
    se = math.sqrt(exact_coverage * (1 - exact_coverage) / trials)
    assert abs(hits - exact_coverage) <= SIGMAS_7 * se
    assert 0.93 <= hits <= 0.97

    auto = sum_interval(groups)
    assert auto.method == "exact"
    assert auto.coverage >= 0.95
    assert math.isclose(auto.coverage, 1 - sum_tail(groups, auto.halfwidth), abs_tol=1e-15)


# ---------------------------------------------------------------------------- exact sums


SMALL_SUMS: list[list[tuple[str, float, int]]] = [
    [(LAP, 1.0, 2)],
    [(LAP, 0.3, 5)],
    [(LAP, 5.0, 3)],
    [(GAU, 0.5, 4)],
    [(GAU, 0.2, 2)],
    [(GAU, 3.4641016151377544, 3)],
    [(LAP, 2.0, 1), (GAU, 1.5, 2)],
    [(LAP, 1.0, 1), (LAP, 2.5, 1), (GAU, 0.7, 1)],
]


@pytest.mark.parametrize("groups", SMALL_SUMS)
def test_exact_sums_match_brute_force_convolution(groups: list[tuple[str, float, int]]) -> None:
    dist = brute_sum(groups)
    iv = sum_interval(groups)
    assert iv.method == "exact"
    h = 0
    while brute_tail(dist, h) > 0.05:
        h += 1
    assert iv.halfwidth == h
    assert math.isclose(iv.coverage, 1 - brute_tail(dist, h), abs_tol=1e-12)
    for k in range(3 * h + 2):
        assert math.isclose(sum_tail(groups, k), brute_tail(dist, k), abs_tol=1e-12), k
    assert math.isclose(iv.variance, math.fsum(x * x * p for x, p in dist.items()), rel_tol=1e-12)


def test_normal_approximation_undercovers_where_exact_sums_are_used() -> None:
    # Why sums of a few small-scale terms are computed exactly (module docstring).
    two_laplace: list[NoiseGroup] = [(LAP, 1.0, 2)]
    std = math.sqrt(sum_interval(two_laplace).variance)
    assert round(1 - sum_tail(two_laplace, math.floor(Z95 * std)), 3) == 0.927
    four_gaussian: list[NoiseGroup] = [(GAU, 0.5, 4)]
    std = math.sqrt(sum_interval(four_gaussian).variance)
    assert round(1 - sum_tail(four_gaussian, math.floor(Z95 * std)), 3) == 0.905
    eight_gaussian: list[NoiseGroup] = [(GAU, 0.3, 8)]
    assert sum_interval(eight_gaussian, method="normal").halfwidth == 0  # continuity-corrected
    assert round(1 - sum_tail(eight_gaussian, 0), 3) == 0.941
    assert sum_interval(eight_gaussian).halfwidth == 1
    # Beyond the exact limit, the worst case: two Laplace terms of very large scale.
    assert sum_interval([(LAP, 200, 2)]).method == "normal"
    assert round(1 - sum_tail([(LAP, 200, 2)], sum_interval([(LAP, 200, 2)]).halfwidth), 3) == 0.941


def test_which_method_when() -> None:
    none = sum_interval([])
    assert none == Interval(0.0, 0.0, 0, "exact", 0.95, 1.0, 0)
    assert sum_interval([(LAP, 1, 0), (GAU, 2, 0)]) == none
    assert sum_interval([], method="normal") == none

    one = sum_interval([(GAU, "3.4641016151377544", 1)])
    assert (one.method, one.halfwidth) == ("exact", single_cell_halfwidth(GAU, "3.4641016151377544"))
    assert one.coverage == 1 - noise_tail(GAU, 3.4641016151377544, one.halfwidth)

    assert sum_interval([(LAP, 180, 2)]).method == "exact"  # R ≈ 7700 ≤ EXACT_SUM_LIMIT
    assert sum_interval([(LAP, 400, 2)]).method == "normal"
    big = sum_interval([(LAP, 12, 120_000)])
    assert big.method == "normal"
    assert big.halfwidth == math.ceil(Z95 * big.std - 0.5)
    assert EXACT_SUM_LIMIT == 8192


def test_exact_sum_merges_equal_groups_and_accepts_every_scale_type() -> None:
    scales: list[str | Decimal | Fraction | int | float] = ["2", Decimal("2.0"), Fraction(2), 2, 2.0]
    merged = sum_interval([(LAP, 2, 5)])
    assert sum_interval([(LAP, s, 1) for s in scales]) == merged
    assert sum_interval([(Mechanism.DISCRETE_LAPLACE, 2, 3), (LAP, 2.0, 2)]) == merged


def test_sum_tail_refuses_unbounded_work() -> None:
    assert sum_tail([], 0) == 0.0
    assert sum_tail([(LAP, 1, 1)], 3) == noise_tail(LAP, 1, 3)
    with pytest.raises(ValueError, match="too spread out"):
        sum_tail([(GAU, 1e6, 2)], 0)


# ---------------------------------------------------------------------------- properties

mechanisms = st.sampled_from([LAP, GAU])
scales = st.floats(min_value=0.05, max_value=1e4, allow_nan=False, allow_infinity=False)
small_scales = st.floats(min_value=0.05, max_value=30.0)
confidences = st.floats(min_value=0.5, max_value=0.9999)
group = st.tuples(mechanisms, small_scales, st.integers(min_value=0, max_value=12))


@given(mechanisms, scales, st.floats(min_value=1e-6, max_value=10.0))
def test_variance_increases_with_scale(mechanism: str, scale: float, ratio: float) -> None:
    assert noise_variance(mechanism, scale) < noise_variance(mechanism, scale * (1 + ratio))


@given(st.floats(min_value=0.01, max_value=1e6))
def test_gaussian_variance_at_most_sigma_squared_and_equal_for_large_sigma(sigma: float) -> None:
    variance = noise_variance(GAU, sigma)
    assert 0.0 <= variance <= sigma * sigma
    if sigma >= 4.0:
        assert math.isclose(variance, sigma * sigma, rel_tol=1e-14)
    if sigma <= 0.5:
        assert variance < 0.9 * sigma * sigma  # visibly below the continuous σ²


@given(st.floats(min_value=0.01, max_value=1e5))
def test_laplace_variance_is_continuous_minus_a_sixth(t: float) -> None:
    # 1/(2 sinh²(1/2t)) = 2t² - 1/6 + 1/(120t²) - …: always in [2t² - 1/6, 2t²].
    variance = noise_variance(LAP, t)
    slack = 1e-14 * 2 * t * t
    assert 2 * t * t - 1 / 6 - slack <= variance <= 2 * t * t + slack
    if t >= 1.0:
        assert abs(2 * t * t - 1 / 6 - variance) <= 1 / (120 * t * t) + slack


@given(mechanisms, scales, st.integers(min_value=0, max_value=10_000))
def test_tails_are_probabilities_decreasing_in_k(mechanism: str, scale: float, k: int) -> None:
    here, there = noise_tail(mechanism, scale, k), noise_tail(mechanism, scale, k + 1)
    assert 0.0 <= there <= here <= 1.0


@given(mechanisms, small_scales)
def test_tail_at_zero_is_one_minus_the_mass_at_zero(mechanism: str, scale: float) -> None:
    if mechanism == LAP:
        a = math.exp(-1 / scale)
        mass0 = (1 - a) / (1 + a)
    else:
        mass0 = 1 / math.fsum(math.exp(-k * k / (2 * scale * scale)) for k in range(-40 * 31, 40 * 31))
    assert math.isclose(noise_tail(mechanism, scale, 0), 1 - mass0, rel_tol=1e-12, abs_tol=1e-15)


@given(mechanisms, scales, confidences)
def test_single_cell_halfwidth_is_the_smallest_that_covers(mechanism: str, scale: float, confidence: float) -> None:
    h = single_cell_halfwidth(mechanism, scale, confidence)
    assert noise_tail(mechanism, scale, h) <= 1 - confidence
    assert h == 0 or noise_tail(mechanism, scale, h - 1) > 1 - confidence


@settings(deadline=None, max_examples=60)
@given(st.lists(group, max_size=3), st.lists(group, max_size=3))
def test_sum_variance_is_additive(left: list[NoiseGroup], right: list[NoiseGroup]) -> None:
    both = sum_interval(left + right).variance
    assert math.isclose(both, sum_interval(left).variance + sum_interval(right).variance, rel_tol=1e-12)
    direct = math.fsum(count * noise_variance(m, s) for m, s, count in left + right)
    assert math.isclose(both, direct, rel_tol=1e-12)


@settings(deadline=None, max_examples=60)
@given(st.lists(group, min_size=1, max_size=3), confidences)
def test_exact_sum_halfwidth_is_the_smallest_that_covers(groups: list[NoiseGroup], confidence: float) -> None:
    iv = sum_interval(groups, confidence)
    assert iv.terms == sum(count for _, _, count in groups)
    assert iv.std == math.sqrt(iv.variance)
    assert iv.confidence == confidence
    if iv.method == "exact" and iv.terms > 0:
        assert iv.coverage >= confidence
        assert sum_tail(groups, iv.halfwidth) <= 1 - confidence
        assert iv.halfwidth == 0 or sum_tail(groups, iv.halfwidth - 1) > 1 - confidence


@given(st.lists(st.tuples(mechanisms, scales, st.integers(min_value=0, max_value=10**9)), min_size=1, max_size=3))
def test_normal_halfwidth_is_z_times_std(groups: list[NoiseGroup]) -> None:
    iv = sum_interval(groups, method="normal")
    if iv.terms == 0:
        return
    assert iv.method == "normal"
    assert iv.halfwidth == max(0, math.ceil(Z95 * iv.std - 0.5))
    assert iv.halfwidth == 0 or abs(iv.halfwidth - Z95 * iv.std) <= 0.5 + 1e-9 * iv.std
    if iv.std > 0:
        assert math.isclose(iv.coverage, 2 * statistics.NormalDist().cdf((iv.halfwidth + 0.5) / iv.std) - 1)


def test_other_confidence_levels_use_the_matching_quantile() -> None:
    iv = sum_interval([(GAU, 1000.0, 3)], 0.99, method="normal")
    z99 = statistics.NormalDist().inv_cdf(0.995)
    assert iv.halfwidth == math.ceil(z99 * iv.std - 0.5)


# ---------------------------------------------------------------------------- reading an interval


def test_interval_bounds_and_low_reliability_flag() -> None:
    iv = sum_interval([(LAP, 1, 1)])  # ± 3
    assert interval_bounds(10, iv) == (7, 13)
    assert interval_bounds(-2, iv) == (-5, 1)  # never clipped at zero
    assert [is_wide(e, iv) for e in (-4, -3, -2, 0, 2, 3, 4)] == [False, False, True, True, True, False, False]
    exact_zero = sum_interval([])
    assert not is_wide(0, exact_zero)
    assert interval_bounds(5, exact_zero) == (5, 5)


# ---------------------------------------------------------------------------- argument checking


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("3.4641016151377544", 3.4641016151377544),
        (" 12.5 ", 12.5),
        (Decimal("0.25"), 0.25),
        (Fraction(1, 3), 1 / 3),
        (7, 7.0),
        (1e-300, 1e-300),
    ],
)
def test_parse_scale_accepts(value: str | Decimal | Fraction | int | float, expected: float) -> None:
    assert parse_scale(value) == expected


@pytest.mark.parametrize(
    "value",
    ["0", "-1", "nan", "NaN", "inf", "-Infinity", "abc", "", "1e-400", "1e400", 0, -2, 0.0, -0.5, math.nan, math.inf],
)
def test_parse_scale_rejects(value: str | int | float) -> None:
    with pytest.raises(ValueError, match="noise scale"):
        parse_scale(value)


@pytest.mark.parametrize("value", [True, None, b"1", [1]])
def test_parse_scale_rejects_other_types(value: object) -> None:
    with pytest.raises(TypeError, match="noise scale"):
        parse_scale(value)  # type: ignore[arg-type]


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="unknown noise mechanism"):
        noise_variance("gaussian", 1)
    with pytest.raises(ValueError, match="non-negative"):
        noise_tail(LAP, 1, -1)
    with pytest.raises(TypeError):
        noise_tail(LAP, 1, 1.0)  # type: ignore[arg-type]
    for confidence in (0.0, 1.0, 1.5, -0.1, math.nan):
        with pytest.raises(ValueError, match="confidence"):
            single_cell_halfwidth(LAP, 1, confidence)
    with pytest.raises(ValueError, match="count"):
        sum_interval([(LAP, 1, -1)])
    with pytest.raises(TypeError, match="count"):
        sum_interval([(LAP, 1, True)])
    with pytest.raises(TypeError, match="noise group"):
        sum_interval([(LAP, 1)])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="noise group"):
        sum_interval([5])  # type: ignore[list-item]
    assert sum_interval([[LAP, "1", 2]]) == sum_interval([(LAP, 1, 2)])  # type: ignore[list-item]  # JSON arrays
    with pytest.raises(ValueError, match="method"):
        sum_interval([], method="exact")  # type: ignore[arg-type]


def test_module_is_pure_stdlib() -> None:
    """accuracy imports the standard library and, of the protocol, only rounded_noise, which is stdlib alone."""
    stdlib = {"__future__", "collections", "dataclasses", "decimal", "enum", "fractions", "functools", "math"}
    stdlib |= {"statistics", "typing"}
    accuracy_imports = _imports(Path(accuracy.__file__))
    assert accuracy_imports <= stdlib | {"protocol.rounded_noise"}
    assert _imports(Path(accuracy.__file__).with_name("rounded_noise.py")) <= stdlib


def _imports(path: Path) -> set[str]:
    """Top-level modules ``path`` imports (a protocol module by its full name)."""
    imported: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names = [alias.name for alias in node.names] if isinstance(node, ast.Import) else []
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module]
        imported |= {name if name.startswith("protocol.") else name.split(".")[0] for name in names}
    return imported


@pytest.mark.parametrize("value", [Fraction(10**400), 10**400, Fraction(10**400 + 1, 3)])
def test_a_scale_beyond_the_largest_float_is_refused(value: object) -> None:
    with pytest.raises(ValueError, match="noise scale is too large"):
        parse_scale(value)  # type: ignore[arg-type]


@pytest.mark.parametrize(("confidence", "name"), [("0.95", "str"), (True, "bool"), (None, "NoneType")])
def test_a_confidence_is_a_float(confidence: object, name: str) -> None:
    with pytest.raises(TypeError, match=f"confidence must be a float, got {name}"):
        single_cell_halfwidth(LAP, 1, confidence)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=f"confidence must be a float, got {name}"):
        sum_interval([(LAP, 1, 2)], confidence)  # type: ignore[arg-type]


def test_the_tail_of_no_noise_is_zero() -> None:
    for terms in ([], [(LAP, 1, 0)]):
        tail = tail_function(terms)
        assert [tail(k) for k in (0, 1, 100)] == [0.0, 0.0, 0.0]


def test_beyond_the_exact_limit_the_tail_is_the_normal_one_with_continuity_correction() -> None:
    terms = [(GAU, 10**6, 2), (LAP, 10**6, 1)]
    with pytest.raises(ValueError, match="too spread out for an exact tail"):
        sum_tail(terms, 0)
    std = math.sqrt(2 * noise_variance(GAU, 10**6) + noise_variance(LAP, 10**6))
    tail = tail_function(terms)
    for k in (0, 10**6, 3 * 10**6):
        assert tail(k) == pytest.approx(2.0 * NormalDist().cdf(-(k + 0.5) / std), rel=1e-12)
    assert tail(math.ceil(Z95 * std)) == pytest.approx(0.05, abs=1e-6)
    with pytest.raises(ValueError, match="k"):
        tail(-1)
