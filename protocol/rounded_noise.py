# SPDX-License-Identifier: Apache-2.0
"""The noise of a cell of a *scaled* secure round: ``R = round(Z / γ)``.

In a scaled round (docs/secure-aggregation-privacy.md §7) every member sends ``γ · counts`` plus a discrete Gaussian
share on the finer lattice, so the round's sum of a cell is ``γ · X + Z``, ``X`` the true count and ``Z`` the sum
of the survivors' shares. The hub publishes ``round((γX + Z) / γ) = X + round(Z / γ)``: with an odd ``γ`` no value
of ``Z`` is half-way between two multiples of ``γ``, so the rounding is exact and symmetric, and the published
cell's noise is ``R = round(Z / γ)``, an integer, symmetric variable with

    P(|R| > k) = P(|Z| > γk + (γ − 1)/2)      for k ≥ 0,

so its point masses, variance and characteristic function follow exactly from ``Z``'s tails. ``Z`` is a plain sum
of discrete Gaussians, whose tails :mod:`protocol.accuracy` computes exactly (Fourier inversion on the lattice);
this module takes them as a function, so it depends on nothing else.

A noise term of this kind travels as ``("rounded_gaussian_sum", "<γ>:<σ₁>x<m₁>,<σ₂>x<m₂>", count)``: ``m_i`` shares of
the fine scale ``σ_i`` summed in one cell, then rounded (one term per cell, not one per member).

>>> noise = RoundedSum.parse("15:7.5x80")
>>> noise.gamma, noise.shares, noise.text
(15, ((7.5, 80),), '15:7.5x80')
>>> round(noise.coarse_variance_bound, 2)                       # Σ m σ² / γ², the variance of Z / γ at most
20.0
>>> RoundedSum.parse("14:7.5x80")
Traceback (most recent call last):
...
ValueError: a scaled round's factor must be an odd whole number from 1 to 255, got '14'
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Final

__all__ = ["MAX_SCALING", "MECHANISM", "RoundedSum", "is_scaling_factor"]

#: The mechanism name noise terms of this kind carry.
MECHANISM: Final = "rounded_gaussian_sum"
#: The largest scaling factor a round may name.
MAX_SCALING: Final = 255
#: Masses are computed out to where ``P(|R| > k)`` falls below this (the exact tails are good to ~1e-13).
_TAIL_FLOOR: Final = 1e-16
#: Most one-sided point masses kept (beyond, the sum is spread so widely that its tail is normal to ~1e-13).
_MAX_MASSES: Final = 100_000


@dataclass(frozen=True, slots=True, order=True)
class RoundedSum:
    """``round(Z / γ)`` for ``Z`` the sum of ``m`` discrete Gaussians of scale ``σ`` for each ``(σ, m)`` of
    :attr:`shares` (sorted by σ, each σ once)."""

    gamma: int
    shares: tuple[tuple[float, int], ...]

    def __post_init__(self) -> None:
        if isinstance(self.gamma, bool) or not isinstance(self.gamma, int):
            raise TypeError(f"a scaled round's factor must be an int, got {type(self.gamma).__name__}")
        if not is_scaling_factor(self.gamma):
            raise _bad_factor(self.gamma)
        if not self.shares:
            raise ValueError("a scaled round's noise needs at least one share")
        for sigma, count in self.shares:
            if not (isinstance(sigma, float) and 0.0 < sigma < math.inf):
                raise ValueError(f"a share's scale must be a positive, finite float, got {sigma!r}")
            if isinstance(count, bool) or not isinstance(count, int) or count < 1:
                raise ValueError(f"a scale's number of shares must be a whole number of at least 1, got {count!r}")
        scales = [sigma for sigma, _ in self.shares]
        if scales != sorted(set(scales)):
            raise ValueError("a scaled round's shares must name each scale once, in increasing order")

    @classmethod
    def parse(cls, text: str) -> RoundedSum:
        """Read ``"<γ>:<σ>x<m>[,<σ>x<m>…]"`` (scales as decimal strings, as they travel)."""
        if not isinstance(text, str):
            raise TypeError(f"a scaled round's noise is written as text, got {type(text).__name__}")
        factor, colon, rest = text.partition(":")
        if not colon or not factor.isdigit() or factor != str(int(factor)):
            raise ValueError(
                f"a scaled round's factor must be an odd whole number from 1 to {MAX_SCALING}, got {factor!r}"
            )
        gamma = int(factor)
        if not (1 <= gamma <= MAX_SCALING and gamma % 2 == 1):
            raise ValueError(
                f"a scaled round's factor must be an odd whole number from 1 to {MAX_SCALING}, got {factor!r}"
            )
        pooled: dict[float, int] = {}
        for part in rest.split(","):
            scale, x, count = part.partition("x")
            if not x or not count.isdigit():
                raise ValueError(f"a scaled round's share must read <scale>x<count>, got {part!r}")
            try:
                sigma = float(Decimal(scale))
            except InvalidOperation:
                raise ValueError(f"a scaled round's share scale is not a decimal number: {scale!r}") from None
            pooled[sigma] = pooled.get(sigma, 0) + int(count)
        return cls(gamma, tuple(sorted(pooled.items())))

    @classmethod
    def of(cls, gamma: int, shares: Sequence[tuple[str | float, int]]) -> RoundedSum:
        """The noise of ``shares`` (``(fine scale, how many)``, scales as decimal strings or floats) pooled by
        scale, rounded at ``gamma``."""
        pooled: dict[float, int] = {}
        for scale, count in shares:
            sigma = float(Decimal(scale)) if isinstance(scale, str) else float(scale)
            pooled[sigma] = pooled.get(sigma, 0) + count
        return cls(gamma, tuple(sorted(pooled.items())))

    @property
    def text(self) -> str:
        """The term's scale as it travels: ``"15:7.5x80"``."""
        return f"{self.gamma}:" + ",".join(f"{sigma!r}x{count}" for sigma, count in self.shares)

    @property
    def half(self) -> int:
        """``(γ − 1) / 2``: the most the rounding moves ``Z`` on the fine lattice."""
        return (self.gamma - 1) // 2

    @property
    def coarse_variance_bound(self) -> float:
        """``Σ m σ² / γ²``: an upper bound on the variance of ``Z / γ`` (a discrete Gaussian's variance is at
        most its ``σ²``)."""
        return math.fsum(count * sigma * sigma for sigma, count in self.shares) / (self.gamma * self.gamma)

    def tail(self, z_tail: Callable[[int], float], k: int) -> float:
        """``P(|R| > k) = P(|Z| > γk + (γ − 1)/2)``, from ``z_tail(j) = P(|Z| > j)``."""
        return z_tail(self.gamma * k + self.half)

    def masses(self, z_tail: Callable[[int], float]) -> tuple[float, ...]:
        """``P(R = 0), P(R = 1), …`` (``R`` is symmetric: ``P(R = −r) = P(R = r)``), out to where the tail falls
        below 10⁻¹⁶."""
        tails = [self.tail(z_tail, 0)]
        while tails[-1] > _TAIL_FLOOR and len(tails) < _MAX_MASSES:
            tails.append(self.tail(z_tail, len(tails)))
        masses = [max(0.0, 1.0 - tails[0])]
        masses += [max(0.0, (tails[r - 1] - tails[r]) / 2.0) for r in range(1, len(tails))]
        return tuple(masses)

    @staticmethod
    def variance(masses: Sequence[float]) -> float:
        """``E[R²]`` from the one-sided masses."""
        return 2.0 * math.fsum(r * r * mass for r, mass in enumerate(masses))

    @staticmethod
    def characteristic(masses: Sequence[float]) -> Callable[[float], float]:
        """``θ ↦ E cos(θR)`` from the one-sided masses."""
        centre, rest = masses[0], list(enumerate(masses))[1:]
        return lambda theta: centre + 2.0 * math.fsum(mass * math.cos(r * theta) for r, mass in rest)

    def log_mgf_bound(self, u: float) -> float:
        """An upper bound on ``log E[e^{uR}]``: ``R ≤ Z/γ + (γ − 1)/(2γ)`` and each share is σ²-subgaussian, so
        ``log E[e^{uR}] ≤ |u|(γ − 1)/(2γ) + u² Σmσ² / (2γ²)``."""
        return abs(u) * self.half / self.gamma + u * u * self.coarse_variance_bound / 2.0


def is_scaling_factor(gamma: object) -> bool:
    """Whether ``gamma`` is a round's scaling factor: an odd whole number from 1 to :data:`MAX_SCALING`."""
    return isinstance(gamma, int) and not isinstance(gamma, bool) and 1 <= gamma <= MAX_SCALING and gamma % 2 == 1


def _bad_factor(value: object) -> ValueError:
    return ValueError(f"a scaled round's factor must be an odd whole number from 1 to {MAX_SCALING}, got {value!r}")
