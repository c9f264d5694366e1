# SPDX-License-Identifier: Apache-2.0
"""What the accepted submissions below one tree size release: read once, shared by every recomputation.

Both the per-table statistics (:mod:`auditor.stats`) and the least-squares estimates (:mod:`auditor.estimates`)
are sums over the *current* submissions (per hotline and month, the accepted one with the highest revision).
:class:`Releases` reads each current submission's cells once and keeps what both need:

``reporters[(table, period)]``
    who released the table that month: hotline, its country, mechanism and the table's noise scale;
``sums[(table, period, country)]``
    the dense cell vector summed over the country's hotlines (exact integers, never clipped);
``taxonomy_of[(hotline, period)]``
    the taxonomy (id, content hash) the current submission follows.

Tables are known by name across taxonomies (:class:`TableRegistry`): a hotline following version 1 and one following
version 2 both add to ``persons_corridor``. That is only right if a name means the same cells in every taxonomy of
the log (:func:`protocol.taxonomy.same_cells`), which the hub guarantees when it registers a taxonomy; a release of a
table whose cells are not the registry's is left out, and the registry names every conflict.

>>> from protocol.taxonomy import builtin_taxonomy
>>> registry = TableRegistry([builtin_taxonomy(2), builtin_taxonomy(1)])
>>> registry.conflicts, "persons_demography" in registry.tables, registry.tables["contacts"].cell_count
((), True, 72)
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from types import MappingProxyType
from typing import Final, TypeVar

from auditor.entries import AcceptedSubmission
from auditor.i18n import T_
from auditor.keys import HotlineWindows
from protocol.secagg.release import RoundRelease
from protocol.taxonomy import Table, Taxonomy, same_cells

__all__ = [
    "ROUND_WIDE",
    "CountedRound",
    "LoadedRelease",
    "ReleaseLoader",
    "Releases",
    "Reporter",
    "TableRegistry",
    "group_cells",
]

Key = TypeVar("Key", bound=tuple[str, ...])

#: Where a round's sum is counted when its survivors are of several countries: the region only, no country.
ROUND_WIDE: Final = "*"


@dataclass(frozen=True, slots=True)
class LoadedRelease:
    """One accepted submission's released tables (name -> dense cells) and the taxonomy it follows."""

    taxonomy: Taxonomy
    cells: Mapping[str, Sequence[int]] = field(hash=False)


@dataclass(frozen=True, slots=True)
class CountedRound:
    """A round whose result the log re-adds exactly and whose survivors declared their noise: its sum counts as
    their release. ``countries``: each survivor's country when the result was logged."""

    release: RoundRelease
    taxonomy: Taxonomy
    countries: Mapping[str, str] = field(hash=False)
    #: Log index of the result entry (it counts for tree sizes above it).
    index: int = 0
    #: Each survivor's masked vector's ``received_at``: when it reported the month (the completeness grid).
    received: Mapping[str, datetime] = field(default_factory=dict, hash=False)


#: Entry index -> that submission's :class:`LoadedRelease` (verified before; read back from the state DIR).
ReleaseLoader = Callable[[int], LoadedRelease]


@dataclass(frozen=True, slots=True)
class Reporter:
    """A hotline that released a table in a month, and the noise it added to each cell."""

    hotline_id: str
    country: str
    #: The noise it added, as ``(mechanism, scale)``; ``None`` for a survivor of a scaled round other than the
    #: first, whose share is in the round's one term (:meth:`~protocol.secagg.release.RoundRelease.member_terms`).
    term: tuple[str, str] | None
    #: The taxonomy its release follows (the estimates observe each table per taxonomy).
    taxonomy: str = ""


