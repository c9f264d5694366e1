# SPDX-License-Identifier: Apache-2.0
"""Plausibility at the door: the rules a release must meet beyond its signature and its taxonomy.

A stolen hotline key signs anything of the right shape. These rules bound what it can do to the statistics, and
the hub (at ingest) and the auditor (replaying the log) apply the same ones, from the same logged facts: the
hotline's policy (:class:`~protocol.messages.HotlinePolicyEntry`, the latest logged before the submission, else
:meth:`Policy.default`), the operator's backfill approvals (:class:`~protocol.messages.BackfillApprovedEntry`),
and what the hotline had accepted before (:class:`Standing`). :func:`check_plausible` raises
:class:`Implausible` naming the first rule broken, its limit and the value found:

``measure``       the release is accounted in a measure (ρ or ε) the policy caps (each measure's spends are added up
                  against its own caps)
``first_period``  the period is not before the policy's first period, unless a logged backfill approval covers it
``revision``      the revision is the next one: 1, then the highest accepted + 1
``noise_floor``   no table's noise is so small that it alone would spend more than the period cap: for the discrete
                  Gaussian σ ≥ √(L2² / 2·cap), for discrete Laplace the scale ≥ L1 / cap (exact arithmetic)
``period_cap``    the release's declared spend is within the period cap
``year_cap``      the release's spend added to the hotline's accepted spends of the periods of that calendar year
                  (every accepted revision spent budget) stays within the year cap
``cell_bound``    each cell lies in [−t₁, V·c + t₁]; ``table_bound``: each table's sum lies in [−tₙ, V·L1 + tₙ]

For the last two, ``V`` is the policy's maximum monthly volume (persons, or records for a ``record-month``
release), ``c`` the table's per-cell contribution bound and ``L1`` its L1 bound: a true count lies in [0, V·c], a
table's true total in [0, V·L1]. ``tₙ`` bounds the noise summed over ``n`` cells so that an honest release is
refused with probability below 10⁻⁹ per cell or per table (``L = ln(2·10⁹)``):

* discrete Gaussian of scale σ: it is σ-subgaussian (Canonne, Kamath, Steinke 2020, Corollary 9), so
  P(|Σ| ≥ t) ≤ 2·exp(−t² / 2nσ²), and ``tₙ = σ·√(2nL)``;
* discrete Laplace of scale b (p = e^(−1/b)): log E[e^(λX)] = 2 log(1−p) − log(1−pe^λ) − log(1−pe^(−λ)) is even
  with second derivative ≤ 2q/(1−q)² ≤ 8b² for |λ| ≤ 1/2b (q = e^(−1/2b), and sinh x ≥ x), so log E[e^(λX)] ≤ 4b²λ²
  there. Chernoff over n cells gives P(|Σ| ≥ t) ≤ 2·exp(−t²/16nb²) for t ≤ 4nb and 2·exp(n − t/2b) beyond, so
  ``tₙ = 4b·√(nL)`` when n ≥ L, else ``2b·(n + L)``.

The tails are computed with :mod:`decimal` at a fixed precision (``ln`` and ``sqrt`` are correctly rounded) and
rounded up to whole counts, so hub and auditor get the same integers on every platform.

>>> from protocol.taxonomy import builtin_taxonomy
>>> corridor = builtin_taxonomy(1).table("persons_corridor")
>>> noise_tail("discrete_gaussian", "4", 1), noise_tail("discrete_gaussian", "4", 19220)
(27, 3630)
>>> cell_limits(corridor, "discrete_gaussian", "4", volume=500)
(-27, 527)
>>> Policy.default(enrolled="2026-11").caps["rho"]
(Fraction(1, 5), Fraction(3, 2))
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Context, Decimal
from fractions import Fraction
from types import MappingProxyType
from typing import Final

from protocol.errors import ProtocolError
from protocol.messages import HotlinePolicyEntry, SubmissionPayload
from protocol.period import month_number, month_text
from protocol.taxonomy import Table, Taxonomy
from protocol.validation import implied_spend

__all__ = [
    "DEFAULT_CAPS",
    "DEFAULT_HISTORY_MONTHS",
    "DEFAULT_MAX_MONTHLY_VOLUME",
    "FALSE_REFUSAL",
    "RULES",
    "Implausible",
    "Policy",
    "Standing",
    "amount_text",
    "cell_limits",
    "check_plausible",
    "months_before",
    "noise_floor",
    "noise_tail",
    "table_limits",
]

#: The node's defaults (``node.budget``), per measure: (period cap, year cap).
DEFAULT_CAPS: Final[Mapping[str, tuple[Fraction, Fraction]]] = MappingProxyType(
    {"rho": (Fraction("0.2"), Fraction("1.5")), "epsilon": (Fraction(2), Fraction(15))}
)
#: A hotline's first period, unless its policy says: this many months before the month it was first enrolled in.
DEFAULT_HISTORY_MONTHS: Final = 24
#: Persons a month a hotline is assumed to be able to see when its policy does not say (generous on purpose).
DEFAULT_MAX_MONTHLY_VOLUME: Final = 10_000
#: Probability that honest noise alone puts one cell, or one table's sum, outside its limits.
FALSE_REFUSAL: Final = Fraction(1, 10**9)
#: The rules, in the order they are checked.
RULES: Final = (
    "measure",
    "first_period",
    "revision",
    "noise_floor",
    "period_cap",
    "year_cap",
    "cell_bound",
    "table_bound",
)
_MEASURES: Final = {"discrete_gaussian": "rho", "discrete_laplace": "epsilon"}
_CONTEXT: Final = Context(prec=50)
_LOG_TERM: Final = _CONTEXT.ln(Decimal(2 * FALSE_REFUSAL.denominator) / FALSE_REFUSAL.numerator)


class Implausible(ProtocolError):
    """A release breaks a plausibility rule: ``rule`` (one of :data:`RULES`), the ``limit`` and the ``value`` found."""

    def __init__(self, message: str, *, rule: str, limit: str, value: str) -> None:
        super().__init__(message)
        self.rule = rule
        self.limit = limit
        self.value = value


@dataclass(frozen=True, slots=True)
class Policy:
    """What a hotline's releases may spend and contain."""

    #: measure -> (period cap, year cap); a measure not named is refused.
    caps: Mapping[str, tuple[Fraction, Fraction]] = field(hash=False)
    max_monthly_volume: int
    #: The first period the hotline reports (earlier ones need a logged backfill approval).
    first_period: str

    @classmethod
    def default(cls, *, enrolled: str) -> Policy:
        """What applies to a hotline no policy entry was logged for: the node's default caps in both measures,
        :data:`DEFAULT_MAX_MONTHLY_VOLUME`, and a first period :data:`DEFAULT_HISTORY_MONTHS` before ``enrolled``,
        the month (``YYYY-MM``) of the hotline's first ``key_enrolled`` entry."""
        return cls(DEFAULT_CAPS, DEFAULT_MAX_MONTHLY_VOLUME, months_before(enrolled, DEFAULT_HISTORY_MONTHS))

    @classmethod
    def from_entry(cls, entry: HotlinePolicyEntry) -> Policy:
        caps: dict[str, tuple[Fraction, Fraction]] = {
            cap.measure: (Fraction(Decimal(cap.period)), Fraction(Decimal(cap.year))) for cap in entry.caps
        }
        return cls(MappingProxyType(caps), entry.max_monthly_volume, entry.first_period)


