# SPDX-License-Identifier: Apache-2.0
"""Differentially private noise for dense count tables, calibrated and drawn by OpenDP.

Two steps, kept apart so that the ledger can check the budget before any noise exists:

1. :func:`calibrate` turns the budget shares of the tables into noise scales. Every scale comes from
   ``opendp.binary_search_param`` over the very measurement that will draw the noise, never from a hand-written
   formula that could drift from the sampler; the privacy map of the chosen measurement is then checked against
   the table's share.
2. :func:`add_noise` draws the noise, once, for every cell of every table (the caller stores the result: drawing
   again for the same period and revision would let averages cancel the noise).

>>> from node.budget import BudgetConfig
>>> from protocol.taxonomy import builtin_taxonomy
>>> plan = calibrate(builtin_taxonomy(), ["persons_corridor", "cases_opened"], BudgetConfig.default())
>>> [(t.table, t.scale_text, t.noise().spent) for t in plan.tables]  # ρ = 0.1 split 4 : 1
[('persons_corridor', '2.5000000000000004', '0.08'), ('cases_opened', '7.071067811865476', '0.02')]
>>> noisy = add_noise(plan, {"persons_corridor": [0] * 19220, "cases_opened": [5] * 42})
>>> len(noisy["persons_corridor"]), len(noisy["cases_opened"])
(19220, 42)

OpenDP details (version 0.16)
-----------------------------
* Input space: ``vector_domain(atom_domain(T="i32"))`` (counts fit in 32 bits; a true count above
  :data:`MAX_TRUE_COUNT` is refused). Sampling uses OpenDP's exact discrete samplers (CKS20) on its CSPRNG.
* Discrete Gaussian (zCDP, ρ): ``make_gaussian`` with the metric ``l2_distance(T="f64")``. The metric's distance
  type may differ from the data type in OpenDP 0.16 (``l2_distance(QI)`` in its docstring), and it has to: with
  ``l2_distance(T="i32")`` the input distance ``d_in`` (the L2 sensitivity) must be an integer, but a table where
  one person adds 1 to two cells has L2 = √2 (``cases_opened``: L2² = 2), and rounding it up to 2 would double the
  ρ spent for the same noise. So ``d_in`` is the smallest double ≥ √(L2²) (:func:`sqrt_up`; √2 → 1.4142135623730951,
  √9 → 3.0 exactly): never below the true sensitivity, and at most one ulp above it.
* Discrete Laplace (pure DP, ε): ``make_laplace`` with ``l1_distance(T="i32")`` and ``d_in`` = the L1 bound, an
  integer.
* Target: ``d_out`` is the largest double ≤ the table's share (:func:`float_down`), so after OpenDP's own
  upward-rounded privacy map, ``map(d_in) ≤ d_out ≤ share``: the table never spends more than declared. Both are
  checked on every calibration (:class:`~node.errors.NoiseError` otherwise), as is the hub's check
  (:func:`protocol.validation.implied_spend` of the published scale within its tolerance of the share).
* The payload carries the scale as the shortest decimal that reads back as the double OpenDP used
  (``repr(float)``), and the share as the declared spend (an exact decimal).
* OpenDP's own odometers and filters are not used for accounting: they live in memory and forget everything once
  exhausted. :mod:`node.ledger` records every spend, exactly, outside OpenDP.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from functools import cache
from typing import Any, Final

from node.budget import MEASURES, BudgetConfig, Mechanism, decimal_text
from node.errors import ConfigError, NoiseError
from node.i18n import N_, Text
from protocol.messages import MAX_ABS_CELL, PrivacyBlock, TableNoise
from protocol.taxonomy import Taxonomy
from protocol.validation import SPEND_TOLERANCE, implied_spend

__all__ = [
    "MAX_SCALE",
    "MAX_TRUE_COUNT",
    "NoisePlan",
    "TableCalibration",
    "add_noise",
    "calibrate",
    "float_down",
    "gaussian_loss",
    "sqrt_up",
]

#: The largest noise scale the node accepts: beyond it the noise could push a cell past ``MAX_ABS_CELL``
#: (and the table would be useless anyway). A budget so small that it needs more is a configuration error.
MAX_SCALE: Final = 100_000.0
#: The largest true count of one cell the node releases (far above any hotline's month).
MAX_TRUE_COUNT: Final = 1_000_000


def sqrt_up(value: int) -> float:
    """The smallest double ≥ √value (exact for perfect squares)."""
    root = math.sqrt(value)
    while Fraction(root) ** 2 < value:
        root = math.nextafter(root, math.inf)
    return root


def float_down(value: Fraction | Decimal) -> float:
    """The largest double ≤ ``value``."""
    exact = Fraction(value)
    result = float(exact)
    while Fraction(result) > exact:
        result = math.nextafter(result, 0.0)
    return result


@dataclass(frozen=True, slots=True)
class TableCalibration:
    """The public noise parameters of one table."""

    table: str
    #: The scale OpenDP's sampler uses: σ (discrete Gaussian) or the Laplace scale.
    scale: float
    l1_sensitivity: int
    l2_sensitivity_squared: int
    #: The table's declared spend (ρ or ε): its budget share.
    spent: Decimal

    @property
    def scale_text(self) -> str:
        """The scale as a plain decimal string: the shortest one that reads back as :attr:`scale`."""
        return decimal_text(Decimal(repr(self.scale)))

    def noise(self) -> TableNoise:
        """The table's entry in the payload's privacy block."""
        return TableNoise(
            table=self.table,
            scale=self.scale_text,
            l1_sensitivity=self.l1_sensitivity,
            l2_sensitivity_squared=self.l2_sensitivity_squared,
            spent=decimal_text(self.spent),
        )


@dataclass(frozen=True, slots=True)
class NoisePlan:
    """How every table of one release is noised, and what the release spends."""

    mechanism: Mechanism
    tables: tuple[TableCalibration, ...]

    @property
    def measure(self) -> str:
        return MEASURES[self.mechanism]

    @property
    def spent(self) -> Decimal:
        """The release's total spend: the exact sum of the tables' declared spends."""
        return sum((t.spent for t in self.tables), Decimal(0))

    def table(self, name: str) -> TableCalibration:
        for calibration in self.tables:
            if calibration.table == name:
                return calibration
        raise KeyError(name)

    def privacy_block(self, unit: str = "person-month") -> PrivacyBlock:
        """The payload's privacy block: mechanism, per-table scale and sensitivity, the spend, and the unit of
        privacy (``person-month``, or ``record-month`` when the export could not link a person's records)."""
        measure = self.measure
        return PrivacyBlock(
            mode="local",
            mechanism=self.mechanism,
            measure="rho" if measure == "rho" else "epsilon",
            unit="record-month" if unit == "record-month" else "person-month",
            spent=decimal_text(self.spent),
            tables=tuple(t.noise() for t in self.tables),
        )


@cache
def _opendp() -> Any:
    """OpenDP, imported on first use (it takes a moment) with its ``contrib`` features enabled."""
    import opendp.prelude as dp

    dp.enable_features("contrib")
    return dp


def _measurement_factory(mechanism: str) -> Callable[[float], Any]:
    dp = _opendp()
    domain = dp.vector_domain(dp.atom_domain(T="i32"))
    if mechanism == "discrete_gaussian":
        metric = dp.l2_distance(T="f64")
        return lambda scale: dp.m.make_gaussian(domain, metric, scale=scale)
    metric = dp.l1_distance(T="i32")
    return lambda scale: dp.m.make_laplace(domain, metric, scale=scale)


def gaussian_loss(scale: float, l2_squared: int) -> float:
    """OpenDP's privacy map (ρ) of a discrete Gaussian of ``scale`` on a table of squared L2 sensitivity
    ``l2_squared``: the measurement :func:`add_noise` draws with, at the sensitivity :func:`calibrate` uses."""
    dp = _opendp()
    try:
        return float(_measurement_factory("discrete_gaussian")(scale).map(sqrt_up(l2_squared)))
    except dp.OpenDPException as e:
        raise NoiseError(f"OpenDP could not state the privacy loss of a scale of {scale!r}: {e}") from e


def _d_in(mechanism: str, *, l1: int, l2_squared: int) -> float | int:
    return sqrt_up(l2_squared) if mechanism == "discrete_gaussian" else l1


def calibrate(taxonomy: Taxonomy, tables: Iterable[str], budget: BudgetConfig) -> NoisePlan:
    """The noise plan of a release of ``tables``: each table's share of the budget turned into an OpenDP scale."""
    names = list(dict.fromkeys(tables))
    shares = budget.shares(names)
    mechanism = budget.mechanism
    make = _measurement_factory(mechanism)
    dp = _opendp()
    calibrations = []
    for name in names:
        table = taxonomy.table(name)
        share = shares[name]
        d_in = _d_in(mechanism, l1=table.l1_bound, l2_squared=table.l2_sensitivity_squared)
        d_out = float_down(share)
        try:
            scale = float(dp.binary_search_param(make, d_in=d_in, d_out=d_out))
            loss = float(make(scale).map(d_in))
        except (dp.OpenDPException, ValueError, TypeError) as e:
            raise NoiseError(
                Text(
                    N_("OpenDP could not calibrate the noise of table %(table)s: %(detail)s"), table=name, detail=str(e)
                )
            ) from e
        if not 0.0 < scale <= MAX_SCALE:
            raise ConfigError(
                Text(
                    N_(
                        "table %(table)s would need a noise scale of %(scale)s for its budget share of %(share)s: "
                        "more than %(max)s, which would make the table useless"
                    ),
                    table=name,
                    scale=f"{scale:.6g}",
                    share=str(share),
                    max=f"{MAX_SCALE:g}",
                ),
                hint=Text(N_("Raise the budget's release amount or this table's weight in config.toml.")),
            )
        calibration = TableCalibration(name, scale, table.l1_bound, table.l2_sensitivity_squared, share)
        implied = implied_spend(
            mechanism, scale=calibration.scale_text, l1=table.l1_bound, l2_squared=table.l2_sensitivity_squared
        )
        exact_share = Fraction(share)
        if not (loss <= d_out and Fraction(loss) <= exact_share and implied <= exact_share * (1 + SPEND_TOLERANCE)):
            raise NoiseError(
                Text(
                    N_("table %(table)s: OpenDP's scale %(scale)s spends %(loss)s, more than its share %(share)s"),
                    table=name,
                    scale=calibration.scale_text,
                    loss=repr(loss),
                    share=str(share),
                )
            )
        calibrations.append(calibration)
    return NoisePlan(mechanism=mechanism, tables=tuple(calibrations))


def add_noise(plan: NoisePlan, counts: Mapping[str, Sequence[int]]) -> dict[str, tuple[int, ...]]:
    """Draw fresh noise for every cell of every table of ``plan``; return the noisy tables.

    ``counts`` are the true counts, one dense vector per table (exactly the plan's tables). They are only read.
    Call this once per (period, revision), through the ledger, and store what it returns.
    """
    if set(counts) != {t.table for t in plan.tables}:
        raise NoiseError(
            Text(
                N_("internal error: the noise plan covers tables %(planned)s, but counts were given for %(counted)s"),
                planned=str(sorted(t.table for t in plan.tables)),
                counted=str(sorted(counts)),
            )
        )
    dp = _opendp()
    make = _measurement_factory(plan.mechanism)
    noisy: dict[str, tuple[int, ...]] = {}
    for calibration in plan.tables:
        vector = counts[calibration.table]
        if not all(isinstance(c, int) and not isinstance(c, bool) and 0 <= c <= MAX_TRUE_COUNT for c in vector):
            raise NoiseError(
                Text(
                    N_("table %(table)s: every count must be a whole number from 0 to %(max)s"),
                    table=calibration.table,
                    max=f"{MAX_TRUE_COUNT:,}",
                )
            )
        try:
            released = make(calibration.scale)(list(vector))
        except dp.OpenDPException as e:
            raise NoiseError(
                Text(
                    N_("OpenDP could not add noise to table %(table)s: %(detail)s"),
                    table=calibration.table,
                    detail=str(e),
                )
            ) from e
        values = tuple(int(v) for v in released)
        if len(values) != len(vector) or any(abs(v) > MAX_ABS_CELL for v in values):
            raise NoiseError(
                Text(N_("OpenDP returned an unexpected vector for table %(table)s"), table=calibration.table)
            )
        noisy[calibration.table] = values
    return noisy