class TableRegistry:
    """Every table and dimension of some taxonomies, by name; the first taxonomy added that has a name defines it.

    ``conflicts`` names each table another taxonomy defines with other cells, and each dimension another taxonomy
    defines with other codes (a hub never registers such a pair). ``consistent`` holds the tables no conflict
    touches: the ones a least-squares answer may combine. Taxonomies are added as releases name them
    (:meth:`add`); adding one twice changes nothing.
    """

    def __init__(self, taxonomies: Iterable[Taxonomy] = ()) -> None:
        self._tables: dict[str, Table] = {}
        self._defined_in: dict[str, str] = {}
        self._dimensions: dict[str, tuple[tuple[str, ...], str]] = {}
        self._conflicts: dict[tuple[str, str, str, str], str] = {}
        self._bad_tables: set[str] = set()
        self._bad_dimensions: set[str] = set()
        self._added: set[str] = set()
        self._same: dict[tuple[str, str], bool] = {}
        for taxonomy in taxonomies:
            self.add(taxonomy)

    @property
    def tables(self) -> Mapping[str, Table]:
        return MappingProxyType(self._tables)

    @property
    def conflicts(self) -> tuple[str, ...]:
        return tuple(self._conflicts.values())

    @property
    def consistent(self) -> dict[str, Table]:
        return {
            name: table
            for name, table in self._tables.items()
            if name not in self._bad_tables and not any(d in self._bad_dimensions for d in table.dimension_names)
        }

    def add(self, taxonomy: Taxonomy) -> None:
        if taxonomy.content_hash in self._added:
            return
        self._added.add(taxonomy.content_hash)
        for name, dimension in sorted(taxonomy.dimensions.items()):
            codes, first = self._dimensions.setdefault(name, (dimension.code_names, taxonomy.id))
            if codes != dimension.code_names:
                self._bad_dimensions.add(name)
                self._conflicts.setdefault(
                    ("dimension", name, first, taxonomy.id),
                    T_(
                        "taxonomies {first} and {second} define dimension {name} with other codes",
                        first=first,
                        second=taxonomy.id,
                        name=repr(name),
                    ),
                )
        for name, table in sorted(taxonomy.tables.items()):
            known = self._tables.setdefault(name, table)
            first = self._defined_in.setdefault(name, taxonomy.id)
            if not same_cells(known, table):
                self._bad_tables.add(name)
                self._conflicts.setdefault(
                    ("table", name, first, taxonomy.id),
                    T_(
                        "taxonomies {first} and {second} define table {name} with other cells ({cells} vs "
                        "{other_cells}, or other codes, unit or bounds)",
                        first=first,
                        second=taxonomy.id,
                        name=repr(name),
                        cells=", ".join(known.dimension_names) or T_("one cell"),
                        other_cells=", ".join(table.dimension_names) or T_("one cell"),
                    ),
                )

    def accepts(self, taxonomy: Taxonomy, name: str) -> bool:
        """Whether ``taxonomy``'s table ``name`` has the registry's cells (so its releases add up with the others);
        ``taxonomy`` is added first if it is new."""
        self.add(taxonomy)
        slot = (taxonomy.content_hash, name)
        found = self._same.get(slot)
        if found is None:
            own, known = taxonomy.tables.get(name), self._tables.get(name)
            found = self._same[slot] = own is not None and known is not None and same_cells(own, known)
        return found


