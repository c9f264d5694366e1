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
    When the coupling is poor (discrete Laplace noise summed over few cells, or tiny noise), the narrowest of two
    other rigorous bounds is taken: the group carrying most variance enumerated exactly (its point masses, from the
    lattice method) beside the rest coupled as above, or beside the rest's Chernoff bound through a union bound;
    and the Chernoff bound ``P(|S| ≥ h) ≤ 2 inf_θ E[e^{θS}] e^{−θh}`` of the whole (exact moment generating
    functions; subgaussian for the discrete Gaussian). These are wider: for least-squares answers under discrete
    Laplace noise, about 1.4 to 1.65 times the normal half-width. The discrete Gaussian (the default) is the
    mechanism to use when answers are combined.

:meth:`LinearNoise.upper_tail` bounds ``P(S ≥ x)`` the same way (exactly on the lattice): the p-value of "the true
count is zero" that rankings test.

This module is pure: no I/O, no clock, no randomness, stdlib only.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from statistics import NormalDist
from typing import Literal

from protocol.accuracy import (
    Mechanism,
    NoiseGroup,
    Scale,
    characteristic,
    merge_terms,
    noise_variance,
    sum_interval,
    tail_function,
)
from protocol.rounded_noise import RoundedSum

__all__ = ["CombinedInterval", "LinearNoise", "coupling_gap"]

_NORMAL = NormalDist()
#: Grid points of the numerical integrals in :func:`coupling_gap` (near zero, and out to π).
_NEAR_POINTS = 1200
_FAR_POINTS = 400
#: Safety factor on the numerically integrated total-variation bound.
_SAFETY = 2.0
#: A coupling whose total-variation budget is below this share of 1 − confidence is used without trying others.
_NEGLIGIBLE_GAP = 0.01
#: Where a coupled tail bound falls below this multiple of its total-variation term, the Chernoff bound (which has
#: no such floor) is taken if smaller: p-values of large estimates must be able to pass Holm's threshold.
_FLOOR_FACTOR = 20.0
#: The level of published intervals: the tail bounds (p-values) come from the method chosen for it.
_PUBLISHED_ALPHA = 0.05
#: Largest half-support of a group enumerated exactly, and the error allowed for its masses (Fourier, ~1e-13 each).
_MASS_LIMIT = 4096
_MASS_ERROR = 1e-9
#: Shares of 1 − confidence given to the rest when it is bounded by Chernoff beside an exact dominant group.
_REST_SHARES = (0.05, 0.1, 0.2, 0.35)
#: Points of the θ grid of a tabulated Chernoff bound (denser near 0, where the bounds of moderate tails are).
_THETA_POINTS = 240
#: Grid of the prepared upper-tail bound of a split sum.
_TAIL_GRID = 400

Terms = tuple[tuple[Mechanism, Scale, int], ...]


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
    """The upper-tail bound of the method that gives the published (95 %) interval."""
    if not groups:
        return lambda x: 1.0 if x <= 0.0 else 0.0
    if all(abs(c) == 1 for c, _ in groups):
        tail = _lattice_tail(_all_terms(groups))
        # S is a symmetric integer: P(S ≥ x) = P(S ≥ ⌈x⌉) = ½ P(|S| > ⌈x⌉ − 1).
        return lambda x: 1.0 if x <= 0.0 else min(1.0, 0.5 * tail(math.ceil(x) - 1))
    return _best_bound(groups, _PUBLISHED_ALPHA).tail()


@lru_cache(maxsize=1024)
def _interval(groups: tuple[tuple[Fraction, Terms], ...], confidence: float) -> CombinedInterval:
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be strictly between 0 and 1, got {confidence!r}")
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
    halfwidth, coverage = _best_bound(groups, 1.0 - confidence).interval
    return CombinedInterval(variance, std, halfwidth, "conservative", confidence, coverage, count, len(groups))


