# SPDX-License-Identifier: Apache-2.0
"""Intervals and tail probabilities of weighted sums of noise: exact on the integer lattice, provably conservative
off it.

A least-squares answer (:mod:`protocol.combination`) is a fixed linear combination of noisy cells, so its noise is

    S = Σ_g λ_g · W_g

where ``W_g`` is the sum of the (independent, integer, symmetric) noise terms of every cell that carries the
coefficient ``λ_g`` — an integer-valued variable in its own right — and the ``λ_g`` are exact rationals.

>>> from fractions import Fraction
>>> corridor = (Fraction(9, 10), ("discrete_gaussian", "4.0", 5))       # 5 hotlines' noise, weight 0.9
>>> three_way = (Fraction(1, 10), ("discrete_gaussian", "9.0", 25))     # 25 cells of another table, weight 0.1
>>> gls = LinearNoise([corridor, three_way])
>>> iv = gls.interval()
>>> iv.method, round(iv.std, 2), round(iv.halfwidth, 2), iv.coverage >= 0.95
('conservative', 9.22, 18.57, True)
>>> LinearNoise([(Fraction(1), ("discrete_gaussian", "4.0", 5))]).interval().method    # a plain sum
'exact'

How the interval is found
-------------------------
``exact`` (every ``|λ_g| = 1``)
    a plain sum of noise terms: :func:`protocol.accuracy.sum_interval`, by inversion of the characteristic
    function on the integer lattice (exact up to float rounding). Where that sum is too spread out for the exact
    method (a standard deviation beyond about 975), the conservative bound below is used instead, so an interval
    here is never a mere approximation.
``conservative`` (anything else: a real combination)
    a coupling argument, rigorous and within about one count of the normal interval. Each ``W_g`` is coupled to
    ``R_g = round(Y_g)`` with ``Y_g ~ N(0, Var W_g − 1/12)`` (rounding adds 1/12 of variance back): the two are
    equal except on an event of probability at most ``τ_g``, their total-variation distance. ``τ_g`` is bounded
    from the characteristic functions (:func:`coupling_gap`): with ``D = φ_W − φ_R`` on ``[-π, π]`` and the
    point masses ``Δ_k = P(W = k) − P(R = k)``, Parseval gives ``Σ Δ_k² = (1/2π)∫D²`` and
    ``Σ k²Δ_k² = (1/2π)∫D'²``, and Cauchy–Schwarz against ``Σ_k 1/(1 + k²/c²) = πc·coth(πc)`` bounds
    ``TV = ½ Σ|Δ_k|``. On the event that every coupling holds, ``|S − Σλ_g Y_g| ≤ ½ Σ|λ_g|`` (each rounding moves
    by at most ½), and ``Σλ_g Y_g`` is exactly normal. Hence, with ``a = ½ Σ|λ_g|`` and ``T = Σ τ_g``,

        P(|S| > a + x) ≤ P(|N(0, Σλ_g² Var Y_g)| > x) + T,

    and the half-width is ``a + x`` for the ``x`` that makes the right side ``1 − confidence``. ``coverage`` is
    the guaranteed lower bound ``1 − T − P(|N| > x)``. For discrete Gaussian noise ``T`` is negligible (below
    10⁻⁵ once a group's variance exceeds 4); the price of rigour is ``a``, about half a count.
    When the coupling is poor (discrete Laplace noise summed over few cells, or tiny noise), the half-width comes
    from the Chernoff bound ``P(|S| ≥ h) ≤ 2 inf_θ E[e^{θS}] e^{−θh}`` with exact moment generating functions
    (subgaussian for the discrete Gaussian): wider, still rigorous.

:meth:`LinearNoise.upper_tail` bounds ``P(S ≥ x)`` the same way (exactly on the lattice): the p-value of "the true
count is zero" that rankings test.

This module is pure: no I/O, no clock, no randomness, stdlib only.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from statistics import NormalDist
from typing import Literal

from protocol.accuracy import (
    Mechanism,
    NoiseGroup,
    characteristic,
    merge_terms,
    noise_variance,
    sum_interval,
    tail_function,
)

__all__ = ["CombinedInterval", "LinearNoise", "coupling_gap"]

_NORMAL = NormalDist()
#: Grid points of the numerical integrals in :func:`coupling_gap` (near zero, and out to π).
_NEAR_POINTS = 1200
_FAR_POINTS = 400
#: Safety factor on the numerically integrated total-variation bound.
_SAFETY = 2.0
#: The coupling is used while the total-variation budget it needs is at most this fraction of 1 − confidence.
_MAX_GAP_SHARE = 0.25

Terms = tuple[tuple[Mechanism, float, int], ...]


@dataclass(frozen=True, slots=True)
class CombinedInterval:
    """The accuracy of one answer's noise ``S``.

    ``halfwidth`` is a float: publish ``[estimate − halfwidth, estimate + halfwidth]``. ``coverage`` is the exact
    ``P(|S| ≤ halfwidth)`` (``exact``) or a guaranteed lower bound of it (``conservative``); either way at least
    ``confidence``. ``terms`` counts the noise terms, ``groups`` the distinct coefficients.
    """

    variance: float
    std: float
    halfwidth: float
    method: Literal["exact", "conservative"]
    confidence: float
    coverage: float
    terms: int
    groups: int


class LinearNoise:
    """``S = Σ λ · W``: ``(coefficient, noise term)`` pairs, where a noise term ``(mechanism, scale, count)`` stands
    for ``count`` independent terms. Terms sharing a coefficient are summed into one integer variable first."""

    def __init__(self, parts: Iterable[tuple[Fraction, NoiseGroup]]) -> None:
        by_coefficient: dict[Fraction, list[NoiseGroup]] = {}
        for coefficient, term in parts:
            if coefficient == 0:
                continue
            by_coefficient.setdefault(Fraction(coefficient), []).append(term)
        self.groups: tuple[tuple[Fraction, Terms], ...] = tuple(
            (coefficient, merged)
            for coefficient, terms in sorted(by_coefficient.items())
            if (merged := merge_terms(terms))
        )
        self._tail: Callable[[float], float] | None = None

    def __eq__(self, other: object) -> bool:
        return isinstance(other, LinearNoise) and self.groups == other.groups

    def __hash__(self) -> int:
        return hash(self.groups)

    def __repr__(self) -> str:
        return f"LinearNoise({len(self.groups)} coefficients, variance {self.variance:.6g})"

    @property
    def lattice(self) -> bool:
        """True when every coefficient is ±1: ``S`` is a plain sum of noise terms (an integer)."""
        return all(abs(coefficient) == 1 for coefficient, _ in self.groups)

    @property
    def variance(self) -> float:
        return math.fsum(float(c) ** 2 * _variance(terms) for c, terms in self.groups)

    @property
    def terms(self) -> int:
        return sum(count for _, terms in self.groups for _, _, count in terms)

    def interval(self, confidence: float = 0.95) -> CombinedInterval:
        """The ``confidence`` interval of ``S`` (module docstring, "How the interval is found")."""
        return _interval(self.groups, confidence)

    def upper_tail(self, x: float) -> float:
        """An upper bound on ``P(S ≥ x)`` (exact when :attr:`lattice`); 1 for ``x ≤ 0``."""
        return self.tail_bound()(x)

    def tail_bound(self) -> Callable[[float], float]:
        """:meth:`upper_tail` as a function, prepared once (for the many rows that share one noise)."""
        if self._tail is None:
            self._tail = _tail_bound(self.groups)
        return self._tail


# ----------------------------------------------------------------------------------------------- intervals


def _tail_bound(groups: tuple[tuple[Fraction, Terms], ...]) -> Callable[[float], float]:
    if not groups:
        return lambda x: 1.0 if x <= 0.0 else 0.0
    if all(abs(c) == 1 for c, _ in groups):
        tail = _lattice_tail(_all_terms(groups))
        # S is a symmetric integer: P(S ≥ x) = P(S ≥ ⌈x⌉) = ½ P(|S| > ⌈x⌉ − 1).
        return lambda x: 1.0 if x <= 0.0 else min(1.0, 0.5 * tail(math.ceil(x) - 1))
    coupled = _coupling(groups)
    if coupled is not None:
        std, allowance, gap = coupled
        if std == 0.0:
            return lambda x: 1.0 if x <= 0.0 else min(1.0, gap + (1.0 if x <= allowance else 0.0))
        cdf = _NORMAL.cdf
        return lambda x: 1.0 if x <= 0.0 else min(1.0, cdf(-(x - allowance) / std) + gap)
    return lambda x: 1.0 if x <= 0.0 else min(1.0, _chernoff_tail(groups, x))


@lru_cache(maxsize=1024)
def _interval(groups: tuple[tuple[Fraction, Terms], ...], confidence: float) -> CombinedInterval:
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be strictly between 0 and 1, got {confidence!r}")
    alpha = 1.0 - confidence
    variance = math.fsum(float(c) ** 2 * _variance(terms) for c, terms in groups)
    std = math.sqrt(variance)
    count = sum(n for _, terms in groups for _, _, n in terms)
    if not groups:
        return CombinedInterval(0.0, 0.0, 0.0, "exact", confidence, 1.0, 0, 0)
    if all(abs(c) == 1 for c, _ in groups):
        plain = sum_interval(_all_terms(groups), confidence)
        if plain.method == "exact":
            return CombinedInterval(
                variance, std, float(plain.halfwidth), "exact", confidence, plain.coverage, count, len(groups)
            )
    coupled = _coupling(groups)
    if coupled is not None and coupled[2] <= _MAX_GAP_SHARE * alpha:
        normal_std, allowance, gap = coupled
        z = _NORMAL.inv_cdf(1.0 - (alpha - gap) / 2.0) + 1e-9  # the nudge keeps float rounding on the safe side
        halfwidth = allowance + z * normal_std
        coverage = 1.0 - gap - (2.0 * _NORMAL.cdf(-z) if normal_std > 0 else 0.0)
        return CombinedInterval(variance, std, halfwidth, "conservative", confidence, coverage, count, len(groups))
    halfwidth = _chernoff_halfwidth(groups, alpha)
    coverage = 1.0 - 2.0 * _chernoff_tail(groups, halfwidth)
    return CombinedInterval(variance, std, halfwidth, "conservative", confidence, coverage, count, len(groups))


def _variance(terms: Terms) -> float:
    return math.fsum(count * noise_variance(mech, scale) for mech, scale, count in terms)


def _all_terms(groups: Sequence[tuple[Fraction, Terms]]) -> Terms:
    return merge_terms(term for _, terms in groups for term in terms)


@lru_cache(maxsize=256)
def _lattice_tail(terms: Terms) -> Callable[[int], float]:
    return tail_function(terms)


@lru_cache(maxsize=1024)
def _coupling(groups: tuple[tuple[Fraction, Terms], ...]) -> tuple[float, float, float] | None:
    """``(std of Σλ·Y, allowance ½Σ|λ|, total-variation budget T)``, or ``None`` when a group cannot be coupled
    (its variance is below 1/12, or its terms are not all discrete Gaussian and the gap is large)."""
    normal_variance = 0.0
    allowance = Fraction(0)
    gap = 0.0
    for coefficient, terms in groups:
        rounded_variance = _variance(terms) - 1.0 / 12.0
        if rounded_variance <= 0.0:
            return None
        gap += coupling_gap(terms)
        if gap >= 1.0:
            return None
        normal_variance += float(coefficient) ** 2 * rounded_variance
        allowance += abs(coefficient) / 2
    return math.sqrt(normal_variance), float(allowance), gap


# ----------------------------------------------------------------------------------------------- coupling


@lru_cache(maxsize=4096)
def coupling_gap(terms: Terms) -> float:
    """An upper bound on the total-variation distance between the sum ``W`` of ``terms`` and ``round(Y)``,
    ``Y ~ N(0, Var W − 1/12)`` (module docstring). Computed by numerical integration over ``[0, π]`` with a
    safety factor of two; 1.0 when ``Var W ≤ 1/12`` (no coupling).

    >>> coupling_gap(((Mechanism.DISCRETE_GAUSSIAN, 4.0, 5),)) < 1e-6
    True
    >>> coupling_gap(((Mechanism.DISCRETE_LAPLACE, 4.0, 1),)) > 1e-3
    True
    """
    variance = _variance(terms)
    s2 = variance - 1.0 / 12.0
    if s2 <= 0.0:
        return 1.0
    factors = [(characteristic(mech, scale), count) for mech, scale, count in terms]

    def phi_w(theta: float) -> float:
        value = 1.0
        for char, count in factors:
            value *= char(theta) ** count
        return value

    images = math.ceil(40.0 / (2.0 * math.pi * math.sqrt(s2))) + 1

    def phi_r(theta: float) -> float:
        total = 0.0
        for m in range(-images, images + 1):
            u = theta + 2.0 * math.pi * m
            half = u / 2.0
            total += math.exp(-s2 * u * u / 2.0) * (math.sin(half) / half if half != 0.0 else 1.0)
        return total

    near = min(math.pi, 16.0 / math.sqrt(variance))
    grids = [_grid(0.0, near, _NEAR_POINTS)]
    if near < math.pi:
        grids.append(_grid(near, math.pi, _FAR_POINTS))
    i0 = 0.0
    i1 = 0.0
    for grid in grids:
        values = [phi_w(t) - phi_r(t) for t in grid]
        step = grid[1] - grid[0]
        derivatives = _derivative(values, step)
        i0 += _trapezoid([v * v for v in values], step)
        i1 += _trapezoid([d * d for d in derivatives], step)
    i0 /= math.pi  # (1/2π)∫_{-π}^{π} of an even function
    i1 /= math.pi
    if i0 <= 0.0:
        return 1e-12
    c = max(1.0, math.sqrt(i1 / i0)) if i1 > 0.0 else 1.0
    pc = math.pi * c
    coth = 1.0 / math.tanh(pc) if pc < 20.0 else 1.0
    bound = 0.5 * math.sqrt((i0 + i1 / (c * c)) * pc * coth)
    return min(1.0, _SAFETY * bound + 1e-12)


def _grid(start: float, stop: float, points: int) -> list[float]:
    step = (stop - start) / (points - 1)
    return [start + i * step for i in range(points)]


def _derivative(values: Sequence[float], step: float) -> list[float]:
    """Central differences inside, one-sided at the ends."""
    last = len(values) - 1
    result = [(values[1] - values[0]) / step]
    result += [(values[i + 1] - values[i - 1]) / (2.0 * step) for i in range(1, last)]
    result.append((values[last] - values[last - 1]) / step)
    return result


def _trapezoid(values: Sequence[float], step: float) -> float:
    return step * (math.fsum(values) - 0.5 * (values[0] + values[-1]))


# ----------------------------------------------------------------------------------------------- Chernoff


def _log_mgf(groups: Sequence[tuple[Fraction, Terms]], theta: float) -> float:
    """``log E[e^{θS}]`` (an upper bound for discrete Gaussian terms: they are σ²-subgaussian); ``inf`` where a
    discrete Laplace term's moment generating function does not exist."""
    total = 0.0
    for coefficient, terms in groups:
        u = abs(float(coefficient)) * theta
        for mech, scale, count in terms:
            if mech is Mechanism.DISCRETE_GAUSSIAN:
                total += count * u * u * scale * scale / 2.0
                continue
            if u >= 1.0 / scale:
                return math.inf
            a = math.exp(-1.0 / scale)
            # E e^{uZ} = (1 − a)² / (1 + a² − 2a·cosh u)
            denominator = 1.0 + a * a - 2.0 * a * math.cosh(u)
            if denominator <= 0.0:
                return math.inf
            total += count * (2.0 * math.log1p(-a) - math.log(denominator))
    return total


