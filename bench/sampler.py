# SPDX-License-Identifier: Apache-2.0
"""A seeded, exact discrete Gaussian sampler for coverage trials (never for a release: releases use OpenDP).

The coverage trials of :mod:`bench.workload` must be reproducible, so they cannot use OpenDP, whose sampler draws
from a CSPRNG and takes no seed (as it must). This module implements the sampler of Canonne, Kamath and Steinke,
"The Discrete Gaussian for Differential Privacy" (NeurIPS 2020), Algorithms 1–3, on :class:`random.Random`: only
integer arithmetic and uniform integers, so for a rational ``σ²`` every draw follows the discrete Gaussian

    P(X = k) = e^(−k²/2σ²) / Σ_j e^(−j²/2σ²)

exactly (up to the Mersenne Twister being a good source of uniform bits, which is all a benchmark needs).

* ``Bernoulli(e^(−γ))``, ``γ = n/d ∈ [0, 1]``: draw ``A_k ~ Bernoulli(γ/k)`` for ``k = 1, 2, …`` until one is 0;
  return whether that ``k`` is odd. For ``γ > 1``: ``⌊γ⌋`` draws of ``Bernoulli(e^(−1))`` (all must be 1), then
  ``Bernoulli(e^(−(γ − ⌊γ⌋)))``.
* Discrete Laplace of scale ``t`` (an integer): ``U`` uniform on ``0..t−1``, accepted with probability ``e^(−U/t)``;
  ``V`` geometric (``Bernoulli(e^(−1))`` until a 0); ``Y = U + tV``; a random sign, rejecting "−0".
* Discrete Gaussian: ``t = ⌊σ⌋ + 1``; draw a discrete Laplace ``Y`` of scale ``t`` and accept it with probability
  ``e^(−(|Y| − σ²/t)²/(2σ²))``. The expected number of rounds is below 2 for every ``σ``, so a draw costs a few
  microseconds however large ``σ`` is.

**Sums of many draws.** A trial needs ``W``, the sum of the noise of ``m`` cells (up to tens of millions), each an
independent discrete Gaussian of scale ``σ ≥ 1``. It draws ``W`` at once as a discrete Gaussian of ``σ²m``. By
Poisson summation the characteristic function of a discrete Gaussian of scale ``σ`` is within
``2e^(−π²σ²/2)`` of ``e^(−σ²t²/2)`` on ``[−π, π]``, so the sum of ``m`` of them and the discrete Gaussian of
``σ²m`` differ by at most ``2(m + 1)e^(−π²σ²/2)`` in characteristic function, hence by at most that in every point
mass, and by at most :func:`reduction_bound` in total variation (point masses within ``40`` standard deviations,
plus both Gaussian tails beyond). For the scales of the node's default budgets (σ ≥ 4.03) that is below 10⁻²⁰
for every sum drawn here: the trials are, to that precision, draws of the real noise of the real release.
"""

from __future__ import annotations

import math
import random  # noqa: TID251 - seeded, reproducible trials for a benchmark; never noise for a release
from fractions import Fraction

__all__ = ["bernoulli_exp", "discrete_gaussian", "exact_masses", "reduction_bound", "seeded", "variance_of"]


def seeded(seed: str) -> random.Random:
    """A Mersenne Twister seeded from text (the seed is hashed with SHA-512: the same text, the same stream)."""
    return random.Random(seed)  # noqa: S311 - reproducible benchmark trials, not cryptography


def variance_of(scale: float, count: int) -> tuple[int, int]:
    """``σ²`` of the sum of ``count`` draws of scale ``scale``, as an exact fraction ``(numerator, denominator)``."""
    exact = Fraction(scale) ** 2 * count
    return exact.numerator, exact.denominator


def bernoulli_exp(rng: random.Random, numerator: int, denominator: int) -> bool:
    """One draw of ``Bernoulli(e^(−γ))`` for ``γ = numerator / denominator ≥ 0``."""
    while numerator > denominator:
        if not _bernoulli_exp_unit(rng, 1, 1):
            return False
        numerator -= denominator
    return _bernoulli_exp_unit(rng, numerator, denominator)


def _bernoulli_exp_unit(rng: random.Random, numerator: int, denominator: int) -> bool:
    """``Bernoulli(e^(−γ))`` for ``γ ∈ [0, 1]``."""
    k = 1
    while rng.randrange(denominator * k) < numerator:  # A_k ~ Bernoulli(γ / k)
        k += 1
    return k % 2 == 1


def discrete_gaussian(rng: random.Random, numerator: int, denominator: int) -> int:
    """One draw of the discrete Gaussian centred on 0 with ``σ² = numerator / denominator > 0``."""
    t = math.isqrt(numerator // denominator) + 1
    while True:
        magnitude, negative = _discrete_laplace(rng, t)
        # accept with probability exp(-(|Y| - σ²/t)² / (2σ²)) = exp(-(|Y|·d·t - n)² / (2·n·d·t²))
        if bernoulli_exp(rng, (magnitude * denominator * t - numerator) ** 2, 2 * numerator * denominator * t * t):
            return -magnitude if negative else magnitude


def _discrete_laplace(rng: random.Random, t: int) -> tuple[int, bool]:
    """``(|Y|, Y < 0)`` for ``Y`` discrete Laplace of scale ``t``: ``P(Y = y) ∝ e^(−|y|/t)``."""
    while True:
        u = rng.randrange(t)
        if not _bernoulli_exp_unit(rng, u, t):
            continue
        v = 0
        while _bernoulli_exp_unit(rng, 1, 1):
            v += 1
        magnitude = u + t * v
        negative = bool(rng.getrandbits(1))
        if negative and magnitude == 0:
            continue
        return magnitude, negative


def reduction_bound(scale: float, count: int) -> float:
    """Total-variation distance bound between the sum of ``count`` discrete Gaussians of ``scale`` and the discrete
    Gaussian of ``scale² · count`` (module docstring); 0 for ``count == 1``, where they are the same thing."""
    if count == 1:
        return 0.0
    if scale < 1.0:
        raise ValueError("the reduction is only used for scales of at least 1")
    std = scale * math.sqrt(count)
    radius = math.ceil(40.0 * std)
    per_mass = 2.0 * (count + 1) * math.exp(-(math.pi**2) * scale * scale / 2.0)
    # Outside ±radius both variables have Gaussian-type tails below e^(-radius²/(2·std²) + 1) (a generous bound).
    tails = 4.0 * math.exp(-(radius * radius) / (2.0 * std * std) + 1.0)
    return (2 * radius + 1) * per_mass + tails


def exact_masses(numerator: int, denominator: int) -> tuple[list[float], float]:
    """Unnormalised ``e^(−k²/2σ²)`` for ``k = 0, 1, …`` out to 40σ, and their total over all integers."""
    variance = numerator / denominator
    radius = math.ceil(40.0 * math.sqrt(variance))
    weights = [math.exp(-(k * k) / (2.0 * variance)) for k in range(radius + 1)]
    return weights, weights[0] + 2.0 * math.fsum(weights[1:])