class _Bound(ABC):
    """One rigorous way to bound the tails of ``S``: its half-width and guaranteed coverage at one level, and its
    upper-tail bound."""

    interval: tuple[float, float]

    @abstractmethod
    def tail(self) -> Callable[[float], float]: ...


class _Coupled(_Bound):
    """Every group coupled to a rounded normal (module docstring)."""

    def __init__(
        self, groups: tuple[tuple[Fraction, Terms], ...], coupled: tuple[float, float, float], alpha: float
    ) -> None:
        self.groups = groups
        self.std, self.allowance, self.gap = coupled
        z = _NORMAL.inv_cdf(1.0 - (alpha - self.gap) / 2.0) + 1e-9  # the nudge keeps float rounding on the safe side
        coverage = 1.0 - self.gap - (2.0 * _NORMAL.cdf(-z) if self.std > 0 else 0.0)
        self.interval = (self.allowance + z * self.std, coverage)

    def tail(self) -> Callable[[float], float]:
        std, allowance, gap, groups = self.std, self.allowance, self.gap, self.groups
        cdf = _NORMAL.cdf
        chernoff: list[Callable[[float], float]] = []  # prepared on first use, then shared by every row

        def bound(x: float) -> float:
            if x <= 0.0:
                return 1.0
            coupled = gap + (cdf(-(x - allowance) / std) if std > 0.0 else float(x <= allowance))
            if coupled < _FLOOR_FACTOR * gap:
                # Far in the tail the coupling's total-variation term is a floor; the Chernoff bound has none.
                if not chernoff:
                    chernoff.append(_chernoff_curve(groups))
                return min(coupled, chernoff[0](x))
            return min(1.0, coupled)

        return bound


class _Exactly(_Bound):
    """The group carrying the most variance enumerated exactly, the rest coupled (:class:`_Split`)."""

    def __init__(self, groups: tuple[tuple[Fraction, Terms], ...], split: _Split, alpha: float) -> None:
        self.groups = groups
        self.split = split
        x = split.smallest_radius(alpha - split.gap)
        self.interval = (split.allowance + x, 1.0 - split.gap - split.outside(x))

    def tail(self) -> Callable[[float], float]:
        grid = self.split.upper_tail_function()
        gap, chernoff = self.split.gap, _chernoff_curve(self.groups)

        def bound(x: float) -> float:
            value = grid(x)
            return min(value, chernoff(x)) if value < _FLOOR_FACTOR * gap else value

        return bound


class _ExactlyAndChernoff(_Bound):
    """The dominant group exactly, the rest by its Chernoff bound, joined by a union bound:
    ``P(|S| > x + a) ≤ P(|λW| > x) + P(|rest| > a)``, with the level split between them chosen from a few."""

    def __init__(self, groups: tuple[tuple[Fraction, Terms], ...], top: int, alpha: float) -> None:
        coefficient, terms = groups[top]
        self.lam = abs(float(coefficient))
        self.tail_w = _lattice_tail(terms)
        self.rest = tuple(group for i, group in enumerate(groups) if i != top)
        options = []
        for share in _REST_SHARES:
            rest_alpha = alpha * share
            a = _chernoff_halfwidth(self.rest, rest_alpha)
            k = self._quantile(alpha - rest_alpha)
            options.append((self.lam * k + a, 1.0 - self.tail_w(k) - 2.0 * _chernoff_tail(self.rest, a)))
        self.interval = min(options)

    def _quantile(self, alpha: float) -> int:
        """The smallest integer ``k`` with ``P(|W| > k) ≤ alpha``."""
        low, high = -1, 1
        while self.tail_w(high) > alpha:
            low, high = high, 2 * high
        while high - low > 1:
            mid = (low + high) // 2
            if self.tail_w(mid) > alpha:
                low = mid
            else:
                high = mid
        return high

    def tail(self) -> Callable[[float], float]:
        lam, tail_w, rest_tail = self.lam, self.tail_w, _chernoff_curve(self.rest)

        def bound(t: float) -> float:
            # P(S ≥ t) ≤ P(λW ≥ t − a) + P(rest ≥ a) for any a; take the best of a few.
            if t <= 0.0:
                return 1.0
            best = 1.0
            for fraction in (0.1, 0.25, 0.5):
                a = fraction * t
                k = math.ceil((t - a) / lam)
                best = min(best, 0.5 * tail_w(k - 1) + rest_tail(a))
            return min(1.0, best)

        return bound


