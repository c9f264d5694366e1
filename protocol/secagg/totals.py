# SPDX-License-Identifier: Apache-2.0
"""The one plausibility check a masked vector allows: the round's table totals against the survivors' own totals.

A masked vector looks uniformly random, so no one can check what a member put in it: any cell within ±O is
accepted. So each member also releases, with its masked vector, a one-cell local total of every table
(``MaskedSubmission.totals``: the sum of its true cells of the table plus one discrete Gaussian of its own, a small
share of the table's budget, :data:`protocol.distributed_noise.TOTALS_SHARE`). For each table the check computes

    D = Σ cells of the round's table − Σ survivors' totals.

The survivors' true counts cancel: if every survivor sent what it declared, ``D`` is noise alone, exactly

    Σ_h (h's share noise over the table's c cells) − Σ_h (h's total noise),

``c`` independent discrete Gaussians of σ_share(h) and one of σ_total(h) for each survivor ``h``. Every term is
symmetric, so the subtraction has the distribution of the sum: the :class:`~protocol.bounds.LinearNoise` of terms
``(1, (discrete_gaussian, σ_share(h), c))`` and ``(1, (discrete_gaussian, σ_total(h), 1))``, a plain sum whose
interval is exact (:mod:`protocol.bounds`). The table is flagged when ``|D|`` exceeds the half-width of that
interval at confidence ``1 − FALSE_ALARM``: an honest round raises it with probability at most
:data:`FALSE_ALARM` per table (10⁻⁶: about one false alarm in 6,000 years of monthly rounds of 13 tables).

What it catches, and what not: a member that adds ``x`` to the cells of a table beyond what its total says shifts
``D`` by ``x``, so a shift of a few tolerances is flagged. A shift within the tolerance is not (for taxonomy v2 at
20 survivors, about 1,300 on ``persons_total``, 1,700 on ``persons_corridor_2way``: docs/secure-aggregation-privacy.md
§8), nor is any change that keeps a table's total (counts moved between cells), nor a member whose total lies as
much as its cells. The check names the table, not the member: the vectors are masked, so no one can say whose
cells are off.

A round one of whose survivors declared no ``noise`` or no ``totals`` (a message from before the fields existed)
is **not checkable**: the noise of ``D`` is unknown (:attr:`TotalsCheck.not_checkable` says why).

>>> noise = {"a": {"t": "2.0"}, "b": {"t": "2.0"}}
>>> honest = check_totals({"t": [7, 3, 12]}, noise, {"a": {"t": (10, "30.0")}, "b": {"t": (14, "30.0")}})
>>> [(c.table, str(c.difference), str(c.tolerance), c.flagged) for c in honest.tables]
[('t', '-2', '209', False)]
>>> inflated = check_totals({"t": [507, 3, 12]}, noise, {"a": {"t": (10, "30.0")}, "b": {"t": (14, "30.0")}})
>>> [(c.table, str(c.difference), c.flagged) for c in inflated.findings]
[('t', '498', True)]

In a scaled round (γ above 1) ``cells`` are the round's sums on the finer lattice, before they are divided and
rounded: ``D = Σ cells / γ − Σ totals`` exactly, and the shares enter its noise weighted by ``1/γ``.

>>> fine = {"a": {"t": "30.0"}, "b": {"t": "30.0"}}
>>> scaled = check_totals({"t": [105, 45, 180]}, fine, {"a": {"t": (10, "30.0")}, "b": {"t": (14, "30.0")}},
...                       scaling=15)
>>> [(c.table, str(c.difference), c.flagged) for c in scaled.tables]
[('t', '-2', False)]
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Final

from protocol.bounds import LinearNoise
from protocol.errors import SecureAggregationError
from protocol.secagg.layout import layout_of_roster
from protocol.secagg.messages import MaskedSubmission, RoundResult, RoundRoster, Survivors, digest
from protocol.taxonomy import Taxonomy

__all__ = [
    "FALSE_ALARM",
    "TableTotalsCheck",
    "TotalsCheck",
    "check_round_totals",
    "check_totals",
    "difference_noise",
    "tolerance",
]

#: The most an honest round is flagged, per table: the tolerance is the half-width of ``D``'s interval at
#: confidence ``1 − FALSE_ALARM``. 10⁻⁶ costs about 4.9 standard deviations of ``D`` (10⁻⁹ would cost 6.1).
FALSE_ALARM: Final = 1e-6
#: The mechanism of every share and total.
_MECHANISM: Final = "discrete_gaussian"


@dataclass(frozen=True, slots=True)
class TableTotalsCheck:
    """One table: ``D`` (the round's cells minus the survivors' totals) and the tolerance it is held to."""

    table: str
    #: ``D``: a whole number, or in a scaled round a multiple of ``1/γ``.
    difference: Fraction
    #: ``D`` is flagged when ``|D|`` is above this (on ``D``'s own lattice: whole, or a multiple of ``1/γ``).
    tolerance: Fraction

    @property
    def flagged(self) -> bool:
        return abs(self.difference) > self.tolerance

    @property
    def difference_text(self) -> str:
        """``D`` for a person to read: whole, or to two decimals (``-2``, ``1318.47``)."""
        return _count_text(self.difference)

    @property
    def tolerance_text(self) -> str:
        """The tolerance for a person to read, as :attr:`difference_text`."""
        return _count_text(self.tolerance)


@dataclass(frozen=True, slots=True)
class TotalsCheck:
    """The round's tables, each checked; or, when a survivor declared no noise or no totals, why none could be."""

    tables: tuple[TableTotalsCheck, ...] = ()
    #: Why the round is not checkable (None when it was checked).
    not_checkable: str | None = None

    @property
    def checkable(self) -> bool:
        return self.not_checkable is None

    @property
    def findings(self) -> tuple[TableTotalsCheck, ...]:
        """The tables flagged."""
        return tuple(check for check in self.tables if check.flagged)