@dataclass(frozen=True, slots=True)
class Standing:
    """What the hotline had accepted before this release (the hub reads it from its tables, the auditor from the
    entries it accepted)."""

    #: Declared spends of every accepted release of the periods of this calendar year, by measure.
    year_spent: Mapping[str, Fraction] = field(default_factory=dict, hash=False)
    #: The highest accepted revision of this period, if any.
    latest_revision: int | None = None
    #: Whether a logged backfill approval covers this period.
    backfill_approved: bool = False


def months_before(period: str, months: int) -> str:
    """The period ``months`` before ``period`` (``YYYY-MM``), at the earliest ``0001-01``.

    >>> months_before("2026-11", 24), months_before("2026-01", 1)
    ('2024-11', '2025-12')
    """
    return month_text(max(month_number(period) - months, 12))


def noise_tail(mechanism: str, scale: str, cells: int) -> int:
    """``tₙ``: a bound on the absolute sum of ``cells`` independent noise terms, exceeded with probability below
    :data:`FALSE_REFUSAL` (the derivation is in the module docstring)."""
    n = Decimal(cells)
    s = Decimal(scale)
    if mechanism == "discrete_gaussian":
        tail = s * _CONTEXT.sqrt(2 * n * _LOG_TERM)
    elif mechanism == "discrete_laplace":
        tail = 4 * s * _CONTEXT.sqrt(n * _LOG_TERM) if n >= _LOG_TERM else 2 * s * (n + _LOG_TERM)
    else:
        raise ValueError(f"unknown noise mechanism {mechanism!r}")
    return math.ceil(_CONTEXT.plus(tail))


