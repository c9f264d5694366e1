# SPDX-License-Identifier: Apache-2.0
"""The noise of a scaled round's cell, ``R = round(Z/γ)``: its distribution against brute force, its accuracy
terms in :mod:`protocol.accuracy` and :mod:`protocol.bounds`, and the scale text it travels as."""

from __future__ import annotations

import itertools
import math
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocol.accuracy import (
    Mechanism,
    characteristic,
    merge_terms,
    noise_tail,
    noise_variance,
    single_cell_halfwidth,
    sum_interval,
    sum_tail,
)
from protocol.bounds import LinearNoise
from protocol.rounded_noise import MAX_SCALING, MECHANISM, RoundedSum

Pmf = dict[int, float]


def _gaussian(sigma: float) -> Pmf:
    reach = math.ceil(12 * sigma) + 2
    weights = {k: math.exp(-k * k / (2 * sigma * sigma)) for k in range(-reach, reach + 1)}
    total = math.fsum(weights.values())
    return {k: w / total for k, w in weights.items()}


def _convolve(a: Pmf, b: Pmf) -> Pmf:
    out: Pmf = {}
    for i, p in a.items():
        for j, q in b.items():
            out[i + j] = out.get(i + j, 0.0) + p * q
    return out


def _brute(gamma: int, shares: list[tuple[float, int]]) -> Pmf:
    """``round(Z/γ)`` by direct convolution of the shares and rounding of every value of ``Z``."""
    z: Pmf = {0: 1.0}
    for sigma, count in shares:
        for _ in range(count):
            z = _convolve(z, _gaussian(sigma))
    r: Pmf = {}
    for value, p in z.items():
        rounded = math.floor(value / gamma + 0.5)  # odd γ: never a tie
        r[rounded] = r.get(rounded, 0.0) + p
    return r


def _tail(pmf: Pmf, k: int) -> float:
    return math.fsum(p for value, p in pmf.items() if abs(value) > k)


CASES = [(5, [(2.5, 3)]), (3, [(1.5, 2), (2.0, 1)]), (7, [(4.0, 2)]), (1, [(1.2, 3)]), (15, [(7.5, 4)])]


def _noise(gamma: int, shares: list[tuple[float, int]]) -> RoundedSum:
    return RoundedSum.of(gamma, shares)


@pytest.mark.parametrize(("gamma", "shares"), CASES)
def test_the_distribution_is_the_brute_force_one(gamma: int, shares: list[tuple[float, int]]) -> None:
    noise = _noise(gamma, shares)
    brute = _brute(gamma, shares)
    text = noise.text
    assert noise_variance(MECHANISM, text) == pytest.approx(math.fsum(v * v * p for v, p in brute.items()), abs=1e-10)
    for k in range(6):
        assert noise_tail(MECHANISM, text, k) == pytest.approx(_tail(brute, k), abs=1e-12)
    for theta in (0.0, 0.3, 1.0, math.pi):
        expected = math.fsum(p * math.cos(theta * v) for v, p in brute.items())
        assert characteristic(MECHANISM, text)(theta) == pytest.approx(expected, abs=1e-12)
    halfwidth = single_cell_halfwidth(MECHANISM, text)
    assert _tail(brute, halfwidth) <= 0.05
    assert halfwidth == 0 or _tail(brute, halfwidth - 1) > 0.05


def test_a_factor_of_one_is_the_plain_sum() -> None:
    shares = [(1.2, 3)]
    assert noise_variance(MECHANISM, _noise(1, shares)) == pytest.approx(3 * noise_variance("discrete_gaussian", 1.2))


def test_the_rounding_adds_about_a_twelfth_of_a_count_squared() -> None:
    """Var R ≈ Var(Z)/γ² + (γ² − 1)/(12γ²) once Z spreads over many multiples of γ (the rounding error is then
    nearly uniform and nearly independent of Z)."""
    noise = _noise(15, [(7.5, 80)])
    fine = 80 * noise_variance("discrete_gaussian", 7.5) / 225
    assert noise_variance(MECHANISM, noise.text) == pytest.approx(fine + (225 - 1) / (12 * 225), rel=1e-9)


def test_sums_of_rounded_terms_are_exact_against_brute_force() -> None:
    gamma, shares = 5, [(2.5, 3)]
    text = _noise(gamma, shares).text
    brute = _brute(gamma, shares)
    total = _convolve(_convolve(brute, brute), _gaussian(3.0))
    terms = [(MECHANISM, text, 2), ("discrete_gaussian", "3.0", 1)]
    interval = sum_interval(terms)
    assert interval.method == "exact"
    assert interval.halfwidth > 0
    assert _tail(total, interval.halfwidth) <= 0.05 < _tail(total, interval.halfwidth - 1)
    assert interval.coverage == pytest.approx(1 - _tail(total, interval.halfwidth), abs=1e-10)
    assert sum_tail(terms, 4) == pytest.approx(_tail(total, 4), abs=1e-10)


