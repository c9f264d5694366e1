# SPDX-License-Identifier: Apache-2.0
"""A round's sum as the statistics see it: one release of the roster's tables by the survivors together.

The hub answers from it and the auditor recomputes the same answers from it, both from the log alone: the
``secagg_result`` entry's sum, split into the roster's tables (:mod:`protocol.secagg.layout`), and the noise each
survivor declared in its masked vector (``MaskedSubmission.noise``). Each cell of a table then carries every
survivor's share of that table, ``(discrete_gaussian, σ_h, 1)`` for each survivor ``h``: pooled, the same
``(mechanism, scale, count)`` terms as hotlines' local releases, so a region's sum and its exact interval are
found as for any other month.

In a *scaled* round (the roster's ``scaling`` γ above 1) the members sent ``γ · counts`` plus shares on that finer
lattice: each published cell is the round's sum divided by γ and rounded, ``⌊(S + (γ−1)/2) / γ⌋`` (exact, as γ is
odd: :mod:`protocol.rounded_noise`), and its noise is **one** term for the whole round, ``round(Z / γ)`` of the
survivors' shares ``Z``: ``(rounded_gaussian_sum, "γ:σ₁xm₁,…", 1)``. It is not a sum of per-survivor terms, so
:meth:`RoundRelease.member_terms` gives it to the first survivor and none to the others.

What a round's sum is *not*: it belongs to no single hotline and, unless every survivor is of one country, to no
country. A hotline's or a country's view of the month is made from local releases only (a country group that ran
its own round is the exception: :attr:`RoundRelease.country`).

>>> pooled_terms({"a": {"t": "1.5"}, "b": {"t": "1.5"}, "c": {"t": "2.0"}}, "t")
(('discrete_gaussian', '1.5', 2), ('discrete_gaussian', '2.0', 1))
>>> pooled_terms({"a": {"t": "7.5"}, "b": {"t": "7.5"}, "c": {"t": "9.0"}}, "t", scaling=15)
(('rounded_gaussian_sum', '15:7.5x2,9.0x1', 1),)
>>> [rounded_cell(s, 15) for s in (-8, -7, 7, 8, 22, 23)]
[-1, 0, 0, 1, 1, 2]
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field

from protocol.errors import SecureAggregationError
from protocol.messages import TaxonomyRef
from protocol.rounded_noise import MECHANISM as ROUNDED_MECHANISM
from protocol.rounded_noise import RoundedSum
from protocol.secagg.layout import layout_of_roster
from protocol.secagg.messages import MaskedSubmission, RoundResult, RoundRoster, Survivors, digest
from protocol.taxonomy import Taxonomy

__all__ = ["MECHANISM", "NoNoiseDeclared", "RoundRelease", "pooled_terms", "round_release", "rounded_cell"]

#: The mechanism of every noise share.
MECHANISM = "discrete_gaussian"


class NoNoiseDeclared(SecureAggregationError):
    """A survivor's masked vector declares no noise (a message from before ``noise`` existed): the round's sum is
    published, but no answer is drawn from it."""


@dataclass(frozen=True, slots=True)
class RoundRelease:
    """A successful round's sum, split by table, with each survivor's declared noise share."""

    group: str
    period: str
    round: int
    taxonomy: TaxonomyRef
    #: Survivors in the survivor set's order.
    survivors: tuple[str, ...]
    #: table -> the round's sum of its cells (true counts plus every survivor's share), dense.
    cells: Mapping[str, tuple[int, ...]] = field(hash=False)
    #: survivor -> table -> σ of the share it added.
    noise: Mapping[str, Mapping[str, str]] = field(hash=False)
    #: The roster's scaling factor γ (1: an unscaled round). :attr:`cells` are already divided and rounded.
    scaling: int = 1

    @property
    def tables(self) -> tuple[str, ...]:
        return tuple(self.cells)

    def terms(self, table: str) -> tuple[tuple[str, str, int], ...]:
        """One cell's noise: the survivors' shares of ``table``, pooled by σ (a scaled round: its one term)."""
        return pooled_terms(self.noise, table, scaling=self.scaling)

    def member_terms(self, table: str) -> dict[str, tuple[str, str] | None]:
        """Each survivor's part of one cell's noise as ``(mechanism, scale)``: its own share in an unscaled round; in
        a scaled round the round's one term for the first survivor and ``None`` (no term of its own: its share is
        in that one) for the others. Summed over the survivors, the parts are :meth:`terms`."""
        if self.scaling == 1:
            return {member: (MECHANISM, shares[table]) for member, shares in self.noise.items()}
        ((mechanism, scale, _),) = self.terms(table)
        first = self.survivors[0]
        return {member: (mechanism, scale) if member == first else None for member in self.survivors}

    def country(self, countries: Mapping[str, str]) -> str | None:
        """The one country every survivor is of (``countries``: hotline -> country), else None."""
        found = {countries.get(member) for member in self.survivors}
        return found.pop() if len(found) == 1 and None not in found else None


def pooled_terms(
    noise: Mapping[str, Mapping[str, str]], table: str, *, scaling: int = 1
) -> tuple[tuple[str, str, int], ...]:
    """``(mechanism, scale, members)`` terms of one cell of ``table`` summed over every member of ``noise``; with
    ``scaling`` γ above 1, the one term ``round(Σ shares / γ)`` (:class:`~protocol.rounded_noise.RoundedSum`)."""
    pooled = Counter(shares[table] for shares in noise.values() if table in shares)
    if scaling == 1:
        return tuple((MECHANISM, scale, count) for scale, count in sorted(pooled.items()))
    return ((ROUNDED_MECHANISM, RoundedSum.of(scaling, sorted(pooled.items())).text, 1),)


def rounded_cell(total: int, scaling: int) -> int:
    """A scaled round's published cell: its sum ``total`` divided by ``scaling`` (odd) and rounded to the nearest
    whole number, ``⌊(total + (γ−1)/2) / γ⌋`` (no ties: γ is odd)."""
    return (total + (scaling - 1) // 2) // scaling


def round_release(
    *,
    roster: RoundRoster,
    survivors: Survivors,
    masked: Mapping[str, MaskedSubmission],
    result: RoundResult,
    taxonomy: Taxonomy,
) -> RoundRelease:
    """The release a checked round's result stands for (the caller has checked the transcript: the sum is the
    survivors'). Raises :class:`NoNoiseDeclared` when a survivor declared no noise, and
    :class:`~protocol.errors.SecureAggregationError` when the messages do not belong together."""
    if result.survivors != digest(survivors):
        raise SecureAggregationError("the result names another survivor set than the one given")
    noise: dict[str, dict[str, str]] = {}
    for entry in survivors.members:
        message = masked.get(entry.member)
        if message is None or digest(message) != entry.masked:
            raise SecureAggregationError(f"the masked vector of survivor {entry.member} is not the one logged")
        if message.noise is None:
            raise NoNoiseDeclared(
                f"survivor {entry.member} declared no noise with its masked vector: the round's sum is published "
                "but no answer is drawn from it"
            )
        declared = {share.table: share.scale for share in message.noise}
        if set(declared) != set(roster.tables):
            raise SecureAggregationError(
                f"survivor {entry.member} declared noise for {sorted(declared)}, not the roster's tables"
            )
        noise[entry.member] = declared
    cells = layout_of_roster(roster, taxonomy).split(result.sum)
    if roster.factor != 1:
        cells = {table: tuple(rounded_cell(s, roster.factor) for s in values) for table, values in cells.items()}
    return RoundRelease(
        group=roster.group,
        period=roster.period,
        round=roster.round,
        taxonomy=roster.taxonomy,
        survivors=survivors.member_ids,
        cells=cells,
        noise=noise,
        scaling=roster.factor,
    )