class _Chernoff(_Bound):
    """``P(|S| ≥ h) ≤ 2 inf_θ E[e^{θS}] e^{−θh}``: always available, widest."""

    def __init__(self, groups: tuple[tuple[Fraction, Terms], ...], alpha: float) -> None:
        self.groups = groups
        halfwidth = _chernoff_halfwidth(groups, alpha)
        self.interval = (halfwidth, 1.0 - 2.0 * _chernoff_tail(groups, halfwidth))

    def tail(self) -> Callable[[float], float]:
        return _chernoff_curve(self.groups)


@lru_cache(maxsize=1024)
def _best_bound(groups: tuple[tuple[Fraction, Terms], ...], alpha: float) -> _Bound:
    """The rigorous bound with the narrowest interval at level ``1 − alpha``. A normal coupling with a negligible
    gap (every group of discrete Gaussian noise with some spread) is taken at once; otherwise the exact-dominant
    split and the Chernoff bound are tried too."""
    coupled = _coupling(groups)
    candidates: list[_Bound] = []
    if coupled is not None and coupled[2] < alpha / 2.0:
        first = _Coupled(groups, coupled, alpha)
        if coupled[2] <= _NEGLIGIBLE_GAP * alpha:
            return first
        candidates.append(first)
    split = _dominant_split(groups)
    if split is not None and split.gap < alpha / 2.0:
        candidates.append(_Exactly(groups, split, alpha))
    top = _top_group(groups)
    if len(groups) > 1 and _lattice_masses(groups[top][1]) is not None:
        candidates.append(_ExactlyAndChernoff(groups, top, alpha))
    candidates.append(_Chernoff(groups, alpha))
    return min(candidates, key=lambda bound: bound.interval[0])


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


# ----------------------------------------------------------------------------------------------- one group exact


@dataclass(frozen=True, slots=True)
class _Split:
    """``S = λ·W + rest``: ``W`` (the group carrying the most variance) exactly, with point masses ``masses[k + K]``
    on ``-K..K``, and the rest coupled to ``N(0, std²)`` within ``allowance``, failing with probability ``gap``.

    ``P(|S| > allowance + x) ≤ P(|λW + Y| > x) + gap``, and the right side is a finite sum over ``W``'s masses.
    """

    coefficient: float
    radius: int
    masses: tuple[float, ...]
    std: float
    allowance: float
    gap: float

    def outside(self, x: float) -> float:
        """``P(|λW + Y| > x)``."""
        inside = 0.0
        lam, std = self.coefficient, self.std
        for k, mass in enumerate(self.masses, -self.radius):
            if mass == 0.0:
                continue
            centre = lam * k
            if std == 0.0:
                inside += mass if abs(centre) <= x else 0.0
            else:
                inside += mass * (_NORMAL.cdf((x - centre) / std) - _NORMAL.cdf((-x - centre) / std))
        return max(0.0, 1.0 - inside)

    def above(self, t: float) -> float:
        """``P(λW + Y ≥ t)``."""
        lam, std = self.coefficient, self.std
        total = 0.0
        for k, mass in enumerate(self.masses, -self.radius):
            if mass == 0.0:
                continue
            centre = lam * k
            if std == 0.0:
                total += mass if centre >= t else 0.0
            else:
                total += mass * _NORMAL.cdf((centre - t) / std)
        return min(1.0, total)

    def smallest_radius(self, alpha: float) -> float:
        """The smallest ``x`` (to 10⁻⁶ relative) with ``P(|λW + Y| > x) ≤ alpha``."""
        low, high = 0.0, max(1.0, abs(self.coefficient) * self.radius + 10.0 * self.std)
        while self.outside(high) > alpha:  # pragma: no cover - high covers W's masses and Y to 10σ: outside(high) is
            low, high = high, 2.0 * high  # below 10⁻¹², and alpha (the level less the gap) exceeds _MASS_ERROR
        while high - low > 1e-6 * high:
            mid = (low + high) / 2.0
            if self.outside(mid) > alpha:
                low = mid
            else:
                high = mid
        return high

    def upper_tail_function(self) -> Callable[[float], float]:
        """``t ↦`` a bound on ``P(S ≥ t)``: ``P(λW + Y ≥ t − allowance) + gap`` on a grid, taken at the grid point
        below ``t`` (the function decreases, so this only ever overstates it)."""
        spread = abs(self.coefficient) * self.radius + 10.0 * self.std + self.allowance
        step = spread / _TAIL_GRID
        values = [min(1.0, self.above(i * step - self.allowance) + self.gap) for i in range(_TAIL_GRID + 1)]

        def bound(t: float) -> float:
            if t <= 0.0:
                return 1.0
            index = math.floor(t / step)
            return values[index] if index <= _TAIL_GRID else values[-1]

        return bound