def cell_limits(table: Table, mechanism: str, scale: str, *, volume: int) -> tuple[int, int]:
    """The smallest and largest plausible value of one released cell of ``table``."""
    tail = noise_tail(mechanism, scale, 1)
    return -tail, volume * table.per_cell_bound + tail


def table_limits(table: Table, mechanism: str, scale: str, *, volume: int) -> tuple[int, int]:
    """The smallest and largest plausible sum of all released cells of ``table``."""
    tail = noise_tail(mechanism, scale, table.cell_count)
    return -tail, volume * table.l1_bound + tail


def noise_floor(mechanism: str, *, l1: int, l2_squared: int, cap: Fraction) -> str:
    """The smallest scale whose table alone spends no more than ``cap`` (for messages; the rule compares spends)."""
    if mechanism == "discrete_gaussian":
        return _show(_CONTEXT.sqrt(Decimal(l2_squared) / (2 * _decimal(cap))))
    return _show(Decimal(l1) / _decimal(cap))


def check_plausible(payload: SubmissionPayload, taxonomy: Taxonomy, policy: Policy, standing: Standing) -> None:
    """Raise :class:`Implausible` for the first of :data:`RULES` that ``payload`` breaks.

    ``payload`` has passed :func:`protocol.validation.check_payload` against ``taxonomy`` (its sensitivities are
    the taxonomy's, its declared spends at least what its scales imply, its total their sum).
    """
    who = f"{payload.hotline_id} {payload.period} revision {payload.revision}"
    mechanism = payload.privacy.mechanism
    measure = _MEASURES[mechanism]
    symbol = "ρ" if measure == "rho" else "ε"
    if measure not in policy.caps:
        allowed = ", ".join(sorted(policy.caps))
        raise Implausible(
            f"{who}: the release is accounted in {measure}, which the hotline's policy does not cap (it caps "
            f"{allowed}); the operator must log a policy with a {measure} cap first",
            rule="measure",
            limit=allowed,
            value=measure,
        )
    if payload.period < policy.first_period and not standing.backfill_approved:
        raise Implausible(
            f"{who}: the period is before {policy.first_period}, the first period the hotline reports; the "
            "operator must approve a backfill of it (tipshare-hub hotline backfill) before it is accepted",
            rule="first_period",
            limit=policy.first_period,
            value=payload.period,
        )
    expected = 1 if standing.latest_revision is None else standing.latest_revision + 1
    if payload.revision != expected:
        raise Implausible(
            f"{who}: the next revision of {payload.period} is {expected}"
            + ("" if standing.latest_revision is None else f" (revision {standing.latest_revision} is accepted)"),
            rule="revision",
            limit=str(expected),
            value=str(payload.revision),
        )
    period_cap, year_cap = policy.caps[measure]
    for noise in payload.privacy.tables:
        spent = implied_spend(
            mechanism, scale=noise.scale, l1=noise.l1_sensitivity, l2_squared=noise.l2_sensitivity_squared
        )
        if spent > period_cap:
            floor = noise_floor(
                mechanism, l1=noise.l1_sensitivity, l2_squared=noise.l2_sensitivity_squared, cap=period_cap
            )
            raise Implausible(
                f"{who}: table {noise.table} has noise of scale {noise.scale}, below the floor of {floor} that the "
                f"period cap {symbol} = {amount_text(period_cap)} allows for its sensitivity",
                rule="noise_floor",
                limit=floor,
                value=noise.scale,
            )
    declared = Fraction(Decimal(payload.privacy.spent))
    if declared > period_cap:
        raise Implausible(
            f"{who}: the release declares a spend of {symbol} = {payload.privacy.spent}, over the hotline's period "
            f"cap of {amount_text(period_cap)}",
            rule="period_cap",
            limit=amount_text(period_cap),
            value=amount_text(declared),
        )
    year_spent = standing.year_spent.get(measure, Fraction(0))
    if year_spent + declared > year_cap:
        raise Implausible(
            f"{who}: spending {symbol} = {payload.privacy.spent} would bring {payload.period[:4]} to "
            f"{amount_text(year_spent + declared)}, over the hotline's year cap of {amount_text(year_cap)} "
            f"(already accepted: {amount_text(year_spent)})",
            rule="year_cap",
            limit=amount_text(year_cap),
            value=amount_text(year_spent + declared),
        )
    _check_cells(payload, taxonomy, policy.max_monthly_volume, who)