def test_weighted_answers_are_conservative() -> None:
    """A least-squares answer weighing a rounded cell by 1/2: the interval holds at least 95 % exactly."""
    gamma, shares = 5, [(2.5, 3)]
    noise = LinearNoise([(Fraction(1, 2), (MECHANISM, _noise(gamma, shares).text, 3))])
    interval = noise.interval()
    brute = _brute(gamma, shares)
    three = _convolve(_convolve(brute, brute), brute)
    outside = math.fsum(p for v, p in three.items() if abs(v / 2) > interval.halfwidth)
    assert outside <= 0.05
    assert interval.coverage <= 1 - outside + 1e-12


@pytest.mark.parametrize("u", [0.05, 0.3, 1.0, 2.5])
def test_the_moment_generating_function_bound_holds(u: float) -> None:
    gamma, shares = 7, [(4.0, 2)]
    brute = _brute(gamma, shares)
    exact = math.log(math.fsum(p * math.exp(u * v) for v, p in brute.items()))
    assert _noise(gamma, shares).log_mgf_bound(u) >= exact


def test_the_scale_text_round_trips_and_pools() -> None:
    noise = RoundedSum.parse("15:7.5x70,7.5x10,8.25x20")
    assert noise.shares == ((7.5, 80), (8.25, 20))
    assert RoundedSum.parse(noise.text) == noise
    assert noise.half == 7
    merged = merge_terms([(MECHANISM, noise.text, 1), (MECHANISM, noise, 2), ("discrete_gaussian", "3", 1)])
    assert merged == ((Mechanism.DISCRETE_GAUSSIAN, 3.0, 1), (Mechanism.ROUNDED_GAUSSIAN_SUM, noise, 3))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("14:7.5x80", "odd whole number"),
        ("0:7.5x80", "odd whole number"),
        (f"{MAX_SCALING + 2}:7.5x80", "odd whole number"),
        ("07:7.5x80", "odd whole number"),
        ("7.5x80", "odd whole number"),
        ("15:7.5", "<scale>x<count>"),
        ("15:7.5x", "<scale>x<count>"),
        ("15:sevenx80", "not a decimal number"),
        ("15:7.5x0", "at least 1"),
        ("15:-7.5x3", "positive, finite"),
    ],
)
def test_malformed_scale_texts_are_refused(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        RoundedSum.parse(text)


def test_wrong_types_are_refused() -> None:
    with pytest.raises(TypeError, match="written as text"):
        RoundedSum.parse(15)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="must be an int"):
        RoundedSum(True, ((7.5, 3),))
    with pytest.raises(ValueError, match="odd whole number"):
        RoundedSum(14, ((7.5, 3),))
    with pytest.raises(ValueError, match="at least one share"):
        RoundedSum(15, ())
    with pytest.raises(ValueError, match="once, in increasing order"):
        RoundedSum(15, ((8.0, 1), (7.5, 1)))
    with pytest.raises(TypeError, match="written as text"):
        noise_variance(MECHANISM, 7.5)
    with pytest.raises(TypeError, match="numeric scale"):
        noise_variance("discrete_gaussian", _noise(15, [(7.5, 3)]))


@given(
    gamma=st.sampled_from([1, 3, 5, 7, 9]),
    sigma=st.floats(min_value=0.6, max_value=4.0),
    count=st.integers(min_value=1, max_value=4),
)
def test_masses_are_a_symmetric_distribution(gamma: int, sigma: float, count: int) -> None:
    noise = RoundedSum(gamma, ((sigma, count),))
    text = noise.text
    tails = [noise_tail(MECHANISM, text, k) for k in range(8)]
    assert all(a >= b - 1e-15 for a, b in itertools.pairwise(tails))
    assert 0.0 <= tails[0] <= 1.0
    variance = noise_variance(MECHANISM, text)
    assert variance <= noise.coarse_variance_bound + (gamma * gamma - 1) / (12 * gamma * gamma) + 0.5
    assert characteristic(MECHANISM, text)(0.0) == pytest.approx(1.0, abs=1e-12)


def test_far_tails_of_weighted_answers_are_bounded_by_chernoff() -> None:
    """A large estimate's p-value: far out, the coupling's floor is passed and the Chernoff bound (whose moment
    generating function for a rounded term is :meth:`RoundedSum.log_mgf_bound`) must still hold exactly."""
    gamma, shares = 5, [(2.5, 3)]
    noise = LinearNoise(
        [
            (Fraction(1, 2), (MECHANISM, _noise(gamma, shares).text, 3)),
            (Fraction(1, 3), ("discrete_gaussian", "2.0", 2)),
        ]
    )
    brute = _brute(gamma, shares)
    rounded = _convolve(_convolve(brute, brute), brute)
    gaussian = _convolve(_gaussian(2.0), _gaussian(2.0))
    for x in (6.0, 12.0, 20.0):
        exact = math.fsum(p * q for a, p in rounded.items() for b, q in gaussian.items() if a / 2 + b / 3 >= x)
        bound = noise.upper_tail(x)
        assert exact <= bound <= 1.0
    assert noise.upper_tail(20.0) < 1e-6