def _dominant_split(groups: tuple[tuple[Fraction, Terms], ...]) -> _Split | None:
    """``S`` split into its largest group (exact) and the rest (coupled), or ``None`` if the rest cannot be coupled
    or the largest group is too spread out to enumerate."""
    top = _top_group(groups)
    coefficient, terms = groups[top]
    exact = _lattice_masses(terms)
    if exact is None:
        return None
    radius, masses = exact
    rest = tuple(group for i, group in enumerate(groups) if i != top)
    if rest:
        coupled = _coupling(rest)
        if coupled is None:
            return None
        std, allowance, gap = coupled
    else:
        std, allowance, gap = 0.0, 0.0, 0.0
    return _Split(float(coefficient), radius, masses, std, allowance, gap + _MASS_ERROR)


def _top_group(groups: tuple[tuple[Fraction, Terms], ...]) -> int:
    """The index of the group carrying the most variance (the first of equals)."""
    shares = [(-(float(c) ** 2) * _variance(terms), i) for i, (c, terms) in enumerate(groups)]
    return min(shares)[1]


@lru_cache(maxsize=256)
def _lattice_masses(terms: Terms) -> tuple[int, tuple[float, ...]] | None:
    """Point masses of the sum of ``terms`` on ``-K..K``, ``P(|W| > K)`` below 10⁻¹⁴ (from the exact tail), or
    ``None`` when ``K`` would exceed :data:`_MASS_LIMIT`."""
    tail = tail_function(terms)
    radius = max(1, math.ceil(8.0 * math.sqrt(_variance(terms))))
    while tail(radius) > 1e-14:
        radius *= 2
        if radius > _MASS_LIMIT:
            return None
    tails = [tail(k) for k in range(radius + 1)]
    half = [max(0.0, (tails[k - 1] - tails[k]) / 2.0) for k in range(1, radius + 1)]
    centre = max(0.0, 1.0 - tails[0])
    return radius, (*reversed(half), centre, *half)


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
    if i0 <= 0.0:  # pragma: no cover - float D = φ_W − φ_R never vanishes on the whole grid; a guard for i1 / i0
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
            if isinstance(scale, RoundedSum):
                total += count * scale.log_mgf_bound(u)
                continue
            if mech is Mechanism.DISCRETE_GAUSSIAN:
                total += count * u * u * scale * scale / 2.0
                continue
            if u >= 1.0 / scale:  # pragma: no cover - both callers keep θ below (1 − 10⁻⁹) · _theta_limit
                return math.inf
            a = math.exp(-1.0 / scale)
            # E e^{uZ} = (1 − a)² / (1 + a² − 2a·cosh u)
            denominator = 1.0 + a * a - 2.0 * a * math.cosh(u)
            if denominator <= 0.0:
                return math.inf
            total += count * (2.0 * math.log1p(-a) - math.log(denominator))
    return total