def _check_cells(payload: SubmissionPayload, taxonomy: Taxonomy, volume: int, who: str) -> None:
    mechanism = payload.privacy.mechanism
    scales = {noise.table: noise.scale for noise in payload.privacy.tables}
    for release in payload.tables:
        table = taxonomy.table(release.name)
        low, high = cell_limits(table, mechanism, scales[release.name], volume=volume)
        smallest, largest = min(release.cells), max(release.cells)
        for value in (smallest, largest):
            if not low <= value <= high:
                raise Implausible(
                    f"{who}: table {release.name} has a cell of {value}, outside [{low}, {high}], what a hotline "
                    f"of at most {volume} persons a month can release with noise of scale {scales[release.name]}; "
                    "if the hotline sees more, the operator must log a policy with a larger maximum monthly volume",
                    rule="cell_bound",
                    limit=f"[{low}, {high}]",
                    value=str(value),
                )
        low, high = table_limits(table, mechanism, scales[release.name], volume=volume)
        total = sum(release.cells)
        if not low <= total <= high:
            raise Implausible(
                f"{who}: table {release.name} sums to {total}, outside [{low}, {high}], what a hotline of at most "
                f"{volume} persons a month can release with noise of scale {scales[release.name]}; if the hotline "
                "sees more, the operator must log a policy with a larger maximum monthly volume",
                rule="table_bound",
                limit=f"[{low}, {high}]",
                value=str(total),
            )


def _decimal(value: Fraction) -> Decimal:
    return _CONTEXT.divide(Decimal(value.numerator), Decimal(value.denominator))


def _show(value: Decimal) -> str:
    return format(_CONTEXT.create_decimal(format(value, ".6g")).normalize(), "f")


def amount_text(value: Fraction) -> str:
    """A spend or cap as text: the exact decimal when there is one (``"0.2"``), else 6 significant digits."""
    exact = Decimal(value.numerator) / Decimal(value.denominator)
    if Fraction(exact) == value:
        text = format(exact, "f")
        return text.rstrip("0").rstrip(".") if "." in text else text
    return format(_decimal(value), ".6g")