class Releases:
    """The current submissions among ``submissions`` (accepted, below one tree size), read once."""

    def __init__(
        self,
        *,
        submissions: Iterable[AcceptedSubmission],
        hotlines: Sequence[HotlineWindows],
        registry: TableRegistry,
        load: ReleaseLoader,
        rounds: Iterable[CountedRound] = (),
    ) -> None:
        self.hotlines = list(hotlines)
        self.registry = registry
        country = {h.id: h.country for h in self.hotlines}
        current: dict[tuple[str, str], AcceptedSubmission] = {}
        for submission in submissions:
            slot = (submission.hotline_id, submission.period)
            if slot not in current or current[slot].revision < submission.revision:
                current[slot] = submission
        self.current: tuple[AcceptedSubmission, ...] = tuple(sorted(current.values(), key=lambda s: s.index))
        self.reporters: dict[tuple[str, str], list[Reporter]] = {}
        self.sums: dict[tuple[str, str, str], list[int]] = {}
        #: (table, taxonomy id, month, country) -> cells summed over that taxonomy's hotlines of the country
        self.observed: dict[tuple[str, str, str, str], list[int]] = {}
        self.taxonomy_of: dict[tuple[str, str], tuple[str, str]] = {}
        self._enrolled: dict[str, frozenset[str]] = {}
        self._by_country: dict[tuple[str, str, str], list[Reporter]] = {}
        for submission in self.current:
            loaded = load(submission.index)
            self.taxonomy_of[(submission.hotline_id, submission.period)] = (
                loaded.taxonomy.id,
                loaded.taxonomy.content_hash,
            )
            where = country[submission.hotline_id]
            for name, values in loaded.cells.items():
                if not registry.accepts(loaded.taxonomy, name):
                    continue  # its cells are not the other taxonomies' (a conflict the registry names)
                table = registry.tables[name]
                if len(values) != table.cell_count or name not in submission.scales:
                    continue  # not a table the hub can sum with the others either
                term = (submission.mechanism, submission.scales[name])
                reporter = Reporter(submission.hotline_id, where, term, loaded.taxonomy.id)
                self._add(name, submission.period, where, loaded.taxonomy.id, [reporter], values)

        self._round_periods: set[str] = set()
        for counted in rounds:
            self._add_round(counted)

    def _add_round(self, counted: CountedRound) -> None:
        """A round's sum, as its survivors' release: counted at the region, and at a country only when every
        survivor is of it (else under :data:`ROUND_WIDE`, which no country scope holds); never as a hotline's."""
        release, taxonomy = counted.release, counted.taxonomy
        where = release.country(counted.countries) or ROUND_WIDE
        self._round_periods.add(release.period)
        for member in release.survivors:
            self.taxonomy_of[(member, release.period)] = (taxonomy.id, taxonomy.content_hash)
        for name, values in release.cells.items():
            if not self.registry.accepts(taxonomy, name) or len(values) != self.registry.tables[name].cell_count:
                continue  # as for a submission: not a table the hub can sum with the others
            reporters = [
                Reporter(member, where, term, taxonomy.id) for member, term in release.member_terms(name).items()
            ]
            self._add(name, release.period, where, taxonomy.id, reporters, values)

    def _add(
        self,
        name: str,
        period: str,
        where: str,
        taxonomy_id: str,
        reporters: Sequence[Reporter],
        values: Sequence[int],
    ) -> None:
        """One release of table ``name`` (a submission's, or a round's by its survivors): who released it, and its
        cells added to the sums of ``where`` and of its taxonomy there."""
        self.reporters.setdefault((name, period), []).extend(reporters)
        self._by_country.setdefault((name, period, where), []).extend(reporters)
        _accumulate(self.sums, (name, period, where), values)
        _accumulate(self.observed, (name, taxonomy_id, period, where), values)

    @cached_property
    def periods(self) -> list[str]:
        """Every period some current submission or counted round reports, in order."""
        return sorted({s.period for s in self.current} | self._round_periods)

    @cached_property
    def countries(self) -> list[str]:
        """Every country a hotline was enrolled in."""
        return sorted({h.country for h in self.hotlines})

    @cached_property
    def units(self) -> list[str]:
        """Every unit some current submission released a table of."""
        return sorted({self.registry.tables[name].unit for name, _ in self.reporters})

    def hotlines_in(self, countries: frozenset[str] | None) -> frozenset[str] | None:
        """Ids of the hotlines of ``countries`` (``None``: all, unrestricted)."""
        return None if countries is None else frozenset(h.id for h in self.hotlines if h.country in countries)

    def enrolled_during(self, month: str, in_scope: frozenset[str] | None) -> frozenset[str]:
        """Ids of the hotlines (among ``in_scope``, ``None``: all) expected to report ``month``
        (:meth:`~auditor.keys.HotlineWindows.expected_in`: from their logged ``reporting_from`` on, else holding a
        valid key during it); every hotline is looked at once per month, however many answers ask."""
        enrolled = self._enrolled.get(month)
        if enrolled is None:
            enrolled = self._enrolled[month] = frozenset(h.id for h in self.hotlines if h.expected_in(month))
        return enrolled if in_scope is None else enrolled & in_scope

    def in_scope(self, table: str, month: str, countries: frozenset[str] | None) -> list[Reporter]:
        """Who released ``table`` in ``month`` among the hotlines of ``countries`` (``None``: all)."""
        if countries is None:
            return self.reporters.get((table, month), [])
        if len(countries) == 1:
            (country,) = countries
            return self._by_country.get((table, month, country), [])
        return [r for r in self.reporters.get((table, month), []) if r.country in countries]

    def summed(self, table: str, months: Iterable[str], countries: frozenset[str] | None) -> list[int] | None:
        """The table's cells summed over ``months`` and the countries in scope; ``None`` if nobody released it."""
        total: list[int] | None = None
        wanted = [*self.countries, ROUND_WIDE] if countries is None else sorted(countries)
        for month in months:
            for where in wanted:
                values = self.sums.get((table, month, where))
                if values is not None:
                    total = list(values) if total is None else list(map(operator.add, total, values))
        return total

    def observed_sum(
        self, table: str, taxonomy: str, months: Iterable[str], countries: frozenset[str] | None
    ) -> list[int] | None:
        """The cells of ``table`` released under ``taxonomy``, summed over ``months`` and the countries in scope;
        ``None`` if no such hotline released it."""
        total: list[int] | None = None
        wanted = [*self.countries, ROUND_WIDE] if countries is None else sorted(countries)
        for month in months:
            for where in wanted:
                values = self.observed.get((table, taxonomy, month, where))
                if values is not None:
                    total = list(values) if total is None else list(map(operator.add, total, values))
        return total