def difference_noise(
    share_scales: Sequence[str], total_scales: Sequence[str], cells: int, *, scaling: int = 1
) -> LinearNoise:
    """The noise of ``D`` for one table of ``cells`` cells: each survivor's share over every cell
    (``share_scales``, weighted by ``1/scaling``) and each survivor's total (``total_scales``), one term each (see
    the module docstring)."""
    if cells < 1:
        raise SecureAggregationError(f"a table has at least one cell, got {cells}")
    return LinearNoise(
        [(Fraction(1, scaling), (_MECHANISM, scale, cells)) for scale in share_scales]
        + [(Fraction(1), (_MECHANISM, scale, 1)) for scale in total_scales]
    )


def tolerance(noise: LinearNoise, false_alarm: float = FALSE_ALARM, *, scaling: int = 1) -> Fraction:
    """The largest ``|D|`` not flagged: ``P(|D| > tolerance) ≤ false_alarm`` when ``D`` is that noise alone
    (the interval's half-width, exact on the lattice and conservative otherwise, rounded down to ``D``'s lattice:
    whole numbers, or multiples of ``1/scaling``)."""
    return Fraction(math.floor(noise.interval(1.0 - false_alarm).halfwidth * scaling), scaling)


def check_totals(
    cells: Mapping[str, Sequence[int]],
    noise: Mapping[str, Mapping[str, str]],
    totals: Mapping[str, Mapping[str, tuple[int, str]]],
    *,
    false_alarm: float = FALSE_ALARM,
    scaling: int = 1,
) -> TotalsCheck:
    """Check each table of ``cells`` (table -> the round's sum of its cells, on the fine lattice of a round scaled
    by ``scaling``) against the survivors' ``totals`` (survivor -> table -> (total, σ)), with the share σ each
    survivor declared (``noise``: survivor -> table -> σ). Every survivor of ``noise`` must have totals and both
    must name every table, else the round is not checkable."""
    missing = sorted(set(noise) ^ set(totals))
    if missing:
        return TotalsCheck(not_checkable=f"survivor(s) {', '.join(missing)} declared noise or totals, not both")
    for member in sorted(noise):
        for what, declared in (("noise", noise[member]), ("totals", totals[member])):
            if set(declared) != set(cells):
                return TotalsCheck(
                    not_checkable=f"survivor {member} declared {what} for {sorted(declared)}, not the round's tables"
                )
    checks = []
    for table, values in cells.items():
        difference = Fraction(sum(values), scaling) - sum(totals[member][table][0] for member in totals)
        spread = difference_noise(
            [noise[member][table] for member in noise],
            [totals[member][table][1] for member in totals],
            len(values),
            scaling=scaling,
        )
        checks.append(TableTotalsCheck(table, difference, tolerance(spread, false_alarm, scaling=scaling)))
    return TotalsCheck(tuple(checks))


def _count_text(value: Fraction) -> str:
    return str(value.numerator) if value.denominator == 1 else f"{float(value):.2f}"


def check_round_totals(
    *,
    roster: RoundRoster,
    survivors: Survivors,
    masked: Mapping[str, MaskedSubmission],
    result: RoundResult,
    taxonomy: Taxonomy,
    false_alarm: float = FALSE_ALARM,
) -> TotalsCheck:
    """:func:`check_totals` of a checked round (the caller has checked the transcript: the sum is the survivors'),
    from its messages: the result split into the roster's tables, each survivor's declared noise and totals.
    Raises :class:`~protocol.errors.SecureAggregationError` when the messages do not belong together."""
    if result.survivors != digest(survivors):
        raise SecureAggregationError("the result names another survivor set than the one given")
    noise: dict[str, dict[str, str]] = {}
    totals: dict[str, dict[str, tuple[int, str]]] = {}
    for entry in survivors.members:
        message = masked.get(entry.member)
        if message is None or digest(message) != entry.masked:
            raise SecureAggregationError(f"the masked vector of survivor {entry.member} is not the one logged")
        if message.noise is None or message.totals is None:
            absent = " and ".join(n for n in ("noise", "totals") if getattr(message, n) is None)
            return TotalsCheck(not_checkable=f"survivor {entry.member} declared no {absent} with its masked vector")
        noise[entry.member] = {share.table: share.scale for share in message.noise}
        totals[entry.member] = {total.table: (total.value, total.scale) for total in message.totals}
    cells = layout_of_roster(roster, taxonomy).split(result.sum)
    return check_totals(cells, noise, totals, false_alarm=false_alarm, scaling=roster.factor)