@lru_cache(maxsize=256)
def _chernoff_curve(groups: tuple[tuple[Fraction, Terms], ...]) -> Callable[[float], float]:
    """``x ↦ min_k exp(log E[e^{θ_k S}] − θ_k x)`` over a fixed grid of ``θ_k``: a Chernoff bound (every ``θ`` gives
    one), with the moment generating function evaluated once per grid point instead of once per ``x``."""
    limit = _theta_limit(groups)
    std = math.sqrt(max(_mgf_variance(groups), 1e-300))
    top = min(limit * (1.0 - 1e-9), 60.0 / std)
    thetas = [top * (i / _THETA_POINTS) ** 2 for i in range(1, _THETA_POINTS + 1)]
    curve = [(theta, value) for theta in thetas if math.isfinite(value := _log_mgf(groups, theta))]
    last = len(curve) - 1

    def bound(x: float) -> float:
        if x <= 0.0 or not curve:
            return 1.0
        # log E[e^{θS}] − θx is convex in θ, so its minimum over the grid is where the next point stops being
        # lower: a binary search (any grid point gives a valid bound, so an imprecise minimum stays safe).
        low, high = 0, last
        while low < high:
            mid = (low + high) // 2
            if curve[mid + 1][1] - curve[mid + 1][0] * x < curve[mid][1] - curve[mid][0] * x:
                low = mid + 1
            else:
                high = mid
        theta, value = curve[low]
        return min(1.0, math.exp(min(0.0, value - theta * x)))

    return bound


def _mgf_variance(groups: Sequence[tuple[Fraction, Terms]]) -> float:
    """The variance that :func:`_log_mgf` behaves like near 0: ``σ²`` of a discrete Gaussian term (its bound is
    ``σ²``-subgaussian, and ``σ²`` far exceeds the true variance below σ ≈ 1/2), the variance of a discrete Laplace
    one. The Chernoff searches scale their range of ``θ`` by it, so the minimum stays inside the range."""
    return math.fsum(
        float(c) ** 2 * count * _subgaussian_variance(mech, scale)
        for c, terms in groups
        for mech, scale, count in terms
    )


def _subgaussian_variance(mech: Mechanism, scale: Scale) -> float:
    """The variance the moment generating function bound of one term grows with: ``σ²`` for a discrete Gaussian,
    ``Σmσ²/γ²`` for a scaled round's cell (:meth:`RoundedSum.log_mgf_bound`), the variance of a discrete Laplace."""
    if isinstance(scale, RoundedSum):
        return scale.coarse_variance_bound
    return scale * scale if mech is Mechanism.DISCRETE_GAUSSIAN else noise_variance(mech, scale)


def _theta_limit(groups: Sequence[tuple[Fraction, Terms]]) -> float:
    """Where the moment generating function of ``S`` stops existing (discrete Laplace terms), or infinity."""
    limit = math.inf
    for coefficient, terms in groups:
        for mech, scale, _ in terms:
            if mech is Mechanism.DISCRETE_LAPLACE and not isinstance(scale, RoundedSum):
                limit = min(limit, 1.0 / (abs(float(coefficient)) * scale))
    return limit


def _chernoff_tail(groups: Sequence[tuple[Fraction, Terms]], x: float) -> float:
    """``inf_θ E[e^{θS}] e^{−θx}``: an upper bound on ``P(S ≥ x)``."""
    if x <= 0.0:  # pragma: no cover - every caller passes a half-width, which is positive
        return 1.0
    limit = _theta_limit(groups)
    std = math.sqrt(max(_mgf_variance(groups), 1e-300))
    high = min(limit * (1.0 - 1e-9), 50.0 * x / (std * std) + 1.0)

    def exponent(theta: float) -> float:
        return _log_mgf(groups, theta) - theta * x

    low = 0.0
    for _ in range(80):  # golden-section search of the convex exponent on (0, high): 0.618⁸⁰ ≈ 2e-17
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