def _accumulate(into: dict[Key, list[int]], key: Key, values: Sequence[int]) -> None:
    """Add ``values`` cell by cell to ``into[key]`` (starting it from them)."""
    found = into.get(key)
    into[key] = list(values) if found is None else list(map(operator.add, found, values))


def group_cells(table: Table, dims: Sequence[str], cells: Sequence[int]) -> dict[tuple[str, ...], int]:
    """Sums of ``cells`` (one table's dense vector) per combination of the codes of ``dims``, keyed by codes in
    ``dims`` order (every combination, zeros included)."""
    if not dims:
        return {(): sum(cells)}
    positions = [table.dimension_names.index(d) for d in dims]
    shape = table.shape
    if len(positions) == 1:
        (d,) = positions
        stride, size = math.prod(shape[d + 1 :]), shape[d]
        outer, block = math.prod(shape[:d]), size * stride
        codes = table.dimensions[d].code_names
        if stride == 1:
            return {(codes[j],): sum(cells[j::size]) for j in range(size)}
        return {
            (codes[j],): sum(sum(cells[b * block + j * stride : b * block + (j + 1) * stride]) for b in range(outer))
            for j in range(size)
        }
    if positions == list(range(len(positions))):  # leading dimensions: each combination is one contiguous run
        inner = math.prod(shape[len(positions) :])
        combos = _combinations(table, positions)
        return {combo: sum(cells[i * inner : (i + 1) * inner]) for i, combo in enumerate(combos)}
    totals: dict[tuple[str, ...], int] = dict.fromkeys(_combinations(table, positions), 0)
    for index, value in enumerate(cells):
        if value:
            codes = table.cell_codes(index)
            combo = tuple(codes[p] for p in positions)
            totals[combo] += value
    return totals


def _combinations(table: Table, positions: Sequence[int]) -> list[tuple[str, ...]]:
    """Every combination of the codes at ``positions``, row-major in that order."""
    combos: list[tuple[str, ...]] = [()]
    for p in positions:
        combos = [(*combo, code) for combo in combos for code in table.dimensions[p].code_names]
    return combos