def _chernoff_tail(groups: Sequence[tuple[Fraction, Terms]], x: float) -> float:
    """``inf_θ E[e^{θS}] e^{−θx}``: an upper bound on ``P(S ≥ x)``."""
    if x <= 0.0:
        return 1.0
    limit = math.inf
    for coefficient, terms in groups:
        for mech, scale, _ in terms:
            if mech is Mechanism.DISCRETE_LAPLACE:
                limit = min(limit, 1.0 / (abs(float(coefficient)) * scale))
    std = math.sqrt(max(math.fsum(float(c) ** 2 * _variance(t) for c, t in groups), 1e-300))
    high = min(limit * (1.0 - 1e-9), 50.0 * x / (std * std) + 1.0)

    def exponent(theta: float) -> float:
        return _log_mgf(groups, theta) - theta * x

    low = 0.0
    for _ in range(200):  # golden-section search of the convex exponent on (0, high)
        a = low + (high - low) * 0.381966
        b = low + (high - low) * 0.618034
        if exponent(a) <= exponent(b):
            high = b
        else:
            low = a
    return min(1.0, math.exp(min(0.0, exponent((low + high) / 2.0))))


def _chernoff_halfwidth(groups: Sequence[tuple[Fraction, Terms]], alpha: float) -> float:
    """The smallest ``h`` (to 10⁻⁶ relative) with ``2·inf_θ E[e^{θS}] e^{−θh} ≤ α``."""
    std = math.sqrt(math.fsum(float(c) ** 2 * _variance(t) for c, t in groups))
    low, high = 0.0, max(1.0, std)
    while 2.0 * _chernoff_tail(groups, high) > alpha:
        low, high = high, 2.0 * high
    while high - low > 1e-6 * high:
        mid = (low + high) / 2.0
        if 2.0 * _chernoff_tail(groups, mid) > alpha:
            low = mid
        else:
            high = mid
    return high
