# SPDX-License-Identifier: Apache-2.0
"""The privacy loss of one noisy release, exactly: what a declared spend is checked against.

A release declares each table's noise scale, its sensitivity and what it spent. Anyone can recompute the spend from
the scale and the sensitivity (:func:`gaussian_rho` for the discrete Gaussian, zCDP; :func:`laplace_epsilon` for the
discrete Laplace, pure DP), as exact fractions: :mod:`protocol.validation` does, for the hub and the auditor. How wide
an answer the same noise makes is :mod:`protocol.accuracy`'s business.
"""

from __future__ import annotations

from fractions import Fraction

from protocol.accuracy import ScaleLike, exact_scale

__all__ = ["gaussian_rho", "laplace_epsilon"]


def gaussian_rho(sensitivity_l2_squared: int | Fraction, scale: ScaleLike) -> Fraction:
    """zCDP ``ρ = Δ₂² / (2σ²)`` of one discrete Gaussian release, as an exact ``Fraction``.

    For auditors checking a declared spend. The scale is taken at its exact value (a decimal
    string is read exactly, a float as its binary value). OpenDP's own privacy map rounds upward
    in floating point, so a spend it reports may exceed this by a few ulps.

    >>> gaussian_rho(1, 1), gaussian_rho(9, "12.5")
    (Fraction(1, 2), Fraction(18, 625))
    """
    return _sensitivity(sensitivity_l2_squared, "sensitivity_l2_squared") / (2 * exact_scale(scale) ** 2)


def laplace_epsilon(sensitivity_l1: int | Fraction, scale: ScaleLike) -> Fraction:
    """Pure-DP ``ε = Δ₁ / t`` of one discrete Laplace release, as an exact ``Fraction``.

    Same conventions as :func:`gaussian_rho`.

    >>> laplace_epsilon(1, "2.0"), laplace_epsilon(3, 12)
    (Fraction(1, 2), Fraction(1, 4))
    """
    return _sensitivity(sensitivity_l1, "sensitivity_l1") / exact_scale(scale)


def _sensitivity(value: int | Fraction, what: str) -> Fraction:
    if isinstance(value, bool) or not isinstance(value, int | Fraction):
        raise TypeError(f"{what} must be an int or a Fraction, got {type(value).__name__}")
    if value < 0:
        raise ValueError(f"{what} must be non-negative, got {value}")
    return Fraction(value)
